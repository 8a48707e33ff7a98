"""
The tagger task: reading a tagger's scores (`tagger_emissions`, `tagger_scores`), the
`"tagger"` teacher adapter, and the mixin shared by `distilled_crf_tagger` and
`distilled_simple_tagger`.

`CrfTagger.forward` always runs Viterbi decoding (a Python loop over the batch), which a
teacher does not need; `tagger_emissions` runs only the scoring part of the network.
"""
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.models import Model, SimpleTagger
from allennlp.nn import util
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.objectives.scores import TaggerScores
from allennlp_subkd.distillation.objectives.tagging import safe_log, token_kl, token_marginals
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.student import DistilledModelMixin
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.batch import select_rows
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.structures import linear_chain

def tagger_emissions(model: Model, tokens: Dict[str, Dict[str, torch.Tensor]]) -> Tuple[torch.Tensor, torch.BoolTensor]:
    """
    The per-token label scores of a `CrfTagger` or `SimpleTagger` (or a subclass) and the
    token mask: embedder → (dropout) → encoder → (dropout, feed-forward) → tag projection,
    exactly the layers their `forward` applies before decoding.

    Returns `(emissions [batch, time, labels], mask [batch, time])`, labels in the model's
    own label order.
    """
    embedded = model.text_field_embedder(tokens)
    mask = util.get_text_field_mask(tokens)
    dropout = getattr(model, "dropout", None)
    if dropout:
        embedded = dropout(embedded)
    encoded = model.encoder(embedded, mask)
    if dropout:
        encoded = dropout(encoded)
    feedforward = getattr(model, "_feedforward", None)
    if feedforward is not None:
        encoded = feedforward(encoded)
    return model.tag_projection_layer(encoded), mask


def tagger_scores(model: Model, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None) -> TaggerScores:
    """`TaggerScores` of a tagger from its emissions (and the batch's mask): a CRF's
    transitions are attached, a softmax tagger has none. Labels in the model's own order."""
    if isinstance(model, CrfTagger):
        crf = model.crf
        start = crf.start_transitions if crf.include_start_end_transitions else None
        end = crf.end_transitions if crf.include_start_end_transitions else None
        return TaggerScores(emissions, crf.transitions, start, end, mask)
    if isinstance(model, SimpleTagger):
        return TaggerScores(emissions, mask=mask)
    raise TypeError(f"not a tagger: {type(model).__name__}")


def permute_labels(scores: TaggerScores, index: torch.LongTensor) -> TaggerScores:
    """Re-order every label axis: `new[..., i] = old[..., index[i]]`."""
    index = index.to(scores.emissions.device)

    def pick(x):
        return None if x is None else x.index_select(-1, index)

    transitions = None
    if scores.transitions is not None:
        transitions = scores.transitions.index_select(0, index).index_select(1, index)
    return TaggerScores(pick(scores.emissions), transitions, pick(scores.start), pick(scores.end), scores.mask)


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


def tagger_teacher_tokens(teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int]) -> Dict[str, torch.Tensor]:
    """The teacher's `tokens` for the sentences `rows` of a tagger student's batch: the student's
    tensors when they mean the same to it, else rebuilt from the words (`FrozenTeacher.inputs`)."""
    words = batch.words()
    inputs = teacher.inputs(
        {"tokens": select_rows(batch.inputs["tokens"], rows, batch.batch_size)},
        None if words is None else [words[i] for i in rows],
        batch.vocab,
        batch.device,
    )
    return inputs["tokens"]


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

    def compute(
        self, teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int], entry: TeacherRequest
    ) -> List[Tuple[torch.Tensor]]:
        lengths = batch.mask.sum(-1).tolist()
        return tagger_teacher_outputs(teacher.model, tagger_teacher_tokens(teacher, batch, rows),
                                      [lengths[i] for i in rows])

    def assemble(
        self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch, request: TeacherRequest
    ) -> TaggerScores:
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
        return TaggerScores(emissions, aligned.transitions, aligned.start, aligned.end, mask)


class DistilledTaggerMixin(DistilledModelMixin):
    """Computes a tagger student's per-sentence KD term against its frozen teacher(s), and
    its teacher diagnostics."""

    def _tagger_batch(
        self, tokens: Dict[str, Dict[str, torch.Tensor]], metadata: Optional[List[Dict]], mask: torch.Tensor
    ) -> TeacherBatch:
        return self._teacher_batch({"tokens": tokens}, metadata, mask)

    def _tagger_distillation(
        self,
        student: TaggerScores,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
    ) -> torch.Tensor:
        """The per-sentence KD term `[batch]` of this batch (against the teachers' mixture);
        `student` carries the batch's mask."""
        batch = self._tagger_batch(tokens, metadata, student.token_mask())
        return self._distill(lambda teacher: student, self.teacher_scores(batch))

    def _tagger_diagnostics(
        self,
        student: TaggerScores,
        predicted: torch.LongTensor,
        tokens: Dict[str, Dict[str, torch.Tensor]],
        metadata: Optional[List[Dict]],
        gold: Optional[torch.LongTensor],
    ) -> None:
        """Teacher diagnostics of a validation batch (`diagnostics`): `predicted [B, T]` are the
        student's decoded labels, `gold [B, T]` the gold ones (if given); `student` carries the
        batch's mask."""
        mask = student.token_mask()
        with torch.no_grad():
            teacher = self.teacher_scores(self._tagger_batch(tokens, metadata, mask), TeacherRequest())[0]
            if teacher.is_crf:
                teacher_labels, _ = linear_chain.viterbi(
                    teacher.emissions, teacher.transitions, mask, teacher.start, teacher.end)
            else:
                teacher_labels = teacher.emissions.argmax(-1)
            q = token_marginals(teacher, mask)
            p = token_marginals(student.detached(), mask)
        self._diagnostics.add_agreement("teacher_agreement", predicted.eq(teacher_labels), mask)
        self._diagnostics.add_kl(float(token_kl(q, safe_log(p), mask).sum()), int(mask.sum()))
        if gold is not None:
            self._diagnostics.add_calibration(p, gold, mask)
