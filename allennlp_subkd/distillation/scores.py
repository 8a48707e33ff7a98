"""Containers for the scores a KD objective compares.

Both the student's and the (label-aligned) teacher's outputs are put into these small
dataclasses so that an objective is a pure function of two of them and a mask.
"""
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class TaggerScores:
    """Scores of a sequence tagger over one batch.

    emissions : `[batch, time, labels]` per-token label scores (a CRF's unary potentials
        or a softmax tagger's logits), labels in the *student's* label order.
    transitions : `[labels, labels]` CRF transition scores `A[prev, next]`, or `None` for a
        softmax tagger (a locally normalised model with no label interactions).
    start, end : `[labels]` CRF start / end transition scores, or `None` (zero).
    """

    emissions: torch.Tensor
    transitions: Optional[torch.Tensor] = None
    start: Optional[torch.Tensor] = None
    end: Optional[torch.Tensor] = None

    @property
    def is_crf(self) -> bool:
        return self.transitions is not None

    def detached(self) -> "TaggerScores":
        """The same scores cut from the autograd graph (the teacher's are targets)."""
        return TaggerScores(*(None if x is None else x.detach() for x in (self.emissions, self.transitions, self.start, self.end)))

    def scaled(self, temperature: float) -> "TaggerScores":
        """All potentials divided by `temperature` (the distribution at temperature T)."""
        if temperature == 1.0:
            return self

        def div(x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
            return None if x is None else x / temperature

        return TaggerScores(
            div(self.emissions), div(self.transitions), div(self.start), div(self.end)
        )


@dataclass
class ParserScores:
    """Scores of a first-order (biaffine) dependency parser over one batch.

    arcs : `[batch, n+1, n+1]`, `arcs[b, d, h]` the score of head h -> dependent d, ROOT at 0
        (the layout of `BiaffineDependencyParser`'s `attended_arcs`).
    labels : the relation scores, relations in the *student's* label order. Dense
        (`label_heads` is `None`): `[batch, n+1, n+1, relations]`, `labels[b, d, h, r]` the
        score of relation r for the arc h -> d. Sparse: `[batch, n+1, k, relations]`,
        `labels[b, d, s, r]` the score of relation r for the arc `label_heads[b, d, s]` -> d.
    mask : `[batch, n+1]` bool, ROOT and the real words.
    label_heads : `[batch, n+1, k]` long, optional: the k heads of each dependent at which
        `labels` are given (student and teacher of one batch share them). Slots whose arc is
        not valid (a sentence with fewer than k possible heads, padding, ROOT's row) hold some
        index and are masked by the objectives.
    """

    arcs: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor
    label_heads: Optional[torch.Tensor] = None

    @property
    def sparse(self) -> bool:
        return self.label_heads is not None

    def at_label_pairs(self, values: torch.Tensor) -> torch.Tensor:
        """`values [batch, n+1, n+1]` (one per arc) at the pairs `labels` is given for:
        `[batch, n+1, k]` gathered at `label_heads`, or `values` itself when dense."""
        if self.label_heads is None:
            return values
        return values.gather(-1, self.label_heads)
