"""
Exact inference for semi-Markov (segment) models over labelled, non-overlapping spans, as small
pure tensor functions (batched, log-space, depends on ``torch`` only).

A *segmentation* of a sentence of n tokens covers it, left to right, with segments that are
either a labelled span (tokens ``i .. i+k``, ``k < max_length``, label ``c``) or a single token
*outside* every span. Its score is the sum of its segments' scores, and

    P(S) = exp(score(S)) / Z,   Z = Σ over every segmentation S'

Parametrisation:

* ``spans[b, i, k, c]``: float ``[B, T, L, C]``, the score of the span of tokens ``i .. i+k``
  (length ``k + 1``, at most ``L``) with label ``c``. Spans that end at padding are ignored.
* ``outside[b, t]``: optional float ``[B, T]``, the score of token t being outside every span
  (``None``: zeros).
* ``mask[b, t]``: ``[B, T]`` (bool or integer), **left-aligned**. A sentence with no valid
  token has one (empty) segmentation: ``log_z = 0``, marginals zero.

**A span classifier's distribution over flat entity sets.** A span-based NER model in the style
of Yu, Bohnet & Poesio (2020) scores every span (i, j) of at most L tokens for every entity label
and for "no entity" (∅), and is trained with a softmax cross-entropy per span, i.e. as
independent distributions ``p(· | i, j)``. Conditioned on the entities forming a non-overlapping
set S, that product of span distributions is

    P(S | non-overlapping) ∝ Π_{(i,j,c) ∈ S} p(c | i, j) / p(∅ | i, j),

(the factors ``p(∅ | i, j)`` of every span outside S are absorbed into the constant), which is
this model with ``spans[i, j-i, c] = s(i, j, c) - s(i, j, ∅)`` (the logit log-odds) and
``outside = 0`` — exactly, with no approximation beyond restricting S to spans of at most L tokens.

**Tags.** A segmentation is also a tag sequence in the ``BIO`` (IOB2) or ``BIOUL`` encoding
(AllenNLP's names). `tag_names` gives the canonical order of the tags `tag_marginals` returns:
``"O"``, then for each label ``c``: ``B-c, I-c`` (BIO) or ``B-c, I-c, L-c, U-c`` (BIOUL).
Each segmentation maps to exactly one tag sequence and back, so the tag sequences' marginals
(per token, and per pair of adjacent tokens, what a linear-chain CRF factorises over) are exact.

Marginals are computed by an explicit forward–backward recursion over segment boundaries, so
they need no autograd (they equal the gradients of ``log_z``, which a test checks), in float64
whatever the input's dtype (sums of many scores of ±1e4 lose the marginals in float32) and
returned in the input's dtype.
"""
from typing import List, Optional, Sequence, Tuple

import torch

__all__ = [
    "ENCODINGS",
    "log_partition",
    "marginals",
    "tag_names",
    "tag_marginals",
    "viterbi",
    "segments_to_tags",
]

#: the tag encodings `tag_marginals` can produce (AllenNLP's names: IOB2 is "BIO")
ENCODINGS = ("BIO", "BIOUL")
_TAGS = {"BIO": ("B", "I"), "BIOUL": ("B", "I", "L", "U")}


def _neg(dtype: torch.dtype) -> float:
    """A large finite negative number (exp of it is 0; never inf - inf)."""
    return torch.finfo(dtype).min / 4


def _prepare(
    spans: torch.Tensor, mask: torch.Tensor, outside: Optional[torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(spans, outside, lengths)` with every span that ends past its sentence, and the
    outside score of every padding token, set to a large negative number."""
    if spans.dim() != 4:
        raise ValueError(f"spans must be [batch, time, max_length, labels], got shape {list(spans.shape)}")
    size, length, max_length, _ = spans.shape
    mask = mask.bool()
    if tuple(mask.shape) != (size, length):
        raise ValueError(f"mask of shape {list(mask.shape)} does not match spans {list(spans.shape)}")
    lengths = mask.sum(-1)
    neg = _neg(spans.dtype)
    ends = torch.arange(length, device=spans.device).unsqueeze(-1) + torch.arange(max_length, device=spans.device)
    fits = ends.unsqueeze(0) < lengths.view(-1, 1, 1)  # [B, T, L]: the span ends inside the sentence
    spans = torch.where(fits.unsqueeze(-1), spans, torch.full_like(spans, neg))
    if outside is None:
        outside = spans.new_zeros(size, length)
    outside = torch.where(mask, outside, torch.full_like(outside, neg))
    return spans, outside, lengths


def _ending(segment: torch.Tensor) -> torch.Tensor:
    """`[B, T+1, L]`: entry `[b, j, k-1]` the score of the segment of length k that ends at token
    j-1 (`segment[b, j-k, k-1]`), a large negative number where it would start before 0."""
    size, length, max_length = segment.shape
    j = torch.arange(length + 1, device=segment.device).unsqueeze(-1)
    k = torch.arange(1, max_length + 1, device=segment.device)
    start = j - k  # [T+1, L]
    picked = segment[:, start.clamp(min=0, max=max(length - 1, 0)), k - 1] if length else segment.new_zeros(size, 1, max_length)
    return torch.where(start >= 0, picked, torch.full_like(picked, _neg(segment.dtype)))


def _forward(spans: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """`alpha [B, T+1]`: alpha[:, j] = log Σ over the segmentations of tokens 0 .. j-1."""
    size, length, max_length, _ = spans.shape
    ending = _ending(spans.logsumexp(-1))  # [B, T+1, L]
    alpha = [spans.new_zeros(size)]
    for j in range(1, length + 1):
        k = min(max_length, j)
        previous = torch.stack(alpha[j - k:j][::-1], -1)  # alpha[j-1], ..., alpha[j-k]
        terms = torch.cat([(alpha[j - 1] + outside[:, j - 1]).unsqueeze(-1), previous + ending[:, j, :k]], -1)
        alpha.append(terms.logsumexp(-1))
    return torch.stack(alpha, 1)


def _backward(spans: torch.Tensor, outside: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`beta [B, T+L+1]`: beta[:, i] = log Σ over the segmentations of tokens i .. n-1 (0 at
    i = n, a large negative number past it)."""
    size, length, max_length, _ = spans.shape
    neg = _neg(spans.dtype)
    segment = spans.logsumexp(-1)
    beta: List[Optional[torch.Tensor]] = [None] * (length + max_length + 1)
    for i in range(length, length + max_length + 1):
        beta[i] = torch.where(lengths == i, spans.new_zeros(size), spans.new_full((size,), neg))
    for i in range(length - 1, -1, -1):
        following = torch.stack(beta[i + 1:i + max_length + 1], -1)  # beta[i+1], ..., beta[i+L]
        terms = torch.cat([(beta[i + 1] + outside[:, i]).unsqueeze(-1), segment[:, i] + following], -1)
        value = terms.logsumexp(-1)
        beta[i] = torch.where(lengths == i, torch.zeros_like(value), value)
    return torch.stack(beta, 1).clamp(min=neg)


def _log_z(alpha: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return alpha.gather(1, lengths.view(-1, 1)).squeeze(1)


def log_partition(
    spans: torch.Tensor, mask: torch.Tensor, outside: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """`log_z [B]`: log Σ over every segmentation of exp(its score). Differentiable."""
    spans, outside, lengths = _prepare(spans, mask, outside)
    return _log_z(_forward(spans, outside), lengths)


def _inside_outside(spans, mask, outside):
    """`(spans, outside, lengths, alpha, beta, log_z, span_marginals, outside_marginals)` in float64,
    the prepared potentials included (for `marginals` and `tag_marginals`)."""
    spans, outside, lengths = _prepare(spans.double(), mask, None if outside is None else outside.double())
    size, length, max_length, _ = spans.shape
    alpha = _forward(spans, outside)
    beta = _backward(spans, outside, lengths)
    log_z = _log_z(alpha, lengths)
    after = (torch.arange(length, device=spans.device).unsqueeze(-1)
             + torch.arange(1, max_length + 1, device=spans.device))  # [T, L]: index of the token after
    beta_after = beta[:, after]  # [B, T, L]
    logits = alpha[:, :length, None, None] + spans + beta_after.unsqueeze(-1) - log_z.view(-1, 1, 1, 1)
    span_marginals = logits.exp()
    outside_marginals = (alpha[:, :length] + outside + beta[:, 1:length + 1] - log_z.unsqueeze(-1)).exp()
    outside_marginals = outside_marginals * mask.bool()
    return spans, outside, lengths, alpha, beta, log_z, span_marginals, outside_marginals


def marginals(
    spans: torch.Tensor, mask: torch.Tensor, outside: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Returns `(log_z [B], span_marginals [B, T, L, C], outside_marginals [B, T])`:
    `span_marginals[b, i, k, c]` = P(the span i .. i+k with label c is a segment),
    `outside_marginals[b, t]` = P(token t is outside every span); zero at padding and for spans
    that do not fit. For every valid token t, the outside marginal plus the marginals of the
    spans covering t sum to 1.
    """
    dtype = spans.dtype
    *_, log_z, span_marginals, outside_marginals = _inside_outside(spans, mask, outside)
    return log_z.to(dtype), span_marginals.to(dtype), outside_marginals.to(dtype)


def tag_names(labels: Sequence[str], encoding: str = "BIO") -> List[str]:
    """The canonical order of the tags of `tag_marginals`: `"O"`, then per label the
    encoding's prefixes (`B-PER, I-PER, ...`)."""
    _check_encoding(encoding)
    return ["O"] + [f"{prefix}-{label}" for label in labels for prefix in _TAGS[encoding]]


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"the tag encoding must be one of {list(ENCODINGS)}, got {encoding!r}")


def _tag(encoding: str, offset: int, span_length: int) -> int:
    """The prefix index (in `_TAGS[encoding]`) of the token at `offset` of a span."""
    if encoding == "BIO":
        return 0 if offset == 0 else 1
    if span_length == 1:
        return 3  # U
    if offset == 0:
        return 0  # B
    return 2 if offset == span_length - 1 else 1  # L, I


def tag_marginals(
    spans: torch.Tensor, mask: torch.Tensor, encoding: str = "BIO", outside: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    The segment model's marginals of tag sequences (module docstring): returns
    `(log_z [B], unary [B, T, K], pairwise [B, T-1, K, K])`, tags in `tag_names` order
    (`K = 1 + C·2` for BIO, `1 + C·4` for BIOUL), `unary[b, t, y] = P(y_t = y)`,
    `pairwise[b, t-1, y, y'] = P(y_{t-1} = y, y_t = y')` — zero at padding, so they feed a
    linear-chain CRF's expected score directly.

    Adjacent tags in one span have the span's marginal; across a segment boundary (t-1 | t) the
    probability that the segment ending at t-1 has last tag y and the one starting at t first
    tag y' is `exp(E[t, y] + S[t, y'] - log Z)`, with `E` summing `alpha[start] + score` over the
    segments ending at t-1 and `S` summing `score + beta[end + 1]` over those starting at t.
    """
    _check_encoding(encoding)
    dtype = spans.dtype
    spans_p, outside_p, lengths, alpha, beta, log_z, span_m, outside_m = _inside_outside(spans, mask, outside)
    spans = spans_p  # float64 from here on
    size, length, max_length, num_labels = spans.shape
    prefixes = len(_TAGS[encoding])
    neg = _neg(spans.dtype)

    # unary: every token of every span gets the span's marginal at its tag
    entity = span_m.new_zeros(size, length, num_labels, prefixes)
    for k in range(max_length):
        for offset in range(min(k + 1, length)):
            entity[:, offset:, :, _tag(encoding, offset, k + 1)] += span_m[:, : length - offset, k]
    unary = torch.cat([outside_m.unsqueeze(-1), entity.flatten(2)], -1)
    tags = unary.size(-1)
    if length < 2:
        return log_z.to(dtype), unary.to(dtype), unary.new_zeros(size, 0, tags, tags, dtype=dtype)

    # pairs inside one span: (offset, offset + 1) of span (i, k) at pair position i + offset
    within = span_m.new_zeros(size, length - 1, num_labels, prefixes, prefixes)
    for k in range(1, max_length):
        for offset in range(min(k, length - 1)):
            left, right = _tag(encoding, offset, k + 1), _tag(encoding, offset + 1, k + 1)
            within[:, offset:, :, left, right] += span_m[:, : length - 1 - offset, k]
    pairwise = unary.new_zeros(size, length - 1, tags, tags)
    first = 1 + torch.arange(num_labels, device=spans.device) * prefixes
    for left in range(prefixes):
        for right in range(prefixes):
            pairwise[:, :, first + left, first + right] = within[:, :, :, left, right]

    # pairs across a boundary t (between tokens t-1 and t), t = 1 .. T-1
    ends = spans.new_full((size, length + 1, tags), neg)  # E[:, t]: segments ending at t-1
    starts = spans.new_full((size, length + 1, tags), neg)  # S[:, t]: segments starting at t
    ends[:, 1:, 0] = alpha[:, :length] + outside_p
    starts[:, :length, 0] = outside_p + beta[:, 1:length + 1]
    for k in range(max_length):
        span_length = k + 1
        if span_length <= length:
            # ending at t-1 = i + k, i.e. boundary t = i + span_length, i = 0 .. T - span_length
            last = first + _tag(encoding, k, span_length)
            value = alpha[:, : length - k, None] + spans_p[:, : length - k, k]
            ends[:, span_length:, last] = torch.logaddexp(ends[:, span_length:, last], value)
        start_tag = first + _tag(encoding, 0, span_length)
        value = spans_p[:, :, k] + beta[:, span_length:span_length + length, None]
        starts[:, :length, start_tag] = torch.logaddexp(starts[:, :length, start_tag], value)
    cross = (ends[:, 1:length, :, None] + starts[:, 1:length, None, :] - log_z.view(-1, 1, 1, 1)).exp()
    pairwise = pairwise + cross
    pair_mask = mask.bool()[:, 1:]
    pairwise = pairwise * pair_mask.view(size, length - 1, 1, 1)
    return log_z.to(dtype), unary.to(dtype), pairwise.to(dtype)


def viterbi(
    spans: torch.Tensor, mask: torch.Tensor, outside: Optional[torch.Tensor] = None
) -> Tuple[List[List[Tuple[int, int, int]]], torch.Tensor]:
    """
    The highest-scoring segmentation of each sentence (semi-Markov Viterbi): returns
    `(segments, best_scores [B])`, `segments[b]` the labelled spans `(start, end, label)` (end
    inclusive) in order; the outside tokens are the rest.
    """
    spans_p, outside_p, lengths = _prepare(spans, mask, outside)
    size, length, max_length, num_labels = spans_p.shape
    best_label_score, best_label = spans_p.max(-1)  # [B, T, L]
    ending = _ending(best_label_score)  # [B, T+1, L]
    ending_label = _ending(best_label.to(spans_p.dtype)).clamp(min=0).long()
    delta = [spans_p.new_zeros(size)]
    pointers = []  # per j: [B] the chosen span length (0: outside) and [B] its label
    for j in range(1, length + 1):
        k = min(max_length, j)
        previous = torch.stack(delta[j - k:j][::-1], -1)
        candidates = torch.cat([(delta[j - 1] + outside_p[:, j - 1]).unsqueeze(-1), previous + ending[:, j, :k]], -1)
        values, choice = candidates.max(-1)
        delta.append(values)
        labels = torch.cat([ending_label.new_zeros(size, 1), ending_label[:, j, :k]], -1)
        pointers.append((choice, labels.gather(-1, choice.unsqueeze(-1)).squeeze(-1)))
    delta_t = torch.stack(delta, 1)
    best = delta_t.gather(1, lengths.view(-1, 1)).squeeze(1)
    choices = torch.stack([p[0] for p in pointers], 1).tolist() if pointers else [[] for _ in range(size)]
    labels = torch.stack([p[1] for p in pointers], 1).tolist() if pointers else [[] for _ in range(size)]
    result = []
    for b in range(size):
        j = int(lengths[b])
        found = []
        while j > 0:
            k = choices[b][j - 1]
            if k == 0:
                j -= 1
            else:
                found.append((j - k, j - 1, labels[b][j - 1]))
                j -= k
        result.append(found[::-1])
    return result, best


def segments_to_tags(
    segments: Sequence[Tuple[int, int, str]], length: int, encoding: str = "BIO"
) -> List[str]:
    """The tag sequence of `length` tokens of labelled spans `(start, end inclusive, label)`."""
    _check_encoding(encoding)
    tags = ["O"] * length
    prefixes = _TAGS[encoding]
    for start, end, label in segments:
        for t in range(start, end + 1):
            tags[t] = f"{prefixes[_tag(encoding, t - start, end - start + 1)]}-{label}"
    return tags
