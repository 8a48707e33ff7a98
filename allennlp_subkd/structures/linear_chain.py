"""
Exact inference for linear-chain CRFs, as small pure tensor functions.

Batched, log-space implementations of the forward algorithm (partition
function), forward--backward (unary and pairwise marginals), sequence scoring
and k-best Viterbi decoding, in the spirit of pytorch-struct / SuPar.  The
module depends on ``torch`` only.

Parametrisation (the one of AllenNLP's ``ConditionalRandomField``):

* ``emissions[b, t, y]``: float ``[B, T, C]``, score of label ``y`` at token ``t``;
* ``transitions[i, j]``: float ``[C, C]``, score of label ``i`` followed by ``j``;
* ``start_transitions[y]`` / ``end_transitions[y]``: optional float ``[C]``,
  score of a sentence starting / ending with ``y`` (``None`` means zeros);
* ``mask[b, t]``: ``[B, T]`` (bool, or any integer dtype, converted with
  ``.bool()``), **left-aligned**: the ``n_b`` valid tokens of sentence ``b``
  come first, padding after.

The score of a label sequence ``y_1 .. y_n`` over the valid tokens is::

    start[y_1] + sum_t emissions[t, y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_n]

Values of ``emissions`` at padding positions are ignored (they may even be
``inf``/``NaN``) and receive zero gradient.  A sentence with no valid token
(all-False mask row) has exactly one (empty) labelling, of score 0: its
``log_z`` is 0 and its marginals are all zero.

Every function is differentiable by autograd.  The marginals are computed by an
explicit forward--backward recursion (no autograd needed, so they can be
computed under ``torch.no_grad()``), and the graph built by that computation is
itself differentiable, so gradients can flow through the marginals too.
"""
from typing import Optional, Tuple

import torch

__all__ = [
    "log_partition",
    "marginals",
    "sequence_score",
    "kbest_viterbi",
    "viterbi",
]


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _neg(dtype: torch.dtype) -> float:
    """A large *finite* negative number: exp() of it (plus any realistic
    score) is exactly 0, yet it never produces ``inf - inf`` / NaN gradients."""
    return torch.finfo(dtype).min / 4


def _prepare(
    emissions: torch.Tensor,
    mask: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Bool mask and emissions with padding positions replaced by 0."""
    mask = mask.bool()
    emissions = torch.where(mask.unsqueeze(-1), emissions, emissions.new_zeros(()))
    return emissions, mask


def _chain_potentials(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """``M[b, t-1, i, j] = transitions[i, j] + emissions[b, t, j]`` for valid ``t``,
    and the log-semiring identity (0 on the diagonal, a large finite negative
    elsewhere) at padding positions, so that the forward / backward messages are
    simply carried through padding without any masking inside the time loop.
    Shape ``[B, T-1, C, C]``."""
    num_tags = emissions.size(-1)
    pot = emissions[:, 1:].unsqueeze(2) + transitions  # [B, T-1, C, C]
    eye = torch.eye(num_tags, dtype=torch.bool, device=emissions.device)
    identity = torch.full(
        (num_tags, num_tags), _neg(emissions.dtype), dtype=emissions.dtype, device=emissions.device
    ).masked_fill(eye, 0.0)
    return torch.where(mask[:, 1:, None, None], pot, identity)


def _forward(
    emissions: torch.Tensor,
    pot: torch.Tensor,
    start_transitions: Optional[torch.Tensor],
    keep_all: bool,
):
    """Forward recursion ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + pot[t-1, i, j])``.

    Returns the last alpha ``[B, C]`` (carried through padding by the identity
    potentials, so it is the alpha of the last valid token).

    If ``keep_all``, each alpha is also shifted by its (detached) max over labels
    so that it stays O(one step of scores) instead of growing with ``t``: this
    keeps the *differences* between labels accurate in float32, which is what
    the marginals depend on.  The returned last alpha has the shifts added back,
    and the list of the ``T`` shifted alphas is returned too.  (The shifts are
    detached: every quantity computed from them is invariant to them, so the
    gradients are unchanged.)"""
    alpha = emissions[:, 0]
    if start_transitions is not None:
        alpha = alpha + start_transitions
    if not keep_all:
        for t in range(pot.size(1)):
            alpha = torch.logsumexp(alpha.unsqueeze(-1) + pot[:, t], dim=1)
        return alpha, None
    total = alpha.detach().amax(-1, keepdim=True)
    alpha = alpha - total
    alphas = [alpha]
    for t in range(pot.size(1)):
        alpha = torch.logsumexp(alpha.unsqueeze(-1) + pot[:, t], dim=1)
        shift = alpha.detach().amax(-1, keepdim=True)
        alpha = alpha - shift
        total = total + shift
        alphas.append(alpha)
    return alpha + total, alphas


def _finish_log_z(
    alpha: torch.Tensor,
    end_transitions: Optional[torch.Tensor],
    mask: torch.Tensor,
) -> torch.Tensor:
    if end_transitions is not None:
        alpha = alpha + end_transitions
    log_z = torch.logsumexp(alpha, dim=-1)
    # Empty sentences: log_z = 0 (their value above is finite, so no NaN grads).
    return torch.where(mask[:, 0], log_z, log_z.new_zeros(()))


# --------------------------------------------------------------------------- #
# partition function and marginals
# --------------------------------------------------------------------------- #
def log_partition(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    mask: torch.Tensor,
    start_transitions: Optional[torch.Tensor] = None,
    end_transitions: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """
    Log partition function ``log Z = logsumexp_y Score(y)`` by the forward algorithm.

    # Parameters

    emissions : `torch.Tensor`, float, shape ``[B, T, C]``
        Unary scores; ignored at padding positions.
    transitions : `torch.Tensor`, float, shape ``[C, C]``
        ``transitions[i, j]`` scores label ``i`` followed by label ``j``.
    mask : `torch.Tensor`, shape ``[B, T]``, bool (or integer, converted with ``.bool()``)
        Left-aligned mask of valid tokens.
    start_transitions : `torch.Tensor`, optional, float, shape ``[C]``
        Score of the first label of a sentence (``None``: zeros).
    end_transitions : `torch.Tensor`, optional, float, shape ``[C]``
        Score of the last label of a sentence (``None``: zeros).

    # Returns

    log_z : `torch.Tensor`, float, shape ``[B]``
        0 for sentences whose mask row is all False.
    """
    batch_size, seq_len, _ = emissions.shape
    if seq_len == 0:
        return emissions.new_zeros(batch_size)
    emissions, mask = _prepare(emissions, mask)
    pot = _chain_potentials(emissions, transitions, mask)
    alpha, _ = _forward(emissions, pot, start_transitions, keep_all=False)
    return _finish_log_z(alpha, end_transitions, mask)


def marginals(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    mask: torch.Tensor,
    start_transitions: Optional[torch.Tensor] = None,
    end_transitions: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Log partition function and unary / pairwise posterior marginals, by an
    explicit log-space forward--backward recursion (works under
    ``torch.no_grad()``; when gradients are enabled all three outputs are
    differentiable w.r.t. every score tensor).

    # Parameters

    emissions : `torch.Tensor`, float, shape ``[B, T, C]``
        Unary scores; ignored at padding positions.
    transitions : `torch.Tensor`, float, shape ``[C, C]``
        ``transitions[i, j]`` scores label ``i`` followed by label ``j``.
    mask : `torch.Tensor`, shape ``[B, T]``, bool (or integer, converted with ``.bool()``)
        Left-aligned mask of valid tokens.
    start_transitions : `torch.Tensor`, optional, float, shape ``[C]``
        Score of the first label of a sentence (``None``: zeros).
    end_transitions : `torch.Tensor`, optional, float, shape ``[C]``
        Score of the last label of a sentence (``None``: zeros).

    # Returns

    log_z : `torch.Tensor`, float, shape ``[B]``
        Log partition function (0 for an empty sentence).
    unary : `torch.Tensor`, float, shape ``[B, T, C]``
        ``unary[b, t, y] = P(y_t = y)``; rows sum to 1 at valid positions and
        are all zero at padding.
    pairwise : `torch.Tensor`, float, shape ``[B, T-1, C, C]``
        ``pairwise[b, t-1, i, j] = P(y_{t-1} = i, y_t = j)`` where tokens
        ``t-1`` and ``t`` are both valid, zero elsewhere.  Shape
        ``[B, 0, C, C]`` when ``T <= 1``.

    Each marginal is normalised per position (softmax of ``alpha_t + beta_t``
    over labels: its normaliser equals ``log_z`` mathematically), so that rows
    sum to 1 even in float32 with very large scores.
    """
    batch_size, seq_len, num_tags = emissions.shape
    if seq_len == 0:
        return (
            emissions.new_zeros(batch_size),
            emissions.new_zeros(batch_size, 0, num_tags),
            emissions.new_zeros(batch_size, 0, num_tags, num_tags),
        )
    emissions, mask = _prepare(emissions, mask)
    pot = _chain_potentials(emissions, transitions, mask)  # [B, T-1, C, C]

    # Forward: alpha[b, t, y] = log sum of scores of prefixes ending in y at t
    # (up to a per-(b, t) constant, which the per-position softmax below ignores).
    alpha_last, alphas = _forward(emissions, pot, start_transitions, keep_all=True)
    log_z = _finish_log_z(alpha_last, end_transitions, mask)
    alpha = torch.stack(alphas, dim=1)  # [B, T, C]

    # Backward: beta[b, t, y] = log sum of scores of suffixes after y at t
    # (end_transitions included; up to a per-(b, t) constant); carried backwards
    # through padding by `pot`.
    if end_transitions is None:
        beta = emissions.new_zeros(batch_size, num_tags)
    else:
        beta = end_transitions.expand(batch_size, num_tags)
    betas = [beta]
    for t in range(seq_len - 2, -1, -1):
        # beta_t[i] = logsumexp_j(trans[i, j] + em_{t+1}[j] + beta_{t+1}[j])
        beta = torch.logsumexp(pot[:, t] + beta.unsqueeze(1), dim=2)
        beta = beta - beta.detach().amax(-1, keepdim=True)  # see _forward
        betas.append(beta)
    betas.reverse()
    beta = torch.stack(betas, dim=1)  # [B, T, C]

    neg = _neg(emissions.dtype)

    # log_softmax (max-shift first) rather than ``x - logsumexp(x)``: in float32
    # with large scores, ``max + log(sum)`` would round the log(sum) away.
    log_unary = torch.log_softmax(alpha + beta, dim=-1)
    unary = torch.where(mask.unsqueeze(-1), log_unary, log_unary.new_full((), neg)).exp()

    log_pair = alpha[:, :-1, :, None] + pot + beta[:, 1:, None, :]  # [B, T-1, C, C]
    log_pair = torch.log_softmax(
        log_pair.reshape(batch_size, seq_len - 1, num_tags * num_tags), dim=-1
    ).view(batch_size, seq_len - 1, num_tags, num_tags)
    pairwise = torch.where(mask[:, 1:, None, None], log_pair, log_pair.new_full((), neg)).exp()

    return log_z, unary, pairwise


# --------------------------------------------------------------------------- #
# scoring and decoding
# --------------------------------------------------------------------------- #
def sequence_score(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    tags: torch.Tensor,
    mask: torch.Tensor,
    start_transitions: Optional[torch.Tensor] = None,
    end_transitions: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """
    Score of given label sequences (see the module docstring for the formula).

    # Parameters

    emissions : `torch.Tensor`, float, shape ``[B, T, C]``
    transitions : `torch.Tensor`, float, shape ``[C, C]``
    tags : `torch.Tensor`, long, shape ``[B, T]`` or ``[B, K, T]``
        Label sequences (``K`` of them per sentence in the 3-d form, e.g. k-best
        paths).  Values at padding positions are ignored (any value allowed).
    mask : `torch.Tensor`, shape ``[B, T]``, bool (or integer)
        Left-aligned mask of valid tokens, shared by the ``K`` sequences.
    start_transitions : `torch.Tensor`, optional, float, shape ``[C]``
    end_transitions : `torch.Tensor`, optional, float, shape ``[C]``

    # Returns

    score : `torch.Tensor`, float, shape ``[B]`` (or ``[B, K]`` for 3-d ``tags``).
        0 for empty sentences.
    """
    tags = tags.long()
    squeeze = tags.dim() == 2
    if squeeze:
        tags = tags.unsqueeze(1)
    batch_size, seq_len, num_tags = emissions.shape
    num_seqs = tags.size(1)
    if seq_len == 0:
        score = emissions.new_zeros(batch_size, num_seqs)
        return score.squeeze(1) if squeeze else score
    emissions, mask = _prepare(emissions, mask)
    mask_k = mask.unsqueeze(1)  # [B, 1, T]
    tags = torch.where(mask_k, tags, tags.new_zeros(()))

    zero = emissions.new_zeros(())
    emit = emissions.unsqueeze(1).expand(batch_size, num_seqs, seq_len, num_tags)
    emit = emit.gather(-1, tags.unsqueeze(-1)).squeeze(-1)  # [B, K, T]
    score = torch.where(mask_k, emit, zero).sum(-1)

    if seq_len > 1:
        trans = transitions[tags[..., :-1], tags[..., 1:]]  # [B, K, T-1]
        score = score + torch.where(mask_k[..., 1:], trans, zero).sum(-1)

    nonempty = mask[:, :1]  # [B, 1]
    if start_transitions is not None:
        score = score + torch.where(nonempty, start_transitions[tags[..., 0]], zero)
    if end_transitions is not None:
        last = (mask.long().sum(-1) - 1).clamp(min=0)  # [B]
        last_tags = tags.gather(-1, last.view(batch_size, 1, 1).expand(batch_size, num_seqs, 1))
        score = score + torch.where(nonempty, end_transitions[last_tags.squeeze(-1)], zero)
    return score.squeeze(1) if squeeze else score


def kbest_viterbi(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    mask: torch.Tensor,
    k: int,
    start_transitions: Optional[torch.Tensor] = None,
    end_transitions: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The ``k`` highest-scoring label sequences of each sentence (k-best Viterbi:
    for every (token, label) the top-``k`` partial scores are kept with a
    backpointer to (previous label, previous rank)).

    # Parameters

    emissions : `torch.Tensor`, float, shape ``[B, T, C]``
    transitions : `torch.Tensor`, float, shape ``[C, C]``
    mask : `torch.Tensor`, shape ``[B, T]``, bool (or integer)
        Left-aligned mask of valid tokens.
    k : `int` (>= 1)
        Number of sequences to return per sentence.
    start_transitions : `torch.Tensor`, optional, float, shape ``[C]``
    end_transitions : `torch.Tensor`, optional, float, shape ``[C]``

    # Returns

    paths : `torch.Tensor`, long, shape ``[B, k, T]``
        Label sequences sorted by descending score; 0 at padding positions.
    scores : `torch.Tensor`, float, shape ``[B, k]``
        Their scores (differentiable w.r.t. the inputs), descending.

    If a sentence has fewer than ``k`` distinct labellings (``C ** n < k`` for
    ``n`` valid tokens), the surplus entries have score ``-inf`` and an all-0
    path (so does any sequence whose score is ``-inf``, e.g. one forbidden by
    ``-inf`` transitions).  An empty sentence has one labelling (the empty one) of score 0:
    entry 0 has score 0, the others ``-inf``; all its paths are 0.  Ties are
    broken arbitrarily.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    batch_size, seq_len, num_tags = emissions.shape
    device = emissions.device
    if seq_len == 0:
        scores = emissions.new_full((batch_size, k), float("-inf"))
        scores[:, 0] = 0.0
        return torch.zeros(batch_size, k, 0, dtype=torch.long, device=device), scores
    emissions, mask = _prepare(emissions, mask)
    neg_inf = emissions.new_full((), float("-inf"))

    # score[b, j, r]: r-th best score of a prefix ending with label j at the current token.
    first = emissions[:, 0]
    if start_transitions is not None:
        first = first + start_transitions
    score = first.unsqueeze(-1)
    if k > 1:
        score = torch.cat([score, neg_inf.expand(batch_size, num_tags, k - 1)], dim=-1)

    pot = emissions[:, 1:].unsqueeze(2) + transitions  # [B, T-1, C(prev), C(next)]
    identity_bp = torch.arange(num_tags * k, device=device).view(1, num_tags, k)
    backpointers = []  # [B, C, k] flat indices prev_label * k + prev_rank
    for t in range(1, seq_len):
        cand = score.unsqueeze(-1) + pot[:, t - 1].unsqueeze(2)  # [B, C(prev), k, C(next)]
        cand = cand.reshape(batch_size, num_tags * k, num_tags)
        new_score, bp = cand.topk(k, dim=1)  # [B, k, C]
        valid = mask[:, t, None, None]
        score = torch.where(valid, new_score.transpose(1, 2), score)
        backpointers.append(torch.where(valid, bp.transpose(1, 2), identity_bp))

    final = score
    if end_transitions is not None:
        final = final + end_transitions.unsqueeze(-1)
    best_scores, cur = final.reshape(batch_size, num_tags * k).topk(k, dim=1)  # [B, k]

    path = [torch.div(cur, k, rounding_mode="floor")]
    for bp in reversed(backpointers):
        cur = bp.reshape(batch_size, num_tags * k).gather(1, cur)
        path.append(torch.div(cur, k, rounding_mode="floor"))
    path.reverse()
    paths = torch.stack(path, dim=-1)  # [B, k, T]

    nonempty = mask[:, :1]  # [B, 1]
    empty_scores = torch.zeros_like(best_scores)
    empty_scores[:, 1:] = float("-inf")
    best_scores = torch.where(nonempty, best_scores, empty_scores)
    keep = mask.unsqueeze(1) & torch.isfinite(best_scores).unsqueeze(-1)  # [B, k, T]
    paths = torch.where(keep, paths, paths.new_zeros(()))
    return paths, best_scores


def viterbi(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    mask: torch.Tensor,
    start_transitions: Optional[torch.Tensor] = None,
    end_transitions: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Best label sequence of each sentence (``kbest_viterbi`` with ``k = 1``).

    # Parameters

    emissions : `torch.Tensor`, float, shape ``[B, T, C]``
    transitions : `torch.Tensor`, float, shape ``[C, C]``
    mask : `torch.Tensor`, shape ``[B, T]``, bool (or integer); left-aligned.
    start_transitions : `torch.Tensor`, optional, float, shape ``[C]``
    end_transitions : `torch.Tensor`, optional, float, shape ``[C]``

    # Returns

    path : `torch.Tensor`, long, shape ``[B, T]``, 0 at padding positions.
    score : `torch.Tensor`, float, shape ``[B]`` (0 for an empty sentence).
    """
    paths, scores = kbest_viterbi(
        emissions, transitions, mask, 1, start_transitions, end_transitions
    )
    return paths[:, 0], scores[:, 0]
