"""Tagger-side KD glue shared by `distilled_crf_tagger` and `distilled_simple_tagger`."""
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.models import Model, SimpleTagger
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.batch import select_rows
from allennlp_subkd.distillation.diagnostics import token_kl
from allennlp_subkd.distillation.objectives.tagging import token_marginals
from allennlp_subkd.distillation.extract import permute_labels, tagger_emissions, tagger_scores
from allennlp_subkd.distillation.scores import TaggerScores
from allennlp_subkd.distillation.student import DistilledModelMixin
from allennlp_subkd.distillation.teacher import FrozenTeacher
from allennlp_subkd.structures import linear_chain

#: what can teach a tagger: CRF and softmax taggers, and so the distilled taggers too
TAGGER_TEACHERS = (CrfTagger, SimpleTagger)


def tagger_keys(words: List[List[str]]) -> List[Tuple[str, ...]]:
    """The cache key of each sentence for a tagger teacher: its words."""
    return [tuple(w) for w in words]


def tagger_teacher_outputs(
    model: Model, tokens: Dict[str, Dict[str, torch.Tensor]], lengths: List[int]
) -> List[Tuple[torch.Tensor]]:
    """What a tagger teacher contributes per sentence (and what its caches store): its
    emission scores `[length, teacher labels]`, in the teacher's label order."""
    with torch.no_grad():
        emissions, _ = tagger_emissions(model, tokens)
    return [(emissions[j, :length],) for j, length in enumerate(lengths)]


@TeacherAdapter.register("tagger")
class TaggerTeacherAdapter(TeacherAdapter):
    """
    A CRF or softmax tagger (`crf_tagger`, `simple_tagger` or our distilled ones) teaching a
    tagger with the same label set: its emission scores per sentence (cached in its own
    label order), and, for a CRF, its transitions, all re-ordered to the student's labels.
    Sentences are keyed on their words; the teacher's inputs are the student's tensors when
    they mean the same to it, else rebuilt from the words.

    Registered as a `TeacherAdapter` with name "tagger" (the taggers' default).
    """

    teacher_types = TAGGER_TEACHERS
    scores_type = TaggerScores

    def keys(self, batch: TeacherBatch) -> Optional[List[Tuple[str, ...]]]:
        words = batch.words()
        return None if words is None else tagger_keys(words)

    def compute(self, teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int]) -> List[Tuple[torch.Tensor]]:
        words = batch.words()
        inputs = teacher.inputs(
            {"tokens": select_rows(batch.inputs["tokens"], rows, batch.batch_size)},
            None if words is None else [words[i] for i in rows],
            batch.vocab,
            batch.device,
        )
        lengths = batch.mask.sum(-1).tolist()
        return tagger_teacher_outputs(teacher.model, inputs["tokens"], [lengths[i] for i in rows])

    def assemble(self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch) -> TaggerScores:
        model = teacher.model
        index = teacher.label_map(batch.vocab, batch.label_namespace, model.label_namespace)
        index = index.to(batch.device)
        mask = batch.mask
        # cached in the teacher's own label order (student-independent, so one disk cache
        # serves every student); re-ordered to the student's here
        emissions = mask.new_zeros(batch.batch_size, mask.size(1), len(index), dtype=torch.float32)
        for i, (sentence,) in enumerate(per_sentence):
            emissions[i, : sentence.size(0)] = sentence.index_select(-1, index)
        # the teacher's transitions, in the student's label order
        aligned = permute_labels(tagger_scores(model, emissions[:, :0]), index)
        return TaggerScores(emissions, aligned.transitions, aligned.start, aligned.end)


class DistilledTaggerMixin(DistilledModelMixin):
    """Computes a tagger student's per-sentence KD term against its frozen teacher(s)."""

    def _teacher_tagger_scores(
        self,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        mask: torch.BoolTensor,
    ) -> TaggerScores:
        """The (first) teacher's scores of a batch as the KD term sees them (for tests and
        diagnostics)."""
        return self.teacher_scores(self._teacher_batch({"tokens": tokens}, metadata, mask))[0]

    def _tagger_distillation(
        self,
        student: TaggerScores,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        mask: torch.BoolTensor,
    ) -> torch.Tensor:
        """The per-sentence KD term `[batch]` of this batch (against the teachers' mixture)."""
        batch = self._teacher_batch({"tokens": tokens}, metadata, mask)
        return self._distill(lambda teacher: student, self.teacher_scores(batch), batch.mask)

    def _tagger_diagnostics(
        self,
        student: TaggerScores,
        predicted: torch.LongTensor,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        mask: torch.BoolTensor,
        gold: Optional[torch.LongTensor],
    ) -> None:
        """Teacher diagnostics of a validation batch (`diagnostics`): `predicted [B, T]` are the
        student's decoded labels, `gold [B, T]` the gold ones (if given)."""
        mask = mask.bool()
        with torch.no_grad():
            teacher = self._teacher_tagger_scores(tokens, metadata, mask)
            if teacher.is_crf:
                teacher_labels, _ = linear_chain.viterbi(
                    teacher.emissions, teacher.transitions, mask, teacher.start, teacher.end)
            else:
                teacher_labels = teacher.emissions.argmax(-1)
            q = token_marginals(teacher, mask)
            p = token_marginals(student.detached(), mask)
        self._diagnostics.add_agreement("teacher_agreement", predicted.eq(teacher_labels), mask)
        self._diagnostics.add_kl(*token_kl(q, p, mask))
        if gold is not None:
            self._diagnostics.add_calibration(p, gold, mask)
