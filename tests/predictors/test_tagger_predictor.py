"""`allennlp predict` on a distilled tagger archive, offline, with the teacher gone."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from allennlp.commands.train import train_model_from_file

import allennlp_subkd  # noqa: F401


@pytest.fixture(scope="module")
def student_archive(tmp_path_factory):
    """A distilled student whose teacher archive no longer exists."""
    work = tmp_path_factory.mktemp("predict")
    teacher = work / "teacher.tar.gz"
    shutil.copy("fixtures/teachers/ner_crf_teacher.tar.gz", teacher)
    overrides = json.dumps({"model.teacher.archive": str(teacher), "trainer.num_epochs": 1})
    train_model_from_file("fixtures/configs/ner_student.jsonnet", work / "student", overrides=overrides)
    os.remove(teacher)
    return work / "student" / "model.tar.gz"


def predict(archive, input_file, output_file, *extra):
    command = [
        sys.executable, "-m", "allennlp", "predict", str(archive), str(input_file),
        "--include-package", "allennlp_subkd", "--output-file", str(output_file), "--silent", *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in open(output_file)]


def test_predict_conll_with_the_dataset_reader(student_archive, tmp_path):
    outputs = predict(student_archive, "fixtures/ner/tiny.conll", tmp_path / "out.jsonl", "--use-dataset-reader")
    sentences = [b for b in open("fixtures/ner/tiny.conll").read().split("\n\n") if b.strip()]
    assert len(outputs) == len(sentences)
    for output, block in zip(outputs, sentences):
        words = [line.split()[0] for line in block.splitlines()]
        assert output["words"] == words
        assert len(output["tags"]) == len(words)


def test_predict_json_lines_tokens_and_sentences(student_archive, tmp_path):
    lines = [
        {"tokens": ["John", "Smith", "lives", "in", "London", "."]},
        {"sentence": "Google opened an office in Paris"},
        {"tokens": ["Rome"]},
        {"tokens": []},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    outputs = predict(student_archive, source, tmp_path / "out.jsonl")
    assert [len(o["tags"]) for o in outputs] == [6, 6, 1, 0]
    assert outputs[1]["words"] == "Google opened an office in Paris".split()
    labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
    assert all(tag in labels for o in outputs for tag in o["tags"])


def test_bad_json_input_is_a_clear_error(student_archive, tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps({"text": "no tokens key"}) + "\n")
    command = [
        sys.executable, "-m", "allennlp", "predict", str(student_archive), str(source),
        "--include-package", "allennlp_subkd", "--output-file", str(tmp_path / "out.jsonl"),
        "--silent",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'needs "tokens"' in result.stderr
