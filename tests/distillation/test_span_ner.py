"""Scenario 4 (a span teacher, a tagger student): the KD terms against enumerating every
segmentation, and the `span_ner` adapter's errors."""
import itertools
import json

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, Vocabulary
from allennlp.data.dataset_readers import DatasetReader
from allennlp.models import Model

import allennlp_subkd  # noqa: F401
from allennlp_subkd.distillation.objectives.scores import SegmentScores, TaggerScores
from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.structures import segments as seg
from tests.structures.test_segments import _score, _segmentations

TYPES = ["LOC", "PER"]
LENGTHS = [3, 1, 4]
STUDENT = "fixtures/configs/ner_student.jsonnet"
SPAN_TEACHER = "fixtures/teachers/tiny_span_teacher.tar.gz"


def _student_labels(encoding):
    """A student label order that is not the canonical one, with every tag."""
    names = seg.tag_names(TYPES, encoding)
    return names[::-1]


def _teacher(encoding, seed=0, max_length=3, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    spans = scale * torch.randn(len(LENGTHS), max(LENGTHS), max_length, len(TYPES), generator=gen, dtype=torch.float64)
    labels = _student_labels(encoding)
    index = torch.tensor([labels.index(name) for name in seg.tag_names(TYPES, encoding)])
    mask = torch.arange(max(LENGTHS)).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)
    segment_scores = SegmentScores(spans, index, len(labels), encoding)
    unary, _ = segment_scores.marginals(mask)
    return TaggerScores(unary.clamp(min=1e-300).log(), mask=mask, segments=segment_scores), mask


def _teacher_sequences(teacher: TaggerScores, b: int, encoding: str, temperature: float = 1.0):
    """{tag sequence (student label ids): P_t^T} by enumerating segmentations."""
    spans = teacher.segments.spans[b] / temperature
    labels = _student_labels(encoding)
    n = LENGTHS[b]
    found = {}
    all_s = _segmentations(n, spans.size(1), len(TYPES))
    scores = torch.stack([_score(spans, spans.new_zeros(spans.size(0)), s, n) for s in all_s])
    probs = (scores - scores.logsumexp(0)).exp()
    for p, s in zip(probs, all_s):
        tags = seg.segments_to_tags([(a, e, TYPES[c]) for a, e, c in s], n, encoding)
        found[tuple(labels.index(t) for t in tags)] = float(p)
    return found


def _student(crf, num_labels, seed=1):
    gen = torch.Generator().manual_seed(seed)
    size, length = len(LENGTHS), max(LENGTHS)
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)
    emissions = torch.randn(size, length, num_labels, generator=gen, dtype=torch.float64)
    if not crf:
        return TaggerScores(emissions, mask=mask)
    return TaggerScores(emissions, torch.randn(num_labels, num_labels, generator=gen, dtype=torch.float64),
                        torch.randn(num_labels, generator=gen, dtype=torch.float64),
                        torch.randn(num_labels, generator=gen, dtype=torch.float64), mask)


def _student_log_probs(student: TaggerScores, b: int, temperature: float):
    """{label sequence: log P_s^T} over every sequence of sentence b (vectorised enumeration)."""
    n = LENGTHS[b]
    num_labels = student.emissions.size(-1)
    seqs = torch.tensor(list(itertools.product(range(num_labels), repeat=n)))
    scores = student.emissions[b, torch.arange(n), seqs].sum(-1)
    if student.is_crf:
        scores = scores + student.start[seqs[:, 0]] + student.end[seqs[:, -1]]
        if n > 1:
            scores = scores + student.transitions[seqs[:, :-1], seqs[:, 1:]].sum(-1)
    scores = scores / temperature  # a softmax student: normalising over all sequences = per token
    log_p = scores - scores.logsumexp(0)
    return {tuple(y): float(v) for y, v in zip(seqs.tolist(), log_p)}


@pytest.mark.parametrize("encoding", ["BIO", "BIOUL"])
@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_structural_is_the_exact_cross_entropy_with_the_segment_distribution(encoding, crf, temperature):
    teacher, _ = _teacher(encoding)
    student = _student(crf, len(_student_labels(encoding)))
    objective = TaggerDistillation.from_params(Params({"type": "structural", "temperature": temperature}))
    kd = objective(student, teacher)
    for b in range(len(LENGTHS)):
        log_p = _student_log_probs(student, b, temperature)
        expected = -sum(p * log_p[y] for y, p in _teacher_sequences(teacher, b, encoding, temperature).items())
        assert kd[b].item() == pytest.approx(expected * temperature ** 2, rel=1e-9)


def test_posterior_uses_the_exact_token_marginals():
    teacher, mask = _teacher("BIO")
    student = _student(False, len(_student_labels("BIO")))
    kd = TaggerDistillation.from_params(Params({"type": "posterior"}))(student, teacher)
    for b in range(len(LENGTHS)):
        n = LENGTHS[b]
        q = torch.zeros(n, len(_student_labels("BIO")), dtype=torch.float64)
        for y, p in _teacher_sequences(teacher, b, "BIO").items():
            for t, label in enumerate(y):
                q[t, label] += p
        log_p = student.emissions[b, :n].log_softmax(-1)
        expected = (torch.xlogy(q, q) - q * log_p).sum()
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9)


@pytest.mark.parametrize("objective", [{"type": "sub_structure"}, {"type": "top_k"}])
def test_objectives_that_compare_scores_refuse_a_span_teacher(objective):
    teacher, _ = _teacher("BIO")
    student = _student(True, len(_student_labels("BIO")))
    with pytest.raises(ConfigurationError, match="span teacher"):
        TaggerDistillation.from_params(Params(objective)).check(student, teacher)


def test_a_student_without_some_tag_gets_renormalised_marginals():
    teacher, mask = _teacher("BIO")
    labels = _student_labels("BIO")
    index = teacher.segments.tag_index.clone()
    dropped = labels.index("I-PER")
    index[index == dropped] = -1
    partial = SegmentScores(teacher.segments.spans, index, len(labels), "BIO")
    unary, pairwise = partial.marginals(mask)
    assert torch.allclose(unary.sum(-1), mask.double())
    assert unary[..., dropped].abs().sum() == 0
    assert torch.allclose(pairwise.sum((-1, -2)), mask[:, 1:].double())


# ---------------------------------------------------------------------------- the adapter, in a model


def _model(typ="distilled_crf_tagger", teacher=SPAN_TEACHER, adapter=None, distillation=None, data="fixtures/ner/tiny.conll"):
    model = {"teacher": {"archive": teacher, "adapter": adapter or {"type": "span_ner"}},
             "distillation": distillation or {"type": "structural"}}
    params = Params.from_file(STUDENT, json.dumps({f"model.{k}": v for k, v in model.items()}))
    reader = DatasetReader.from_params(params["dataset_reader"])
    instances = list(reader.read(data))
    vocab = Vocabulary.from_instances(instances)
    model_params = params["model"]
    if typ == "distilled_simple_tagger":
        for key in ("constrain_crf_decoding", "include_start_end_transitions", "dropout"):
            model_params.pop(key, None)
    model_params["type"] = typ
    return Model.from_params(vocab=vocab, params=model_params), instances, vocab


def _forward(model, instances, vocab):
    model.train()
    batch = Batch(instances)
    batch.index_instances(vocab)
    return model(**batch.as_tensor_dict())


@pytest.mark.parametrize("typ", ["distilled_crf_tagger", "distilled_simple_tagger"])
@pytest.mark.parametrize("objective", ["structural", "posterior", "token"])
def test_a_span_teacher_teaches_crf_and_softmax_students(typ, objective):
    model, instances, vocab = _model(typ, distillation={"type": objective, "alpha": 0.5})
    output = _forward(model, instances, vocab)
    assert torch.isfinite(output["loss"]) and output["kd_loss"] > 0
    output["loss"].backward()


def test_a_span_teacher_with_other_entity_types_is_a_clear_error():
    model, instances, vocab = _model(teacher="fixtures/teachers/tiny_span_teacher_misc.tar.gz")
    with pytest.raises(ConfigurationError, match=r"different entity types: only the teacher: \['MISC'\]"):
        _forward(model, instances, vocab)


def test_a_student_in_another_encoding_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="BIOUL tags"):
        _model(adapter={"type": "span_ner", "label_encoding": "BIOUL"})
    with pytest.raises(ConfigurationError, match="label_encoding must be one of"):
        _model(adapter={"type": "span_ner", "label_encoding": "IOB1"})


def test_sub_structure_with_a_span_teacher_fails_at_the_first_batch():
    model, instances, vocab = _model(distillation={"type": "sub_structure"})
    with pytest.raises(ConfigurationError, match="span teacher"):
        _forward(model, instances, vocab)


def test_a_crf_teacher_through_the_span_adapter_is_refused():
    model, instances, vocab = _model(teacher="fixtures/teachers/ner_crf_teacher.tar.gz")
    with pytest.raises(ConfigurationError, match="SpanScoringModel|span_ner"):
        _forward(model, instances, vocab)
