"""
A second-order (sibling) dependency model: mean-field variational inference (MFVI) of its head
marginals, and exact marginals by enumeration for measuring MFVI on short sentences. Pure torch.

Layout as `allennlp_subkd.structures.tree`: `arcs[b, d, h]` the score of the arc h -> d, index 0
is ROOT, `mask[b, i]` marks ROOT and the words (left-aligned). Second-order factors:

* `siblings[b, d, h, s]`: the score of the two arcs h -> d and h -> s both present (s ≠ d, both
  words, h ≠ d, s): every ordered pair of dependents of one head, adjacent or not (Wang & Tu 2020's
  "siblings"; an unordered pair {d, s} scores `siblings[d, h, s] + siblings[s, h, d]`).

The score of a head assignment y (every word d picks one head y_d ≠ d) is

    S(y) = Σ_d arcs[d, y_d] + Σ_{d ≠ s, y_d = y_s} siblings[d, y_d, s]

and the distribution **MFVI approximates** is `P(y) ∝ exp(S(y))` over *all head assignments*,
with no tree constraint (Wang & Tu 2020, "Second-Order Neural Dependency Parsing with Message
Passing and End-to-End Training"; SuPar's MFVI dependency parser). Mean field keeps one
distribution q_d over heads per word and updates all of them in parallel, `iterations` times:

    logits_d(h) = arcs[d, h] + Σ_{s ∉ {d, h}} q_s(h) (siblings[d, h, s] + siblings[s, h, d]),
    q_d = softmax_h(logits_d)

starting from `q_d = softmax_h(arcs[d, :])`. With zero sibling scores it returns exactly that
softmax: the first-order marginals of the head-selection model (the biaffine parser's local
distribution). The q are approximations of the marginals; `enumerate_marginals` gives the exact
ones (of the head-assignment model, or of the same scores restricted to single-root trees) for
short sentences, and `benchmarks/mfvi_gap.py` measures the difference.
"""
import itertools
from typing import Tuple

import torch

__all__ = ["mean_field", "enumerate_marginals", "sibling_mask"]


def _neg(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min / 4


def _valid_arcs(mask: torch.Tensor) -> torch.BoolTensor:
    """`[B, N+1, N+1]`: d a word, h ROOT or a word, h ≠ d."""
    mask = mask.bool()
    words = mask.clone()
    words[:, 0] = False
    size, length = mask.shape
    eye = torch.eye(length, dtype=torch.bool, device=mask.device)
    return words.unsqueeze(-1) & mask.unsqueeze(1) & ~eye


def sibling_mask(mask: torch.Tensor) -> torch.BoolTensor:
    """`[B, N+1, N+1, N+1]`: the (d, h, s) with h -> d and h -> s valid arcs and s ≠ d."""
    valid = _valid_arcs(mask)  # [B, d, h]
    length = mask.size(1)
    eye = torch.eye(length, dtype=torch.bool, device=mask.device)
    pair = valid.unsqueeze(-1) & valid.transpose(1, 2).unsqueeze(1)  # [B, d, h, s]: h->d and h->s
    return pair & ~eye.view(1, length, 1, length)


def mean_field(
    arcs: torch.Tensor, siblings: torch.Tensor, mask: torch.Tensor, iterations: int = 3
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    MFVI of the sibling model (module docstring).

    arcs : `[B, N+1, N+1]`; siblings : `[B, N+1, N+1, N+1]` (`siblings[b, d, h, s]`); mask :
        `[B, N+1]` with ROOT. Scores at invalid positions are ignored.
    iterations : the number of parallel updates (Wang & Tu use 3); must be ≥ 1.
    Returns `(logits [B, N+1, N+1], q [B, N+1, N+1])`: `q = softmax over h of logits` at valid
    arcs, 0 elsewhere (row 0, padding, self-loops); invalid logits hold a large negative
    number. Differentiable (end-to-end training backpropagates through the updates).
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"MFVI needs iterations >= 1, got {iterations!r}")
    valid = _valid_arcs(mask)
    neg = _neg(arcs.dtype)
    sib = torch.where(sibling_mask(mask), siblings, torch.zeros_like(siblings))
    arcs = torch.where(valid, arcs, torch.full_like(arcs, neg))
    logits = arcs
    q = _softmax(logits, valid)
    for _ in range(iterations):
        # Σ_s q_s(h) (siblings[d, h, s] + siblings[s, h, d]), no [B, N+1, N+1, N+1] temporary
        message = torch.einsum("bdhs,bsh->bdh", sib, q) + torch.einsum("bshd,bsh->bdh", sib, q)
        logits = torch.where(valid, arcs + message, arcs)
        q = _softmax(logits, valid)
    return logits, q


def _softmax(logits: torch.Tensor, valid: torch.BoolTensor) -> torch.Tensor:
    """Per-row softmax over the valid heads (rows with none are all zero)."""
    masked = logits.masked_fill(~valid, float("-inf"))
    has = valid.any(-1, keepdim=True)
    q = torch.where(has, masked, torch.zeros_like(masked)).softmax(-1)
    return torch.where(valid, q, torch.zeros_like(q))


def _is_tree(heads) -> bool:
    """Single-root tree over words 1..n given heads[d-1] of word d."""
    n = len(heads)
    if sum(1 for h in heads if h == 0) != 1:
        return False
    for d in range(1, n + 1):
        seen, node = set(), d
        while node != 0:
            if node in seen:
                return False
            seen.add(node)
            node = heads[node - 1]
    return True


def enumerate_marginals(
    arcs: torch.Tensor, siblings: torch.Tensor, length: int, trees: bool = False, max_length: int = 8
) -> torch.Tensor:
    """
    Exact head marginals of one sentence of the sibling model by enumerating every head
    assignment (`trees=False`: the distribution MFVI approximates) or every single-root tree
    (`trees=True`: the same scores as a tree distribution). For measurement on short sentences:
    `(n)^n` assignments, so `length` (words, ROOT excluded) must be ≤ `max_length`.

    arcs : `[N+1, N+1]`; siblings : `[N+1, N+1, N+1]`. Returns `[N+1, N+1]`, `q[d, h] = P(y_d = h)`.
    """
    if length > max_length:
        raise ValueError(f"enumerating {length}^{length} head assignments: at most {max_length} words")
    marginals = arcs.new_zeros(arcs.shape)
    if length == 0:
        return marginals
    choices = [[h for h in range(length + 1) if h != d] for d in range(1, length + 1)]
    assignments = list(itertools.product(*choices))
    if trees:
        assignments = [heads for heads in assignments if _is_tree(heads)]
    heads = torch.tensor(assignments, dtype=torch.long, device=arcs.device)  # [A, n]: heads[:, d-1]
    words = torch.arange(1, length + 1, device=arcs.device)
    scores = arcs[words, heads].sum(-1)  # Σ_d arcs[d, y_d]
    for d in range(1, length + 1):
        for s in range(1, length + 1):
            if s != d:
                same = heads[:, d - 1] == heads[:, s - 1]
                scores = scores + torch.where(same, siblings[d, heads[:, d - 1], s], scores.new_zeros(()))
    probs = scores.softmax(0)
    for d in range(1, length + 1):
        marginals[d].index_add_(0, heads[:, d - 1], probs)
    return marginals
