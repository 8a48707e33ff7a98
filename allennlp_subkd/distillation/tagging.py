"""Tagger-side KD glue shared by `distilled_crf_tagger` and `distilled_simple_tagger`."""
from typing import Dict, List, Optional

import torch
from allennlp.models import SimpleTagger
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.extract import permute_labels, tagger_emissions, tagger_scores
from allennlp_subkd.distillation.scores import TaggerScores
from allennlp_subkd.distillation.student import DistilledModelMixin

#: what can teach a tagger: CRF and softmax taggers, and so the distilled taggers too
TAGGER_TEACHERS = (CrfTagger, SimpleTagger)


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
        inputs = teacher.inputs({"tokens": tokens}, words, self.vocab, device)
        with torch.no_grad():
            emissions, _ = tagger_emissions(model, inputs["tokens"])
            scores = permute_labels(tagger_scores(model, emissions), index)
        return _fit_length(scores, mask.size(1))

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


def _fit_length(scores: TaggerScores, length: int) -> TaggerScores:
    emissions = scores.emissions
    if emissions.size(1) > length:
        emissions = emissions[:, :length]
    elif emissions.size(1) < length:
        pad = emissions.new_zeros(emissions.size(0), length - emissions.size(1), emissions.size(2))
        emissions = torch.cat([emissions, pad], dim=1)
    return TaggerScores(emissions, scores.transitions, scores.start, scores.end)
