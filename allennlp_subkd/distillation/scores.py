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
    labels : `[batch, n+1, n+1, relations]`, `labels[b, d, h, r]` the score of relation r for
        the arc h -> d, relations in the *student's* label order.
    mask : `[batch, n+1]` bool, ROOT and the real words.
    """

    arcs: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor
