"""Gold labels the model never saw are errors, not crashes: `allennlp evaluate` and
`predict --use-dataset-reader` on files with a relation (`dep`) or an entity type (`MISC`) the
training data lacked count them as wrong labels (LAS, span F1, accuracy), with one warning
naming each, for our models and for a stock parser archive read through our reader."""
import json
import logging
import sys

import pytest
from allennlp.commands import main
from allennlp.commands.train import train_model_from_file
import torch
from allennlp.data import Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.training.metrics import SpanBasedF1Measure

import allennlp_subkd  # noqa: F401
from allennlp_subkd.data.open_label_field import OpenSequenceLabelField, unseen_labels

TEACHERS = "fixtures/teachers"
DEP_UNSEEN = "fixtures/dep/tiny_unseen_relations.conllu"  # two words with relations tiny.conllu lacks
NER_MISC = "fixtures/ner/tiny_misc.conll"  # tiny.conll with a B-MISC entity


def evaluate(archive, data, tmp_path, monkeypatch, *extra):
    metrics_file, predictions_file = tmp_path / "evaluation.json", tmp_path / "predictions.jsonl"
    monkeypatch.setattr(sys, "argv", [
        "allennlp", "evaluate", archive, data, "--output-file", str(metrics_file),
        "--predictions-output-file", str(predictions_file), "--include-package", "allennlp_subkd", *extra,
    ])
    main(prog="allennlp")
    predictions = [json.loads(line) for line in predictions_file.read_text().splitlines() if line.strip()]
    return json.loads(metrics_file.read_text()), predictions


def conllu_gold(path):
    sentences = []
    for block in open(path, encoding="utf-8").read().split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if line and line[0].isdigit()]
        rows = [r for r in rows if r[0].isdigit()]
        if rows:
            sentences.append([(r[1], (int(r[6]), r[7], r[3])) for r in rows])
    return sentences


def test_the_field_gives_unseen_labels_indices_past_the_vocabulary_and_warns_once(caplog):
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(["nsubj", "obj"], "head_tags")
    text = TextField([Token(w) for w in "a b c d".split()])
    with caplog.at_level(logging.WARNING):
        first = OpenSequenceLabelField(["obj", "dep", "nsubj", "dep"], text, "head_tags")
        first.index(vocab)
        second = OpenSequenceLabelField(["goeswith", "dep", "obj", "obj"], text, "head_tags")
        second.index(vocab)
    assert first._indexed_labels == [1, 2, 0, 2] and second._indexed_labels == [3, 2, 1, 1]
    assert unseen_labels(vocab, "head_tags") == {2: "dep", 3: "goeswith"}
    warned = [r.getMessage() for r in caplog.records if "never saw" in r.getMessage()]
    assert len(warned) == 2 and "'dep'" in warned[0] and "'goeswith'" in warned[1]


@pytest.fixture(scope="module")
def parser_student(tmp_path_factory):
    out = tmp_path_factory.mktemp("parser") / "run"
    train_model_from_file("fixtures/configs/dep_student.jsonnet", str(out), overrides=json.dumps(
        {"model.distillation": {"type": "structural"}, "trainer.num_epochs": 1}))
    return str(out / "model.tar.gz")


@pytest.mark.parametrize("archive", ["student", "stock"])
def test_a_parser_counts_an_unseen_relation_as_a_wrong_label(archive, parser_student, tmp_path, monkeypatch, caplog):
    extra = []
    if archive == "stock":  # allennlp-models' biaffine_parser, read through our reader and model
        path = f"{TEACHERS}/tiny_dep_teacher.tar.gz"
        extra = ["--overrides", json.dumps({"dataset_reader.type": "checked_universal_dependencies",
                                            "model.type": "distilled_biaffine_parser"})]
    else:
        path = parser_student
    with caplog.at_level(logging.WARNING):
        metrics, predictions = evaluate(path, DEP_UNSEEN, tmp_path, monkeypatch, *extra)
    warned = [r.getMessage() for r in caplog.records if "is not in the model's 'head_tags' labels" in r.getMessage()]
    assert len(warned) == 2 and "'dep'" in warned[0] and "'goeswith'" in warned[1]  # one warning each
    gold = conllu_gold(DEP_UNSEEN)  # by words: the loader batches sentences by length
    by_words = {tuple(w for w, _ in sentence): [(h, r, p) for _, (h, r, p) in sentence] for sentence in gold}
    flat = [(h, r, d_h, d_r, p) for batch in predictions
            for words, heads, relations in zip(batch["words"], batch["predicted_heads"], batch["predicted_dependencies"])
            for h, r, (d_h, d_r, p) in zip(heads, relations, by_words[tuple(words)])]
    scored = [(h, r, d_h, d_r) for h, r, d_h, d_r, p in flat if p not in ("PUNCT", "SYM")]
    assert sorted(d_r for *_, d_r in scored if d_r in ("dep", "goeswith")) == ["dep", "goeswith"]  # both scored
    las = sum(h == d_h and r == d_r for h, r, d_h, d_r in scored) / len(scored)
    uas = sum(h == d_h for h, _, d_h, _ in scored) / len(scored)
    assert metrics["LAS"] == pytest.approx(las) and metrics["UAS"] == pytest.approx(uas)
    assert all(r != "dep" for h, r, *_ in flat)  # no prediction can be the unseen relation


@pytest.fixture(scope="module")
def tagger_student(tmp_path_factory):
    out = tmp_path_factory.mktemp("tagger") / "run"
    train_model_from_file("fixtures/configs/ner_student.jsonnet", str(out), overrides=json.dumps(
        {"model.distillation": {"type": "structural"}, "trainer.num_epochs": 1}))
    return str(out / "model.tar.gz")


def test_a_tagger_counts_an_unseen_entity_type_as_missed(tagger_student, tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        metrics, predictions = evaluate(tagger_student, NER_MISC, tmp_path, monkeypatch)
    warned = [r.getMessage() for r in caplog.records if "never saw" in r.getMessage()]
    assert len(warned) == 1 and "'B-MISC' is not in the model's 'labels' labels" in warned[0]
    gold = [[line.split()[3] for line in block.splitlines()]
            for block in open(NER_MISC).read().split("\n\n") if block.strip()]
    predicted = [tags for batch in predictions for tags in batch["tags"]]
    assert len(predicted) == len(gold)
    # span F1 by AllenNLP's metric on the label strings, the unseen label included
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(sorted({t for s in gold + predicted for t in s}), "labels")
    f1 = SpanBasedF1Measure(vocab, "labels", label_encoding="BIO")

    for g, p in zip(gold, predicted):
        index = vocab.get_token_to_index_vocabulary("labels")
        scores = torch.zeros(1, len(p), vocab.get_vocab_size("labels"))
        for t, tag in enumerate(p):
            scores[0, t, index[tag]] = 1.0
        f1(scores, torch.tensor([[index[tag] for tag in g]]), torch.ones(1, len(g), dtype=torch.bool))
    expected = f1.get_metric()
    assert metrics["f1-measure-overall"] == pytest.approx(expected["f1-measure-overall"])
    assert metrics["recall-overall"] == pytest.approx(expected["recall-overall"])
    accuracy = sum(a == b for g, p in zip(gold, predicted) for a, b in zip(g, p)) / sum(len(g) for g in gold)
    assert metrics["accuracy"] == pytest.approx(accuracy)


def test_predict_with_the_dataset_reader_on_unseen_labels(parser_student, tmp_path, monkeypatch):
    output = tmp_path / "predictions.jsonl"
    monkeypatch.setattr(sys, "argv", [
        "allennlp", "predict", parser_student, DEP_UNSEEN, "--use-dataset-reader", "--output-file", str(output),
        "--silent", "--include-package", "allennlp_subkd",
    ])
    main(prog="allennlp")
    lines = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    assert len(lines) == len(conllu_gold(DEP_UNSEEN))
    assert all(len(line["predicted_heads"]) == len(line["words"]) for line in lines)


@pytest.mark.parametrize("config, data, namespace, unseen", [
    ("fixtures/configs/ner_softmax_student.jsonnet", NER_MISC, "labels", ["B-MISC"]),
    ("fixtures/configs/dep_tagger_student.jsonnet", DEP_UNSEEN, "labels", ["+1@VERB@dep", "-1@VERB@goeswith"]),
], ids=["simple_tagger", "dependency_tagger"])
def test_the_softmax_taggers_evaluate_files_with_unseen_labels(config, data, namespace, unseen, tmp_path, monkeypatch):
    from allennlp_subkd.data import open_label_field

    out = tmp_path / "run"
    train_model_from_file(config, str(out), overrides=json.dumps({"trainer.num_epochs": 1}))
    warnings = []  # allennlp train reconfigures logging: record the warnings at their source
    monkeypatch.setattr(open_label_field.logger, "warning", lambda message, *args: warnings.append(message % args))
    metrics, predictions = evaluate(str(out / "model.tar.gz"), data, tmp_path, monkeypatch)
    assert 0 <= metrics["accuracy"] < 1 and sum(len(b["words"]) for b in predictions) == len(
        [b for b in open(data).read().split("\n\n") if b.strip() and any(line[0].isdigit() or not line.startswith("#") for line in b.splitlines())])
    assert sorted(message.split("'")[1] for message in warnings) == sorted(unseen)
    assert all(f"is not in the model's '{namespace}' labels" in message for message in warnings)
