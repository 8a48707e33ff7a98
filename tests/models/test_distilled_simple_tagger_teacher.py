"""A softmax (`simple_tagger`) teacher teaching a `distilled_crf_tagger` with `top_k`, checked
against a brute-force enumeration of every labelling; and `label_weights` (a weighted CRF),
refused with distillation, kept without."""
import copy
import itertools
import math
from typing import Dict, List, Tuple

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Token, Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp_models.tagging import CrfTagger

import allennlp_subkd  # noqa: F401  (registers everything)

STUDENT = "fixtures/configs/ner_student.jsonnet"
TINY = "fixtures/ner/tiny.conll"
TEACHERS = "fixtures/teachers"

#: short sentences (1 to 3 words, so every labelling can be enumerated) with gold tags
SHORT = [
    (["Miramar"], ["B-LOC"]),
    (["Dominion", "Post"], ["B-ORG", "I-ORG"]),
    (["Suzanne", "voted", "."], ["B-PER", "O", "O"]),
]


def student_model_params() -> Tuple[Dict, DatasetReader, Vocabulary, List]:
    params = Params.from_file(STUDENT)
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(TINY))
    vocab = Vocabulary.from_instances(instances)
    return params.pop("model").as_dict(), reader, vocab, instances


def build(**model) -> Tuple[Model, DatasetReader, Vocabulary, List]:
    """The tiny CRF student with `model` keys replaced, its reader, vocabulary and data."""
    model_params, reader, vocab, instances = student_model_params()
    model_params.update(model)
    torch.manual_seed(0)
    return Model.from_params(vocab=vocab, params=Params(model_params)), reader, vocab, instances


def read(reader: DatasetReader, words: List[str], tags: List[str] = None):
    """One instance made by the reader, with its token indexers."""
    instance = reader.text_to_instance([Token(w) for w in words], ner_tags=tags)
    reader.apply_token_indexers(instance)
    return instance


def tensors(instances, vocab) -> Dict:
    batch = Batch(instances)
    batch.index_instances(vocab)
    return batch.as_tensor_dict()


# --------------------------------------------------------------------------- brute force


def teacher_probabilities(archive_path: str, sentences: List[List[str]], student_labels: List[str]) -> List[torch.Tensor]:
    """The softmax teacher's `[n, labels]` token distributions, read straight from the archive
    (its own reader, vocabulary and `forward`), the labels in the student's order."""
    archive = load_archive(archive_path)
    teacher = archive.model.eval()
    instances = [read(archive.dataset_reader, words) for words in sentences]
    with torch.no_grad():
        probabilities = teacher(**tensors(instances, teacher.vocab))["class_probabilities"]
    index = [teacher.vocab.get_token_index(label, teacher.label_namespace) for label in student_labels]
    return [probabilities[i, : len(words)][:, index].double() for i, words in enumerate(sentences)]


def crf_log_probabilities(crf, emissions: torch.Tensor) -> Dict[Tuple[int, ...], float]:
    """`log P_s(y)` of every labelling y of one sentence (`emissions [n, labels]`) under the
    student's CRF: start + emissions + transitions + end, normalised by enumeration."""
    transitions = crf.transitions.detach().double()
    start, end = crf.start_transitions.detach().double(), crf.end_transitions.detach().double()
    n, labels = emissions.shape
    scores = {}
    for y in itertools.product(range(labels), repeat=n):
        score = start[y[0]] + end[y[-1]] + sum(emissions[t, y[t]] for t in range(n))
        score = score + sum(transitions[y[t - 1], y[t]] for t in range(1, n))
        scores[y] = float(score)
    log_z = float(torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0))
    return {y: s - log_z for y, s in scores.items()}


def brute_force_top_k(p_teacher: torch.Tensor, log_p_student: Dict, k: int, weighting: str, temperature: float) -> float:
    """`Σ_k w_k · -log P_s(ŷ_k)`, ŷ_k the k most probable labellings under the teacher's
    factorised distribution `P_t(y) = Π_t p_t(y_t)` (all of them when there are fewer),
    `w_k ∝ P_t(ŷ_k)^(1/T)` renormalised over them, or `1/k`."""
    p_t = {y: math.prod(float(p_teacher[t, label]) for t, label in enumerate(y)) for y in log_p_student}
    best = sorted(p_t, key=p_t.get, reverse=True)[:k]
    if weighting == "uniform":
        weights = [1.0 / len(best)] * len(best)
    else:
        tempered = [p_t[y] ** (1.0 / temperature) for y in best]
        weights = [w / sum(tempered) for w in tempered]
    return sum(-w * log_p_student[y] for w, y in zip(weights, best))


# --------------------------------------------------------------------------- top_k


@pytest.mark.parametrize(
    "teacher, k, weighting, temperature",
    [
        ("tiny_simple_teacher", 3, "teacher", 1.0),  # the teacher reads the student's tensors
        ("ner_softmax_teacher", 4, "teacher", 2.0),  # words + chars: its inputs are rebuilt
        ("ner_softmax_teacher", 2, "uniform", 1.0),
        ("tiny_simple_teacher", 8, "teacher", 0.5),  # 8 > the 7 labellings of a 1-word sentence
    ],
)
def test_top_k_of_a_softmax_teacher_equals_the_enumerated_objective(teacher, k, weighting, temperature):
    archive = f"{TEACHERS}/{teacher}.tar.gz"
    alpha = 0.5
    model, reader, vocab, instances = build(
        teacher={"archive": archive},
        distillation={"type": "top_k", "k": k, "weighting": weighting, "temperature": temperature, "alpha": alpha},
    )
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for start in range(0, 15, 5):  # a few training batches first: a student that is not at its init
        optimizer.zero_grad()
        output = model(**tensors(instances[start: start + 5], vocab))
        assert torch.isfinite(output["kd_loss"]) and output["kd_loss"] > 0
        output["loss"].backward()
        optimizer.step()
    assert model.teacher.loaded and type(model.teacher.model).__name__ == "SimpleTagger"

    sentences = [words for words, _ in SHORT]
    short = [read(reader, words, tags) for words, tags in SHORT]
    output = model(**tensors(short, vocab))  # in training mode: the KD term is computed

    labels = [vocab.get_token_from_index(i, "labels") for i in range(vocab.get_vocab_size("labels"))]
    p_teacher = teacher_probabilities(archive, sentences, labels)
    kd, gold = 0.0, 0.0
    for i, (words, tags) in enumerate(SHORT):
        log_p = crf_log_probabilities(model.crf, output["logits"][i, : len(words)].detach().double())
        kd += brute_force_top_k(p_teacher[i], log_p, k, weighting, temperature)
        gold -= log_p[tuple(labels.index(tag) for tag in tags)]
    assert output["kd_loss"].item() == pytest.approx(kd, rel=1e-5, abs=1e-5)
    assert output["loss"].item() == pytest.approx((1 - alpha) * gold + alpha * kd, rel=1e-5, abs=1e-5)


# --------------------------------------------------------------------------- label_weights

LABEL_WEIGHTS = {"O": 0.2, "B-PER": 5.0, "I-ORG": 2.0}


def test_label_weights_with_distillation_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=(
        r"^distilled_crf_tagger: label_weights \(a weighted CRF\) cannot be combined with distillation, "
        r"whose objectives assume the plain CRF likelihood$"
    )):
        build(teacher={"archive": f"{TEACHERS}/tiny_simple_teacher.tar.gz"},
              distillation={"type": "top_k"}, label_weights=LABEL_WEIGHTS)


def weighted_losses(use_batched_viterbi: bool) -> Tuple[float, float]:
    """The gold loss of the distilled_crf_tagger with `label_weights` and no distillation, and of
    allennlp-models' `crf_tagger` with the same weights, parameters and batch (no dropout)."""
    model_params, _, vocab, instances = student_model_params()
    model_params.update(teacher=None, distillation=None, label_weights=LABEL_WEIGHTS, dropout=0.0)
    ours = Model.from_params(vocab=vocab, params=Params(copy.deepcopy({
        **model_params, "use_batched_viterbi": use_batched_viterbi})))
    stock_params = {k: v for k, v in model_params.items() if k not in ("teacher", "distillation")}
    stock = Model.from_params(vocab=vocab, params=Params({**stock_params, "type": "crf_tagger"}))
    assert type(stock) is CrfTagger
    stock.load_state_dict(ours.state_dict())
    batch = tensors(instances, vocab)
    return ours(**batch)["loss"].item(), stock(**batch)["loss"].item()


def test_label_weights_without_distillation_builds_and_trains():
    model, _, vocab, instances = build(teacher=None, distillation=None, label_weights=LABEL_WEIGHTS)
    model.train()
    output = model(**tensors(instances, vocab))
    output["loss"].backward()
    assert torch.isfinite(output["loss"]) and model.teacher is None
    assert model.crf.label_weights.tolist() == pytest.approx(
        [LABEL_WEIGHTS.get(vocab.get_token_from_index(i, "labels"), 1.0) for i in range(vocab.get_vocab_size("labels"))]
    )


def test_label_weights_with_the_stock_decoder_weight_the_loss_like_crf_tagger():
    ours, stock = weighted_losses(use_batched_viterbi=False)
    assert ours == pytest.approx(stock, rel=1e-6)


def test_label_weights_with_the_batched_decoder_weight_the_loss_like_crf_tagger():
    ours, stock = weighted_losses(use_batched_viterbi=True)
    assert ours == pytest.approx(stock, rel=1e-6)
