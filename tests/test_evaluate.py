"""`allennlp evaluate` of a distilled student's archive with its teacher's file deleted: the
teacher is only named in the archive's config and loaded lazily for training, so evaluation
(and its predictions) run on the student alone and write their metrics."""
import json
import math
import shutil
import sys

import pytest
from allennlp.commands import main
from allennlp.commands.train import train_model_from_file

import allennlp_subkd  # noqa: F401

CASES = {
    "crf_tagger": ("fixtures/configs/ner_student.jsonnet", "fixtures/teachers/ner_crf_teacher.tar.gz",
                   "fixtures/ner/tiny.conll", "accuracy", "tags"),
    "biaffine_parser": ("fixtures/configs/dep_student.jsonnet", "fixtures/teachers/tiny_dep_teacher.tar.gz",
                        "fixtures/dep/tiny.conllu", "LAS", "predicted_heads"),
}


def sentences(path: str) -> int:
    return sum(1 for block in open(path).read().split("\n\n") if block.strip())


@pytest.mark.parametrize("student", sorted(CASES))
def test_allennlp_evaluate_of_a_student_archive_with_the_teacher_deleted(student, tmp_path, monkeypatch):
    config, teacher, data, metric, predicted = CASES[student]
    teacher_copy = tmp_path / "teacher.tar.gz"
    shutil.copy(teacher, teacher_copy)
    out = tmp_path / "student"
    model = train_model_from_file(config, str(out), overrides=json.dumps({
        "model.teacher.archive": str(teacher_copy), "model.distillation": {"type": "structural"},
        "trainer.num_epochs": 1}))
    assert model.teacher.loaded  # a real distilled student...
    assert json.loads((out / "metrics.json").read_text())["training_kd_loss"] > 0
    teacher_copy.unlink()  # ...whose teacher is gone

    metrics_file, predictions_file = tmp_path / "evaluation.json", tmp_path / "predictions.jsonl"
    monkeypatch.setattr(sys, "argv", [
        "allennlp", "evaluate", str(out / "model.tar.gz"), data,
        "--output-file", str(metrics_file), "--predictions-output-file", str(predictions_file),
        "--include-package", "allennlp_subkd",
    ])
    main(prog="allennlp")
    metrics = json.loads(metrics_file.read_text())
    assert 0 <= metrics[metric] <= 1 and math.isfinite(metrics["loss"])
    assert not any("kd" in name for name in metrics)  # evaluation never computes KD
    # one JSON line per batch, holding each sentence's words and prediction
    batches = [json.loads(line) for line in predictions_file.read_text().splitlines() if line.strip()]
    assert sum(len(batch["words"]) for batch in batches) == sentences(data)
    for batch in batches:
        assert [len(p) for p in batch[predicted]] == [len(w) for w in batch["words"]]
