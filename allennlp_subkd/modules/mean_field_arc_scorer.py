"""A first-order arc scorer extended with sibling factors and mean-field inference (Wang & Tu 2020)."""
import contextlib
from typing import Iterator, Optional

import torch

from allennlp_subkd.structures.second_order import mean_field


class MeanFieldArcScorer(torch.nn.Module):
    """
    Wraps a biaffine parser's `arc_attention` (called as `arc_attention(first, second)`, giving
    `[B, N+1, N+1]` arc scores `arcs[b, d, h]` from the representations of d in `first` and of h
    in `second`) and returns instead the logits of the **MFVI head marginals** of the sibling
    model (`allennlp_subkd.structures.second_order.mean_field`): a softmax over heads of its
    output is q, so the parser's own per-word loss trains it end to end through the updates and
    its decoders decode q.

    Sibling scores: a triaffine form over a dependent (d), its head (h) and another dependent of
    it (s), on small ELU projections of the same arc representations (`sibling_dim`, with an
    appended 1 each, so the form holds every lower-order term).

    The mask (ROOT and words, `[B, N+1]`) is not an argument of `arc_attention`: the parser sets
    it around each forward pass with `masked(mask)`.

    # Parameters

    biaffine : the parser's first-order arc scorer.
    representation_dim : the size of the arc representations it receives.
    sibling_dim : the size of the sibling projections.
    iterations : MFVI updates (≥ 1; Wang & Tu use 3).
    """

    def __init__(self, biaffine: torch.nn.Module, representation_dim: int, sibling_dim: int = 100,
                 iterations: int = 3) -> None:
        super().__init__()
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"MFVI needs iterations >= 1, got {iterations!r}")
        self.biaffine = biaffine
        self.iterations = iterations
        self.dependent_projection = torch.nn.Sequential(torch.nn.Linear(representation_dim, sibling_dim), torch.nn.ELU())
        self.head_projection = torch.nn.Sequential(torch.nn.Linear(representation_dim, sibling_dim), torch.nn.ELU())
        # small at the start: MFVI begins near the first-order marginals
        self.sibling_weight = torch.nn.Parameter(0.01 * torch.randn(sibling_dim + 1, sibling_dim + 1, sibling_dim + 1))
        self._mask: Optional[torch.Tensor] = None

    @contextlib.contextmanager
    def masked(self, mask: torch.Tensor) -> Iterator[None]:
        previous, self._mask = self._mask, mask.bool()
        try:
            yield
        finally:
            self._mask = previous

    def siblings(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """`[B, N+1, N+1, N+1]` sibling scores `siblings[b, d, h, s]`."""
        dependents = self.dependent_projection(first)
        heads = self.head_projection(second)
        ones = dependents.new_ones(*dependents.shape[:-1], 1)
        dependents, heads = torch.cat([dependents, ones], -1), torch.cat([heads, ones], -1)
        partial = torch.einsum("bdi,ijk,bhj->bdhk", dependents, self.sibling_weight, heads)
        return torch.einsum("bdhk,bsk->bdhs", partial, dependents)

    def first_order(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.biaffine(first, second)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        if self._mask is None:
            raise RuntimeError("MeanFieldArcScorer needs the batch's mask: call it inside masked(mask)")
        arcs = self.first_order(first, second)
        logits, _ = mean_field(arcs, self.siblings(first, second), self._mask, self.iterations)
        return logits
