"""Tagger-side KD glue shared by `distilled_crf_tagger` and `distilled_simple_tagger`."""
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.models import Model, SimpleTagger
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.batch import select_rows
from allennlp_subkd.distillation.extract import permute_labels, tagger_emissions, tagger_scores
from allennlp_subkd.distillation.scores import TaggerScores
from allennlp_subkd.distillation.student import DistilledModelMixin

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


class DistilledTaggerMixin(DistilledModelMixin):
    """Computes a tagger student's per-sentence KD term against its frozen teacher."""

    def _teacher_tagger_scores(
        self,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        mask: torch.BoolTensor,
    ) -> TaggerScores:
        """The teacher's scores for this batch, labels in the student's order, padded or
        cut to the student's length, without gradients."""
        teacher = self._teacher
        device = mask.device
        model = teacher.to(device)
        index = teacher.label_map(self.vocab, self.label_namespace, model.label_namespace)
        words = [m["words"] for m in metadata] if metadata is not None else None
        lengths = mask.sum(-1).tolist()
        batch_size = mask.size(0)

        def compute(rows: List[int]) -> List[Tuple[torch.Tensor]]:
            inputs = teacher.inputs(
                {"tokens": select_rows(tokens, rows, batch_size)},
                None if words is None else [words[i] for i in rows],
                self.vocab,
                device,
            )
            return tagger_teacher_outputs(model, inputs["tokens"], [lengths[i] for i in rows])

        keys = None if words is None else tagger_keys(words)
        per_sentence = teacher.per_sentence(keys, compute, batch_size, device)
        # cached in the teacher's own label order (student-independent, so one disk cache
        # serves every student); re-ordered to the student's here
        emissions = mask.new_zeros(batch_size, mask.size(1), len(index), dtype=torch.float32)
        for i, (sentence,) in enumerate(per_sentence):
            emissions[i, : sentence.size(0)] = sentence.index_select(-1, index.to(device))
        with torch.no_grad():  # the teacher's transitions, in the student's label order
            aligned = permute_labels(tagger_scores(model, emissions[:, :0]), index)
        return TaggerScores(emissions, aligned.transitions, aligned.start, aligned.end)

    def _tagger_distillation(
        self,
        student: TaggerScores,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        mask: torch.BoolTensor,
    ) -> torch.Tensor:
        """The per-sentence KD term `[batch]` of this batch."""
        teacher = self._teacher_tagger_scores(tokens, metadata, mask)
        if not self._kd_checked:
            self._distillation.check(student, teacher)
            self._kd_checked = True
        return self._distillation(student, teacher, mask)
