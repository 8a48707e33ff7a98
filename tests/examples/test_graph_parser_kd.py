"""The worked example of docs/extending.md: allennlp-models' graph_parser distilled through a user's
adapter, objective and model, with nothing changed in allennlp_subkd.distillation."""
import itertools
import json
import shutil

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import allennlp_subkd  # noqa: F401
import examples.graph_parser_kd  # noqa: F401  (registers the example)
from examples.graph_parser_kd import GraphScores, StructuralGraphDistillation

TEACHER_CONFIG = "examples/graph_parser_kd/teacher.jsonnet"
STUDENT_CONFIG = "examples/graph_parser_kd/student.jsonnet"
SDP_DATA = "fixtures/sdp/tiny.sdp"


def log_prob(scores: GraphScores, b: int, n: int, arcs, labels, temperature: float) -> torch.Tensor:
    """log P(graph) of a graph parser: independent arcs, a label on each present arc."""
    total = torch.zeros((), dtype=torch.float64)
    for (h, d), present in zip(itertools.product(range(n), repeat=2), arcs):
        logit = scores.arcs[b, h, d] / temperature
        total = total + (torch.nn.functional.logsigmoid(logit) if present else torch.nn.functional.logsigmoid(-logit))
    for (h, d), label in zip([p for p, a in zip(itertools.product(range(n), repeat=2), arcs) if a], labels):
        total = total + (scores.labels[b, h, d] / temperature).log_softmax(-1)[label]
    return total


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_structural_graph_kd_is_the_exact_cross_entropy_over_labelled_graphs(temperature):
    g = torch.Generator().manual_seed(3)
    lengths, R = [2, 1], 2
    mask = torch.tensor([[True, True], [True, False]])

    def scores():
        return GraphScores(torch.randn(2, 2, 2, generator=g, dtype=torch.float64) * 2,
                           torch.randn(2, 2, 2, R, generator=g, dtype=torch.float64), mask)

    teacher, student = scores(), scores()
    kd = StructuralGraphDistillation(temperature=temperature)(student, teacher)
    for b, n in enumerate(lengths):
        expected = torch.zeros((), dtype=torch.float64)
        for arcs in itertools.product([0, 1], repeat=n * n):
            for labels in itertools.product(range(R), repeat=sum(arcs)):
                p_t = log_prob(teacher, b, n, arcs, labels, temperature).exp()
                expected = expected - p_t * log_prob(student, b, n, arcs, labels, temperature)
        assert kd[b].item() == pytest.approx(expected.item() * temperature ** 2, rel=1e-9)


@pytest.fixture(scope="module")
def teacher_archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph_teacher") / "run"
    train_model_from_file(TEACHER_CONFIG, str(out), overrides=json.dumps({"trainer.num_epochs": 2}))
    return str(out / "model.tar.gz")


def test_a_graph_parser_teaches_a_graph_parser_and_the_student_predicts_alone(teacher_archive, tmp_path):
    teacher_copy = tmp_path / "teacher.tar.gz"  # the module's teacher serves the other tests
    shutil.copy(teacher_archive, teacher_copy)
    out = tmp_path / "student"
    model = train_model_from_file(STUDENT_CONFIG, str(out), overrides=json.dumps(
        {"model.teacher.archive": str(teacher_copy), "trainer.num_epochs": 1}))
    assert model.teacher.loaded
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0
    # the student's archive holds no teacher weight and predicts with the teacher gone
    teacher_copy.unlink()
    archive = load_archive(str(out / "model.tar.gz"))
    student = archive.model
    assert not any("teacher" in name for name in student.state_dict())
    assert archive.config["model"]["teacher"]["archive"] == str(teacher_copy)  # named, not needed
    predictor = Predictor.from_archive(archive)  # graph_parser has no default predictor: the base one
    instances = list(archive.validation_dataset_reader.read(SDP_DATA))
    outputs = predictor.predict_batch_instance(instances)
    sentences = [block for block in open(SDP_DATA).read().split("\n\n") if block.strip()]
    assert len(outputs) == len(instances) == len(sentences)
    labels = set(student.vocab.get_token_to_index_vocabulary("labels"))
    for instance, output in zip(instances, outputs):
        words = [token.text for token in instance["tokens"]]
        n = len(words)
        assert output["tokens"] == words
        # the student's own arc probabilities for every word pair of this sentence (no self-loops)
        arc_probs = torch.tensor(output["arc_probs"])[:n, :n]
        pairs = ~torch.eye(n, dtype=torch.bool)
        assert arc_probs.shape == (n, n) and ((arc_probs[pairs] > 0) & (arc_probs[pairs] < 1)).all()
        # the decoded graph (arcs above 0.5, each with a label), possibly empty for this
        # one-epoch student
        assert len(output["arcs"]) == len(output["arc_tags"])
        assert all(0 <= h < n and 0 <= d < n for h, d in output["arcs"])
        assert set(output["arc_tags"]) <= labels
    assert not student.teacher.loaded


def test_an_ensemble_of_graph_teachers_uses_the_core_mixture(teacher_archive, tmp_path):
    model = train_model_from_file(STUDENT_CONFIG, str(tmp_path / "student"), overrides=json.dumps(
        {"model.teacher": {"archive": [teacher_archive, teacher_archive], "weights": [1, 3]},
         "trainer.num_epochs": 1}))
    assert model.teacher_weights == [0.25, 0.75] and len(model.teachers) == 2


def test_a_dependency_parser_cannot_teach_the_graph_parser(tmp_path):
    with pytest.raises(ConfigurationError, match="BiaffineDependencyParser.*GraphParser"):
        train_model_from_file(STUDENT_CONFIG, str(tmp_path / "student"), overrides=json.dumps(
            {"model.teacher.archive": "fixtures/teachers/tiny_dep_teacher.tar.gz", "trainer.num_epochs": 1}))


def test_fill_teacher_cache_drives_the_examples_adapter_byte_for_byte(teacher_archive, tmp_path):
    """`fill-teacher-cache` picks the registered `graph_parser` adapter for a GraphParser
    teacher (no `--adapter`) and writes exactly the entries the student's training writes."""
    from tests.commands.entry_identity import check

    check(STUDENT_CONFIG, "fixtures/sdp/tiny.sdp", {"archive": teacher_archive}, {"type": "structural"}, tmp_path)
