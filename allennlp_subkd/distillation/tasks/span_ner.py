"""
A span-based NER teacher for taggers (Wang et al. 2021's scenario 4: the teacher's and the
student's factorisations are incompatible — spans against tokens and label bigrams).

The teacher scores every span of at most L words for every entity type and for "no entity"
(∅), trained as independent per-span softmaxes (`biaffine_span_tagger`). Conditioned on its
entities being non-overlapping, that product of span distributions is the semi-Markov model
with potentials `s(i, j, c) - s(i, j, ∅)` (`allennlp_subkd.structures.segments`), a distribution
over flat entity sets, i.e. over the student's BIO (or BIOUL) tag sequences. Its exact tag
marginals per token and per pair of adjacent tokens (forward–backward over segments) are all the
tagging objectives need:

- a CRF student's `structural` term, `log Z_s - Σ_u q(u) S_s(u)` over the student's start, token,
  bigram and end sub-structures, is the exact cross-entropy between the teacher's segment
  distribution and the student's CRF;
- a softmax student's `structural` / `posterior` term uses the token marginals (exact for it);
- `token` reads the log token marginals as the teacher's emissions.

`sub_structure` and `top_k` compare scores of the student's sub-structures, which a span teacher
does not have: they raise a `ConfigurationError`.
"""
from typing import Dict, List, Tuple

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary

from allennlp_subkd.distillation.objectives.scores import SegmentScores, TaggerScores
from allennlp_subkd.distillation.objectives.tagging import safe_log
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.tagger import TaggerTeacherAdapter, tagger_teacher_tokens
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.structures import segments

_PREFIXES = {"BIO": ("B", "I"), "BIOUL": ("B", "I", "L", "U")}


class SpanScoringModel:
    """
    What a span-based NER model offers a student (mixed into `biaffine_span_tagger`; a model of
    your own that has these can teach through the `"span_ner"` adapter too):

    - `entity_types`: its entity labels, in the order of its scores;
    - `max_span_length`: the longest span it scores;
    - `span_potentials(tokens) -> (potentials [B, T, L, types], mask [B, T])`: the log-odds of each
      span (i .. i+k) being an entity of each type against being no entity.
    """

    entity_types: List[str]
    max_span_length: int

    def span_potentials(self, tokens: TextFieldTensors) -> Tuple[torch.Tensor, torch.BoolTensor]:
        raise NotImplementedError


def student_tags(vocab: Vocabulary, namespace: str, encoding: str, student_name: str) -> Dict[str, int]:
    """The student's tags, checked to be `O` or `{prefix}-{type}` in `encoding`."""
    tags = vocab.get_token_to_index_vocabulary(namespace)
    prefixes = _PREFIXES[encoding]
    wrong = sorted(t for t in tags if t != "O" and (("-" not in t) or t.split("-", 1)[0] not in prefixes))
    if encoding == "BIOUL" and not wrong and not any(t[:2] in ("L-", "U-") for t in tags):
        wrong = sorted(t for t in tags if t != "O")  # no L- or U- tag: BIO tags, not BIOUL
    if wrong or not tags:
        raise ConfigurationError(
            f"{student_name}: a span teacher ('span_ner' adapter, label_encoding {encoding!r}) teaches "
            f"a tagger whose labels ({namespace!r}) are {encoding} tags (O, {', '.join(p + '-PER' for p in prefixes)}); "
            f"got {wrong[:5] or 'no labels'}"
        )
    return tags


@TeacherAdapter.register("span_ner")
class SpanNerTeacherAdapter(TaggerTeacherAdapter):
    """
    A span-based NER teacher (`biaffine_span_tagger`, or any `SpanScoringModel`) teaching a CRF or
    softmax tagger through the exact tag marginals of its distribution over non-overlapping
    labelled spans (module docstring). Sentences are keyed on their words and the teacher's inputs
    built as the `"tagger"` adapter's (its subclass); a cache entry holds the teacher's span
    potentials `[n, L, types]` in its own type order.

    Registered as a `TeacherAdapter` with name "span_ner" (the default of a span teacher in
    `allennlp fill-teacher-cache`; a tagger student names it: `teacher: {adapter: {type: 'span_ner'}}`).

    # Parameters

    label_encoding : `str`, optional (default = `"BIO"`)
        The student's tag encoding, `"BIO"` (IOB2) or `"BIOUL"`.
    """

    teacher_types = (SpanScoringModel,)
    scores_type = TaggerScores

    def __init__(self, label_encoding: str = "BIO") -> None:
        if label_encoding not in _PREFIXES:
            raise ConfigurationError(
                f"span_ner label_encoding must be one of {list(_PREFIXES)}, got {label_encoding!r}"
            )
        self.encoding = label_encoding
        self._tables: Dict[Tuple[int, int, str], torch.Tensor] = {}

    def check_student(self, vocab: Vocabulary, label_namespace: str, student_name: str) -> None:
        student_tags(vocab, label_namespace, self.encoding, student_name)

    def compute(
        self, teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int], entry: TeacherRequest
    ) -> List[Tuple[torch.Tensor]]:
        with torch.no_grad():
            potentials, _ = teacher.model.span_potentials(tagger_teacher_tokens(teacher, batch, rows))
        lengths = batch.mask.sum(-1).tolist()
        return [(potentials[j, : lengths[i]],) for j, i in enumerate(rows)]

    def tag_index(self, teacher: FrozenTeacher, batch: TeacherBatch) -> torch.LongTensor:
        """For each tag of `segments.tag_names(teacher types)` the student's label index (-1:
        none); a `ConfigurationError` naming the entity types only one side has."""
        key = (id(teacher), id(batch.vocab), batch.label_namespace)
        if key not in self._tables:
            types = list(teacher.model.entity_types)
            tags = student_tags(batch.vocab, batch.label_namespace, self.encoding, "the student")
            student_types = {t.split("-", 1)[1] for t in tags if t != "O"}
            if student_types != set(types):
                raise ConfigurationError(
                    f"the span teacher {teacher.archive_path!r} and the student label different entity "
                    f"types: only the teacher: {sorted(set(types) - student_types)}, only the student: "
                    f"{sorted(student_types - set(types))}. Train both on the same data"
                )
            self._tables[key] = torch.tensor(
                [tags.get(name, -1) for name in segments.tag_names(types, self.encoding)], dtype=torch.long
            )
        return self._tables[key]

    def assemble(
        self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch, request: TeacherRequest
    ) -> TaggerScores:
        mask = batch.mask
        types = len(teacher.model.entity_types)
        max_length = teacher.model.max_span_length
        spans = mask.new_zeros(batch.batch_size, mask.size(1), max_length, types, dtype=torch.float32)
        for i, (sentence,) in enumerate(per_sentence):
            spans[i, : sentence.size(0)] = sentence.to(spans)
        num_labels = batch.vocab.get_vocab_size(batch.label_namespace)
        segment_scores = SegmentScores(spans, self.tag_index(teacher, batch).to(batch.device), num_labels, self.encoding)
        unary, _ = segment_scores.marginals(mask)
        log_q = safe_log(unary) * mask.unsqueeze(-1)
        return TaggerScores(log_q, mask=mask, segments=segment_scores)
