"""Teacher-agreement diagnostics: the metrics against loops, a student identical to its teacher
agrees everywhere with zero KL, and the metrics reach metrics.json."""
import json

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import Batch
from allennlp.models import Model
from allennlp.models.archival import load_archive

import allennlp_subkd  # noqa: F401
from allennlp_subkd.distillation.diagnostics import ExpectedCalibrationError, token_kl

TEACHERS = "fixtures/teachers"


def test_expected_calibration_error_against_a_loop():
    g = torch.Generator().manual_seed(0)
    confidence = torch.rand(3, 50, generator=g)
    correct = torch.rand(3, 50, generator=g) < confidence
    mask = torch.rand(3, 50, generator=g) < 0.8
    metric = ExpectedCalibrationError(bins=10)
    metric(confidence[:2], correct[:2], mask[:2])  # two batches
    metric(confidence[2:], correct[2:], mask[2:])
    conf, right = confidence[mask].tolist(), correct[mask].tolist()
    expected = 0.0
    for b in range(10):
        members = [i for i, c in enumerate(conf) if min(int(c * 10), 9) == b]
        if members:
            accuracy = sum(right[i] for i in members) / len(members)
            mean_conf = sum(conf[i] for i in members) / len(members)
            expected += len(members) / len(conf) * abs(accuracy - mean_conf)
    assert metric.get_metric(reset=True) == pytest.approx(expected)
    assert metric.get_metric() == 0.0


def test_token_kl_against_a_loop():
    g = torch.Generator().manual_seed(1)
    q = torch.rand(2, 4, 3, generator=g).softmax(-1)
    p = torch.rand(2, 4, 3, generator=g).softmax(-1)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    total, count = token_kl(q, p, mask)
    expected = sum(float((q[b, t] * (q[b, t] / p[b, t]).log()).sum()) for b in range(2) for t in range(4) if mask[b, t])
    assert count == 4 and total == pytest.approx(expected, rel=1e-6)


def twin(archive: str, student_type: str, **changes):
    """A distilled student with the teacher archive's own architecture and weights, measuring
    its agreement with that teacher."""
    loaded = load_archive(archive)
    params = loaded.config["model"].as_dict()
    params.update(type=student_type, teacher={"archive": archive, "diagnostics": True}, **changes)
    model = Model.from_params(vocab=loaded.model.vocab, params=Params(params))
    model.load_state_dict(loaded.model.state_dict(), strict=False)
    model.eval()
    instances = list(loaded.dataset_reader.read(loaded.config["train_data_path"]))[:12]
    batch = Batch(instances)
    batch.index_instances(loaded.model.vocab)
    return model, batch.as_tensor_dict()


def test_a_tagger_identical_to_its_teacher_agrees_everywhere():
    model, tensors = twin(f"{TEACHERS}/ner_crf_teacher.tar.gz", "distilled_crf_tagger", constrain_crf_decoding=False)
    model(**tensors)
    metrics = model.get_metrics(reset=True)
    assert metrics["teacher_agreement"] == 1.0 and metrics["teacher_kl"] == pytest.approx(0.0, abs=1e-5)
    assert 0.0 <= metrics["calibration_error"] <= 1.0
    assert "kd_loss" not in metrics


def test_a_parser_identical_to_its_teacher_agrees_everywhere():
    model, tensors = twin(f"{TEACHERS}/tiny_dep_teacher.tar.gz", "distilled_biaffine_parser",
                          use_mst_decoding_for_validation=False)
    model(**tensors)
    metrics = model.get_metrics(reset=True)
    assert metrics["teacher_arc_agreement"] == 1.0 and metrics["teacher_label_agreement"] == 1.0
    assert metrics["teacher_kl"] == pytest.approx(0.0, abs=1e-5)
    assert 0.0 <= metrics["calibration_error"] <= 1.0


@pytest.mark.parametrize("config, teacher, keys", [
    ("fixtures/configs/ner_student.jsonnet", "ner_crf_teacher", ["teacher_agreement"]),
    ("fixtures/configs/ner_softmax_student.jsonnet", "ner_crf_teacher", ["teacher_agreement"]),
    ("fixtures/configs/dep_student.jsonnet", "tiny_dep_teacher", ["teacher_arc_agreement", "teacher_label_agreement"]),
])
def test_diagnostics_reach_metrics_json_without_a_kd_objective(config, teacher, keys, tmp_path):
    overrides = {"model.teacher": {"archive": f"{TEACHERS}/{teacher}.tar.gz", "diagnostics": True},
                 "model.distillation": None, "trainer.num_epochs": 1}
    train_model_from_file(config, str(tmp_path / "run"), overrides=json.dumps(overrides))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in keys + ["teacher_kl", "calibration_error"]:
        assert 0.0 <= metrics[f"validation_{key}"] and f"training_{key}" not in metrics
    assert all(0.0 <= metrics[f"validation_{key}"] <= 1.0 for key in keys)
