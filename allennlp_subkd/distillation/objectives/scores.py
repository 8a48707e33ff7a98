"""Containers for the scores a KD objective compares.

Both the student's and the (label-aligned) teacher's outputs are put into these small
dataclasses, each with the batch's mask inside, so that an objective is a pure function of
two of them: `(student_scores, teacher_scores) -> [batch]`.
"""
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence, Tuple

import torch

from allennlp_subkd.structures import segments as segment_model
from allennlp_subkd.structures.arcs import best_heads


def check_shape(tensor: Optional[torch.Tensor], expected: Sequence[int], what: str, source: str) -> None:
    """A `ValueError` naming `source` (e.g. the adapter) when `tensor` is not of shape
    `expected` (`-1` matches any size)."""
    if tensor is None:
        return
    shape = tuple(tensor.shape)
    if len(shape) != len(expected) or any(e not in (-1, s) for e, s in zip(expected, shape)):
        raise ValueError(
            f"{source} returned {what} of shape {list(shape)}, expected "
            f"{['*' if e == -1 else e for e in expected]} for this batch"
        )


@dataclass
class SegmentScores:
    """
    A teacher known by a distribution over labelled, non-overlapping spans (a span-based NER
    model, Wang et al. 2021's scenario 4), read as a distribution over the student's tag
    sequences: the semi-Markov model of `allennlp_subkd.structures.segments` with these span
    potentials, whose exact tag marginals (per token, and per pair of adjacent tokens) are what
    the tagging objectives take from it.

    spans : `[batch, time, max_length, types]`, `spans[b, i, k, c]` the potential of the span of
        tokens i .. i+k labelled with entity type c (a span classifier's log-odds against "no
        entity"), types in `types` order.
    tag_index : `[tags]` long, for each tag of `segments.tag_names(types, encoding)` the student's
        label index, or -1 where the student has no such label (that tag's mass is left out and
        each token's marginals renormalised over the student's labels).
    num_labels : the student's number of labels.
    encoding : `"BIO"` or `"BIOUL"`, the student's tag encoding.
    """

    spans: torch.Tensor
    tag_index: torch.Tensor
    num_labels: int
    encoding: str = "BIO"
    _marginals: Optional[Tuple[torch.Tensor, torch.Tensor]] = field(default=None, repr=False, compare=False)

    def scaled(self, temperature: float) -> "SegmentScores":
        """The distribution at temperature T: every potential divided by T."""
        if temperature == 1.0:
            return self
        return SegmentScores(self.spans / temperature, self.tag_index, self.num_labels, self.encoding)

    def detached(self) -> "SegmentScores":
        return replace(self, spans=self.spans.detach())

    def marginals(self, mask: torch.BoolTensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """`(unary [batch, time, labels], pairwise [batch, time-1, labels, labels])` in the
        student's label order, zero at padding (computed once per object)."""
        if self._marginals is None:
            _, unary, pairwise = segment_model.tag_marginals(self.spans, mask, self.encoding)
            index = self.tag_index.to(unary.device)
            kept = (index >= 0).nonzero().squeeze(-1)
            target = index[kept]
            size, length = mask.shape
            student_unary = unary.new_zeros(size, length, self.num_labels)
            student_unary.index_add_(-1, target, unary.index_select(-1, kept))
            pairs = pairwise.index_select(-1, kept).index_select(-2, kept)
            student_pairwise = pairwise.new_zeros(size, max(length - 1, 0), self.num_labels, self.num_labels)
            if length > 1:
                inner = pairwise.new_zeros(size, length - 1, self.num_labels, len(kept))
                inner.index_add_(-2, target, pairs)
                student_pairwise.index_add_(-1, target, inner)
            if len(kept) < len(index):  # tags the student lacks: renormalise per position
                student_unary = student_unary / student_unary.sum(-1, keepdim=True).clamp(min=1e-30)
                total = student_pairwise.sum((-1, -2), keepdim=True).clamp(min=1e-30)
                student_pairwise = student_pairwise / total
                student_unary = student_unary * mask.unsqueeze(-1)
                if length > 1:
                    student_pairwise = student_pairwise * mask[:, 1:].view(size, length - 1, 1, 1)
            object.__setattr__(self, "_marginals", (student_unary, student_pairwise))
        return self._marginals


@dataclass
class TaggerScores:
    """Scores of a sequence tagger over one batch.

    emissions : `[batch, time, labels]` per-token label scores (a CRF's unary potentials
        or a softmax tagger's logits), labels in the *student's* label order.
    transitions : `[labels, labels]` CRF transition scores `A[prev, next]`, or `None` for a
        softmax tagger (a locally normalised model with no label interactions).
    start, end : `[labels]` CRF start / end transition scores, or `None` (zero).
    mask : `[batch, time]` bool, left-aligned: the tokens the scores cover. The objectives
        need it (`token_mask`); the student's and the teacher's scores of a batch share it.
    segments : `SegmentScores`, optional: a span teacher's distribution over the student's tag
        sequences; its marginals replace the ones the potentials would give (`emissions` then
        hold the log of its token marginals at temperature 1, `transitions` is `None`).
    """

    emissions: torch.Tensor
    transitions: Optional[torch.Tensor] = None
    start: Optional[torch.Tensor] = None
    end: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None
    segments: Optional[SegmentScores] = None

    def token_mask(self) -> torch.BoolTensor:
        """The mask as a bool tensor; a `ValueError` when the scores were built without one."""
        if self.mask is None:
            raise ValueError(
                "TaggerScores without a mask: build them with mask=[batch, time] (the tokens "
                "the scores cover); every KD objective reads it"
            )
        return self.mask if self.mask.dtype == torch.bool else self.mask.bool()

    @property
    def is_crf(self) -> bool:
        return self.transitions is not None

    def validate(self, batch: Any, source: str) -> None:
        """Shapes against a `TeacherBatch`: `[batch, time, student labels]` emissions."""
        labels = batch.vocab.get_vocab_size(batch.label_namespace)
        check_shape(self.emissions, (*batch.mask.shape, labels), "emissions", source)
        check_shape(self.transitions, (labels, labels), "transitions", source)
        check_shape(self.start, (labels,), "start transitions", source)
        check_shape(self.end, (labels,), "end transitions", source)
        check_shape(self.mask, tuple(batch.mask.shape), "mask", source)

    def detached(self) -> "TaggerScores":
        """The same scores cut from the autograd graph (the teacher's are targets)."""
        potentials = (self.emissions, self.transitions, self.start, self.end)
        return TaggerScores(*(None if x is None else x.detach() for x in potentials), mask=self.mask,
                            segments=None if self.segments is None else self.segments.detached())

    def scaled(self, temperature: float) -> "TaggerScores":
        """All potentials divided by `temperature` (the distribution at temperature T)."""
        if temperature == 1.0:
            return self

        def div(x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
            return None if x is None else x / temperature

        return TaggerScores(
            div(self.emissions), div(self.transitions), div(self.start), div(self.end), self.mask,
            None if self.segments is None else self.segments.scaled(temperature),
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
    best_heads : `[batch, n+1, K]` long, optional: a teacher's K best heads of each dependent
        under its own arc scores, best first (`structures.arcs.best_heads`), as its cache entry
        holds them; `None` when not known (a student, an ensemble's mean scores). Objectives
        that need the teacher's best heads read them here instead of ranking the arcs again.
    marginal_arcs : `bool`, optional (default = `False`): the arcs are the logits of the model's
        own (approximate) head marginals, a second-order parser's MFVI posteriors
        (`softmax_h arcs[b, d, :]` = q(h → d)), not a first-order tree model's potentials; the
        objectives that need the teacher's arc marginals take that softmax instead of tree
        marginals (see `teacher_arc_marginals` in the parsing objectives).
    """

    arcs: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor
    label_heads: Optional[torch.Tensor] = None
    best_heads: Optional[torch.Tensor] = None
    marginal_arcs: bool = False

    @property
    def sparse(self) -> bool:
        return self.label_heads is not None

    def validate(self, batch: Any, source: str) -> None:
        """Shapes against a `TeacherBatch` whose mask is `[batch, n+1]`."""
        size, length = batch.mask.shape
        relations = batch.vocab.get_vocab_size(batch.label_namespace)
        check_shape(self.arcs, (size, length, length), "arc scores", source)
        if self.label_heads is None:
            check_shape(self.labels, (size, length, length, relations), "relation scores", source)
        else:
            k = self.label_heads.size(-1)
            check_shape(self.label_heads, (size, length, k), "relation heads", source)
            check_shape(self.labels, (size, length, k, relations), "relation scores", source)

    def top_heads(self, k: int) -> torch.LongTensor:
        """`[batch, n+1, min(k, n+1)]` the k best heads of each dependent under these arc
        scores, best first: `best_heads` where it holds k of them, else ranked here."""
        if self.best_heads is not None and self.best_heads.size(-1) >= min(k, self.arcs.size(-1)):
            return self.best_heads[..., :k]
        return best_heads(self.arcs, self.mask, k)

    def at_label_pairs(self, values: torch.Tensor) -> torch.Tensor:
        """`values [batch, n+1, n+1]` (one per arc) at the pairs `labels` is given for:
        `[batch, n+1, k]` gathered at `label_heads`, or `values` itself when dense."""
        if self.label_heads is None:
            return values
        return values.gather(-1, self.label_heads)
