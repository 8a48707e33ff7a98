"""
Partition functions and arc marginals of dependency-tree CRFs, in pure PyTorch.

Two distributions over the trees of a sentence are supported, both defined by
arc scores in the layout of AllenNLP's biaffine parser (``attended_arcs``):

* :func:`matrix_tree` -- all (non-projective) trees, through the Matrix-Tree
  theorem (Koo et al., 2007; Smith & Smith, 2007; McDonald & Satta, 2007);
* :func:`eisner` -- projective trees only, through the inside pass of
  Eisner's (1996) cubic-time algorithm, vectorised over the spans of one width
  in the way SuPar (Zhang et al., 2020) and pytorch-struct (Rush, 2020) do it.

Both return ``(log_z, marginals)`` where ``log_z[b]`` is the log-partition
function of sentence ``b`` and ``marginals[b, d, h]`` the probability that
word ``d`` is attached to head ``h``.  ``log_z`` is differentiable with
respect to the scores (its gradient is exactly the marginals), so it can be
trained by back-propagation (e.g. a student's ``log Z`` in a distillation
loss), while the marginals themselves are constants (no gradient flows
through them).  Both functions work inside ``torch.no_grad()``.

Only ``torch`` is imported: the module does not depend on AllenNLP.
"""
from typing import Optional, Tuple

import torch
from torch.autograd.function import once_differentiable

__all__ = ["matrix_tree", "eisner", "NEG"]

# A large but finite "log zero".  Masked scores are replaced by it (instead of
# ``-inf``) so that no ``inf - inf`` can ever appear, not even in gradients;
# sums of a few hundred of them stay far from overflow in float32.
NEG = -1e30


# --------------------------------------------------------------------------- #
# Shared helpers
# --------------------------------------------------------------------------- #
def _prepare(
    scores: torch.Tensor, mask: Optional[torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checks shapes; returns ``(words [B, L], arc_valid [B, L, L], lengths [B])``.

    ``words`` (bool) is the mask without ROOT, ``lengths`` the number of words, and
    ``arc_valid[b, d, h]`` is true iff ``d`` is a real word (``d >= 1``), ``h``
    is ROOT or a real word, and ``d != h``.
    """
    if scores.dim() != 3 or scores.size(1) != scores.size(2):
        raise ValueError(f"scores must have shape [B, N+1, N+1], got {tuple(scores.shape)}")
    batch_size, length, _ = scores.shape
    if mask is None:
        mask = torch.ones(batch_size, length, dtype=torch.bool, device=scores.device)
    else:
        if mask.shape != (batch_size, length):
            raise ValueError(
                f"mask must have shape {(batch_size, length)}, got {tuple(mask.shape)}"
            )
        mask = mask.to(device=scores.device).bool()
    # ROOT (position 0) can always be a head; it is never a dependent.
    words = mask.clone()
    words[:, 0] = False
    heads = mask.clone()
    heads[:, 0] = True
    not_diagonal = ~torch.eye(length, dtype=torch.bool, device=scores.device)
    arc_valid = words.unsqueeze(2) & heads.unsqueeze(1) & not_diagonal
    lengths = words.sum(1)
    return words, arc_valid, lengths


def _masked_max(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Max of ``x`` over the valid entries of its last dimension; 0 where nothing is valid."""
    if x.size(-1) == 0:
        return x.new_zeros(x.shape[:-1])
    out = x.masked_fill(~valid, torch.finfo(x.dtype).min).amax(-1)
    return torch.where(valid.any(-1), out, torch.zeros_like(out))


# --------------------------------------------------------------------------- #
# Matrix-Tree theorem (non-projective)
# --------------------------------------------------------------------------- #
def _matrix_tree_direct(
    scores: torch.Tensor,
    words: torch.Tensor,
    arc_valid: torch.Tensor,
    lengths: torch.Tensor,
    multiroot: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast path: determinant and inverse of the (shifted, exponentiated) Laplacian.

    Works in float64 without autograd.  Every word has exactly one head, so the
    scores of the arcs entering a word can be shifted by a constant (their max)
    without changing the distribution; in the single-root case the root arcs
    can additionally be shifted together (a tree has exactly one).  The shifts
    are added back to ``log_z``.

    Returns ``(log_z [B], marginals [B, L, L], ok [B])`` where ``ok`` flags the
    sentences whose result passed the sanity checks (finite, marginals in
    [0, 1], rows summing to one).  The others suffer from cancellation in the
    Laplacian (very peaked scores) and must be recomputed by
    :func:`_matrix_tree_logspace`.
    """
    s = scores.double()
    batch_size, length, _ = s.shape
    n = length - 1
    word_mask = words[:, 1:]  # [B, n]
    valid = arc_valid[:, 1:, :]  # [B, n(dep), L(head: ROOT, words)]

    # log_e[b, d, h]: shifted log weight of the arc h -> d (h = 0 is ROOT).
    log_e = s[:, 1:, :]
    if multiroot:
        shift = _masked_max(log_e, valid)  # [B, n]
        log_e = log_e - shift.unsqueeze(-1)
        total_shift = shift.sum(-1)
    else:
        shift = _masked_max(log_e[:, :, 1:], valid[:, :, 1:])
        log_e = log_e - shift.unsqueeze(-1)
        root_shift = _masked_max(log_e[:, :, 0], word_mask)
        log_e[:, :, 0] -= root_shift.unsqueeze(-1)
        total_shift = shift.sum(-1) + root_shift

    # Weights, 0 for the invalid arcs.  The invalid entries are set to 0 before
    # exp() and to 0 again after: on CPU, exp() is several times slower on
    # arguments whose result underflows (such as ``NEG``) or that are not finite.
    invalid = ~valid
    e = log_e.masked_fill_(invalid, 0.0).exp_().masked_fill_(invalid, 0.0)
    r = e[:, :, 0]  # [B, n]: ROOT -> d
    w = e[:, :, 1:]  # [B, n(dep), n(head)]: arcs between words (0-based word indices)

    # ``lap_t`` is the transpose of the Laplacian of Koo et al. (2007) (their
    # rows are heads, ours are dependents); padding words get an identity
    # row so that they do not change the determinant.
    incoming = w.sum(-1)
    if multiroot:
        incoming = incoming + r
    lap_t = w.neg()
    lap_t.diagonal(dim1=-2, dim2=-1).add_(incoming).add_((~word_mask).to(s.dtype))
    if not multiroot and n > 0:
        # Single root: the first head row of the Laplacian (first column here)
        # is replaced by the root weights; its determinant then sums over the
        # trees in which exactly one word is attached to ROOT.
        lap_t[:, :, 0] = torch.where((lengths > 0).unsqueeze(-1), r, lap_t[:, :, 0])

    sign, logabsdet = torch.linalg.slogdet(lap_t)
    positive = sign > 0
    inv, info = torch.linalg.inv_ex(lap_t)

    # With L the Laplacian (heads x dependents), L^-1 = inv^T, and
    #   d log det L / d L[i, j] = L^-1[j, i] = inv[i, j],
    # so the marginals are ``e * factor`` with, for the arc h -> d:
    #   multi-root: factor[d, ROOT] = inv[d, d], factor[d, h] = inv[d, d] - inv[h, d];
    #   single root (the first word's column holds the root weights):
    #   factor[d, ROOT] = inv[0, d],
    #   factor[d, h] = inv[d, d] [d != first] - inv[h, d] [h != first].
    diag = inv.diagonal(dim1=-2, dim2=-1)  # [B, n]
    inv_t = inv.transpose(-1, -2)  # inv_t[b, d, h] = inv[b, h, d]
    factor = torch.empty_like(e)
    factor_w = factor[:, :, 1:]
    torch.sub(diag.unsqueeze(-1), inv_t, out=factor_w)
    if multiroot:
        factor[:, :, 0] = diag
    elif n > 0:
        factor[:, :, 0] = inv[:, 0, :]
        factor_w[:, :, 0] = diag
        factor_w[:, 0, :] = inv_t[:, 0, :].neg()
        factor_w[:, 0, 0] = 0.0
    # Row 0 (ROOT as a dependent) stays 0; ``e`` is 0 on every invalid arc.
    marginals = s.new_zeros(batch_size, length, length)
    torch.mul(e, factor, out=marginals[:, 1:, :])

    log_z = logabsdet + total_shift

    tol = 1e-6
    flat = marginals.flatten(1)
    ok = (info == 0) & positive & torch.isfinite(log_z)
    # In [-tol, 1 + tol], hence finite (amin / amax propagate NaN, which fails both tests).
    ok &= (flat.amin(-1) >= -tol) & (flat.amax(-1) <= 1 + tol)
    ok &= ((marginals.sum(-1) - words.to(s.dtype)).abs() <= tol).all(-1)
    return log_z, marginals, ok


def _matrix_tree_logspace(
    scores: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor, multiroot: bool
) -> torch.Tensor:
    """Robust path: log-determinant by Gaussian elimination carried out in log-space.

    The multi-root Laplacian is a column diagonally dominant M-matrix: its
    off-diagonal entries are ``-w`` and each column sums to the root weight
    (its "excess").  Eliminating one word keeps that structure (the Schur
    complement is the Laplacian of the graph where the word is contracted):

        p_k   = r_k + sum_i w[i -> k]                  (pivot)
        w'[i -> j] = w[i -> j] + w[i -> k] w[k -> j] / p_k
        r'_j  = r_j + r_k w[k -> j] / p_k

    and ``log det = sum_k log p_k``.  Every quantity is a sum of products of
    positive numbers, so the recursion runs in log-space with ``logaddexp``
    and ``logsumexp`` only, free of cancellation and of over/underflow (this is
    the idea of the GTH algorithm for Markov chains).

    Single root: multiplying every root weight by ``t`` makes ``det`` a
    polynomial in ``t`` whose linear coefficient is the single-root partition
    function.  To first order in ``t`` the pivots lose their root part, the
    root weights are propagated as above, and the last pivot is ``t * r'``, so
    ``log Z = sum_{k < last} log p_k + log r'_last`` with ``p_k`` computed
    without the root weights.

    Words are eliminated from the last one down to the second one (word 1 is
    always present in a non-empty, left-aligned sentence).  Differentiable
    with autograd (this is how its marginals are obtained).

    ``scores``: float [B, L, L] in the usual ``[dep, head]`` layout; returns
    ``log_z`` [B].
    """
    batch_size, length, _ = scores.shape
    n = length - 1
    s = scores.transpose(1, 2)  # [B, head, dep]
    idx = torch.arange(n, device=s.device)
    word_mask = words[:, 1:]
    not_diagonal = idx.unsqueeze(0) != idx.unsqueeze(1)
    valid_w = word_mask.unsqueeze(1) & word_mask.unsqueeze(2) & not_diagonal
    neg = s.new_full((), NEG)
    # log_w[b, h, d]: log weight of the arc h -> d between words.
    log_w = torch.where(valid_w, s[:, 1:, 1:], neg)
    log_r = torch.where(word_mask, s[:, 0, 1:], neg)
    log_z = s.new_zeros(batch_size)
    for k in range(n - 1, 0, -1):
        col = log_w[:, :k, k]  # arcs i -> k from the remaining words
        if multiroot:
            col = torch.cat([col, log_r[:, k : k + 1]], -1)
        log_p = col.logsumexp(-1)  # [B]
        log_z = log_z + torch.where(k < lengths, log_p, torch.zeros_like(log_p))
        # Padding words (k >= length) have only ``NEG`` weights: their updates
        # below are exactly absorbed by ``logaddexp``.
        row = log_w[:, k, :k] - log_p.unsqueeze(-1)  # arcs k -> j, divided by p_k
        log_r = torch.logaddexp(log_r[:, :k], log_r[:, k : k + 1] + row)
        log_w = torch.logaddexp(log_w[:, :k, :k], log_w[:, :k, k : k + 1] + row.unsqueeze(1))
    if n > 0:
        last = log_r[:, 0]
        log_z = log_z + torch.where(lengths > 0, last, torch.zeros_like(last))
    return log_z


def _matrix_tree_forward(
    scores: torch.Tensor, mask: Optional[torch.Tensor], multiroot: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    words, arc_valid, lengths = _prepare(scores, mask)
    log_z, marginals, ok = _matrix_tree_direct(scores, words, arc_valid, lengths, multiroot)
    if not bool(ok.all()):
        bad = (~ok).nonzero().squeeze(-1)
        max_len = int(lengths[bad].max()) + 1
        with torch.enable_grad():
            s = scores[bad, :max_len, :max_len].detach().double().requires_grad_(True)
            sub_log_z = _matrix_tree_logspace(s, words[bad, :max_len], lengths[bad], multiroot)
            (sub_marg,) = torch.autograd.grad(sub_log_z.sum(), s)
        sub_marg = sub_marg * arc_valid[bad, :max_len, :max_len]
        log_z = log_z.index_copy(0, bad, sub_log_z.detach())
        padded = marginals.new_zeros(bad.numel(), marginals.size(1), marginals.size(2))
        padded[:, :max_len, :max_len] = sub_marg
        marginals = marginals.index_copy(0, bad, padded)
    # Round-off can leave values like -1e-16 (``marginals`` is a fresh tensor).
    return log_z, marginals.clamp_(min=0.0)


class _TreeLogPartition(torch.autograd.Function):
    """`(log_z, marginals)` from `algorithm(scores, mask, multiroot)` (no autograd graph kept);
    the gradient of log Z with respect to the arc scores is the marginals themselves, so the
    backward pass is one multiplication. Marginals are returned without a gradient."""

    @staticmethod
    def forward(ctx, scores, mask, multiroot, algorithm):  # type: ignore[override]
        log_z, marginals = algorithm(scores.detach(), mask, multiroot)
        log_z = log_z.to(scores.dtype)
        marginals = marginals.to(scores.dtype)
        ctx.mark_non_differentiable(marginals)
        ctx.save_for_backward(marginals)
        return log_z, marginals

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_log_z, grad_marginals):  # type: ignore[override]
        (marginals,) = ctx.saved_tensors
        return grad_log_z[:, None, None] * marginals, None, None, None


def matrix_tree(
    scores: torch.Tensor, mask: Optional[torch.Tensor], multiroot: bool = False
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Log-partition function and arc marginals over non-projective dependency trees.

    Uses the Matrix-Tree theorem (Kirchhoff; for parsing Koo et al., 2007,
    "Structured Prediction Models via the Matrix-Tree Theorem"): the partition
    function is the determinant of the Laplacian of the exponentiated arc
    scores, and the marginals follow from its inverse.

    Parameters
    ----------
    scores : ``torch.Tensor``, float, shape ``[B, N+1, N+1]``
        ``scores[b, d, h]`` is the score of the arc from head ``h`` to
        dependent ``d``; index 0 is ROOT (the layout of ``attended_arcs`` in
        AllenNLP's biaffine parser).  A tree's score is the sum of its arc
        scores and its probability is proportional to ``exp(score)``.  Row 0,
        the diagonal and the entries of padding positions are ignored.
    mask : ``torch.Tensor``, shape ``[B, N+1]`` (bool, or any integer type)
        True for ROOT (position 0) and the real words, left-aligned.  ``None``
        means that every position is a word.
    multiroot : ``bool``, optional (default = ``False``)
        If ``False`` exactly one word is attached to ROOT (UD / PTB trees): the
        first row of the Laplacian is replaced by the root scores (Koo et al.,
        2007, section 3.3).  If ``True`` any number of words may be.

    Returns
    -------
    log_z : ``torch.Tensor``, shape ``[B]``, dtype of ``scores``
        Log-partition function; 0 for a sentence without words.
        Differentiable w.r.t. ``scores`` (gradient = ``marginals``).
    marginals : ``torch.Tensor``, shape ``[B, N+1, N+1]``, dtype of ``scores``
        ``marginals[b, d, h] = P(head(d) = h)``; each real word's row sums to
        one, row 0, the diagonal and padding rows / columns are exactly zero.
        Not differentiable.

    Notes
    -----
    Internally float64.  The scores entering each word are shifted by their
    maximum before exponentiation (and, for a single root, the root scores by
    theirs), which leaves the distribution unchanged.  For sentences whose
    scores are so peaked that the determinant suffers from cancellation (this
    is detected on the result: rows not summing to one, etc.), the
    log-determinant is recomputed by a Gaussian elimination carried out in
    log-space, which has no cancellation and is accurate at any scale, and the
    marginals by differentiating it (slower: one Python step per word).
    Works under ``torch.no_grad()``.  The gradient of ``log_z`` is first-order
    only (no double backward).
    """
    return _TreeLogPartition.apply(scores, mask, multiroot, _matrix_tree_forward)


# --------------------------------------------------------------------------- #
# Eisner (projective)
# --------------------------------------------------------------------------- #
def _eisner_inside(scores: torch.Tensor, lengths: torch.Tensor, multiroot: bool) -> torch.Tensor:
    """Inside pass of Eisner's algorithm in log-space; returns ``log_z`` [B].

    ``scores``: [B, L, L], ``scores[b, d, h]`` the (masked, finite) score of
    ``h -> d``.  Spans are kept in charts of shape ``[width, L - width, B]``
    that grow by one width per iteration, indexed either by the start or by
    the end of the span (for spans of width ``k`` among those of the current
    width ``w``, row ``k`` of a start-indexed chart is ``[start 0 .. L-w-1]``
    and of an end-indexed chart ``[end w .. L-1]``; end-indexed charts are
    stored with decreasing width).  With both indexings, the split points of
    all the spans of one width line up as a plain slice (the "stripes" of
    SuPar / pytorch-struct, without ``as_strided`` and its costly backward),
    so the only loop is over span widths.

    Spans: ``incomplete(h -> d)`` covers h..d and has the arc h -> d;
    ``complete(h -> e)`` covers h..e and is headed by h; "right" spans have
    their head on the left.
    """
    batch_size, length, _ = scores.shape
    pos = torch.arange(length, device=scores.device)
    start = pos.unsqueeze(0).expand(length, length)  # [width, start]
    end = (start + pos.unsqueeze(1)).clamp(max=length - 1)
    # right_arc[w][i] = score(i -> i + w), left_arc[w][i] = score(i + w -> i)
    right_arc = scores[:, end, start].permute(1, 2, 0).unbind(0)
    left_arc = scores[:, start, end].permute(1, 2, 0).unbind(0)

    zeros = scores.new_zeros(1, length, batch_size)  # complete spans of width 0
    empty = scores.new_zeros(0, length, batch_size)
    c_right_by_start, c_right_by_end, c_left_by_start, c_left_by_end = zeros, zeros, zeros, zeros
    i_right_by_start, i_left_by_end = empty, empty
    neg = scores.new_full((1, batch_size), NEG)
    root_spans = [scores.new_zeros(batch_size)]  # complete(ROOT -> w) for each width w
    for w in range(1, length):
        n = length - w
        # incomplete spans over (i, j = i + w):
        #   sum_r complete(i -> r) + complete(j -> r + 1), i <= r < j
        split = (c_right_by_start[:, :n] + c_left_by_end[:, 1:]).logsumexp(0)  # [n, B]
        i_right = (split + right_arc[w][:n]).unsqueeze(0)
        i_left = (split + left_arc[w][:n]).unsqueeze(0)
        i_right_by_start = torch.cat([i_right_by_start[:, :n], i_right])
        i_left_by_end = torch.cat([i_left, i_left_by_end[:, 1:]])
        # complete(j -> i) = sum_r complete(r -> i) + incomplete(j -> r), i <= r < j
        c_left = (c_left_by_start[:, :n] + i_left_by_end).logsumexp(0).unsqueeze(0)
        # complete(i -> j) = sum_r incomplete(i -> r) + complete(r -> j), i < r <= j
        c_right = (i_right_by_start + c_right_by_end[:, 1:]).logsumexp(0)
        root_spans.append(c_right[0])
        if not multiroot:
            # ROOT's complete span is only read off for the whole sentence,
            # never extended: every ``incomplete(ROOT -> r)`` is then
            # ``complete(ROOT -> ROOT) + complete(r -> 1) + score(ROOT -> r)``,
            # and ROOT gets exactly one dependent.
            c_right = torch.cat([neg, c_right[1:]])
        c_right = c_right.unsqueeze(0)
        c_left_by_start = torch.cat([c_left_by_start[:, :n], c_left])
        c_left_by_end = torch.cat([c_left, c_left_by_end[:, 1:]])
        c_right_by_start = torch.cat([c_right_by_start[:, :n], c_right])
        c_right_by_end = torch.cat([c_right, c_right_by_end[:, 1:]])
    return torch.stack(root_spans).gather(0, lengths.unsqueeze(0)).squeeze(0)


def _eisner_forward(
    scores: torch.Tensor, mask: Optional[torch.Tensor], multiroot: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    words, arc_valid, lengths = _prepare(scores, mask)
    dtype = scores.dtype if scores.dtype in (torch.float32, torch.float64) else torch.float32
    s = scores.detach().to(dtype)
    # Exactly one head per word, and (single root) exactly one root arc per
    # tree: shifting by these maxima keeps the chart values small, which
    # preserves precision in float32.
    shift = _masked_max(s, arc_valid)  # [B, L]
    shifted = s - shift.unsqueeze(-1)
    total_shift = shift.sum(-1)
    if not multiroot:
        root_shift = _masked_max(shifted[:, :, 0], words)
        root_scores = shifted[:, :, :1] - root_shift[:, None, None]
        shifted = torch.cat([root_scores, shifted[:, :, 1:]], -1)
        total_shift = total_shift + root_shift
    with torch.enable_grad():
        leaf = shifted.detach().requires_grad_(True)
        masked = torch.where(arc_valid, leaf, leaf.new_full((), NEG))
        log_z = _eisner_inside(masked, lengths, multiroot)
        if log_z.requires_grad:
            (marginals,) = torch.autograd.grad(log_z.sum(), leaf)
        else:  # only ROOT: no arc at all
            marginals = torch.zeros_like(leaf)
    marginals = marginals * arc_valid
    return log_z.detach() + total_shift, marginals


def eisner(
    scores: torch.Tensor, mask: Optional[torch.Tensor], multiroot: bool = False
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Log-partition function and arc marginals over projective dependency trees.

    Inside pass of Eisner's (1996) O(n^3) algorithm ("Three New Probabilistic
    Models for Dependency Parsing") in log-space, over charts of incomplete
    and complete spans.  As in SuPar and pytorch-struct, all spans of a given
    width are computed at once (the "stripe" trick; here the charts are
    indexed by span width and start / end so that stripes are plain slices),
    so the only Python loop is over span widths, and the whole batch is
    processed together.  The marginals are the gradient of ``log_z``
    (obtained with autograd inside the function).

    Parameters
    ----------
    scores : ``torch.Tensor``, float, shape ``[B, N+1, N+1]``
        ``scores[b, d, h]`` is the score of the arc from head ``h`` to
        dependent ``d``; index 0 is ROOT (AllenNLP's ``attended_arcs``
        layout).  Projectivity is with respect to the order ROOT, w1 .. wn.
    mask : ``torch.Tensor``, shape ``[B, N+1]`` (bool, or any integer type)
        True for ROOT and the real words, which must be left-aligned.
        ``None`` means that every position is a word.
    multiroot : ``bool``, optional (default = ``False``)
        If ``False`` ROOT takes exactly one dependent: ROOT's complete span is
        only allowed to cover the whole sentence, so it is built once as
        ``incomplete(ROOT -> r) + complete(r -> n)``.  If ``True`` ROOT may
        take several dependents.

    Returns
    -------
    log_z : ``torch.Tensor``, shape ``[B]``, dtype of ``scores``
        Log-partition function; 0 for a sentence without words.
        Differentiable w.r.t. ``scores`` (gradient = ``marginals``).
    marginals : ``torch.Tensor``, shape ``[B, N+1, N+1]``, dtype of ``scores``
        ``marginals[b, d, h] = P(head(d) = h)``; each real word's row sums to
        one, row 0, the diagonal and padding rows / columns are exactly zero.
        Not differentiable.

    Notes
    -----
    Runs in the dtype of ``scores`` (float32 for half precision).  Masked
    scores are replaced by a large finite negative number, never ``-inf``,
    and the scores entering each word (and, for a single root, the root
    scores) are shifted by their maximum, which leaves the distribution
    unchanged but keeps chart values small.  Works under ``torch.no_grad()``.
    The gradient of ``log_z`` is first-order only (no double backward).
    """
    return _TreeLogPartition.apply(scores, mask, multiroot, _eisner_forward)
