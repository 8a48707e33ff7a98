"""`pretokenized_parser`: offline parsing of pre-tokenised JSON and of CoNLL-U files."""
import json
import sys

import pytest
from allennlp.commands import main
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.predictors.parser import POS_PLACEHOLDER, PretokenizedParserPredictor

STUDENT = "fixtures/configs/dep_student.jsonnet"
TINY = "fixtures/dep/tiny.conllu"
PLAIN_PARSER = "fixtures/teachers/tiny_dep_teacher.tar.gz"  # a stock biaffine_parser archive
NO_KD = json.dumps({"model.teacher": None, "model.distillation": None})


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory):
    """A tiny distilled_biaffine_parser archive (it embeds POS tags)."""
    out = tmp_path_factory.mktemp("parser") / "run"
    train_model_from_file(STUDENT, str(out), overrides=NO_KD)
    return str(out / "model.tar.gz")


@pytest.fixture(scope="module")
def predictor(archive_path):
    return Predictor.from_archive(load_archive(archive_path))


def test_it_is_the_distilled_parsers_default_predictor(predictor):
    assert isinstance(predictor, PretokenizedParserPredictor)


def test_pretokenized_and_whitespace_input(predictor):
    tokens = predictor.predict_json({"tokens": ["I", "have", "."], "pos": ["PRON", "VERB", "PUNCT"]})
    sentence = predictor.predict_json({"sentence": " I  have .", "pos": ["PRON", "VERB", "PUNCT"]})
    for result in (tokens, sentence):
        assert result["words"] == ["I", "have", "."] and result["pos"] == ["PRON", "VERB", "PUNCT"]
        assert len(result["predicted_heads"]) == 3 and all(0 <= h <= 3 for h in result["predicted_heads"])
        assert len(result["predicted_dependencies"]) == 3
    assert tokens["predicted_heads"] == sentence["predicted_heads"]
    assert predictor.predict(["Chris"], ["PROPN"])["predicted_heads"] == [0]


def test_a_batch_with_empty_and_one_word_sentences(predictor):
    results = predictor.predict_batch_json(
        [
            {"tokens": [], "pos": []},
            {"tokens": ["Chris"], "pos": ["PROPN"]},
            {"sentence": "Work hard .", "pos": ["VERB", "ADV", "PUNCT"]},
        ]
    )
    assert [len(r["predicted_heads"]) for r in results] == [0, 1, 3]
    assert results[0]["predicted_dependencies"] == [] and results[1]["predicted_heads"] == [0]
    assert predictor.predict_json({"sentence": "  ", "pos": []})["predicted_heads"] == []


@pytest.mark.parametrize(
    "json_dict, message",
    [
        ({"tokens": ["I", "have"]}, 'embeds POS tags: each input needs "pos"'),
        ({"tokens": ["I", "have"], "pos": ["PRON"]}, '"pos" has 1 tags for 2 words'),
        ({"sentence": "I have", "pos": "PRON VERB"}, '"pos" must be a list of non-empty strings, got \'PRON VERB\''),
        ({"tokens": ["I"], "pos": [""]}, '"pos" must be a list of non-empty strings'),
        ({"words": ["I"]}, r'each input needs "tokens" \(a list of words\) or "sentence" .*; got the keys \[\'words\'\]'),
    ],
)
def test_bad_input_is_a_clear_value_error(predictor, json_dict, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict_json(json_dict)


def test_a_parser_without_pos_embedding_gets_the_placeholder():
    params = Params.from_file(
        STUDENT,
        json.dumps(
            {
                "model.teacher": None,
                "model.distillation": None,
                "model.pos_tag_embedding": None,
                "model.encoder.input_size": 8,
            }
        ),
    )
    reader = DatasetReader.from_params(params["dataset_reader"])
    vocab = Vocabulary.from_instances(reader.read(TINY))
    model = Model.from_params(vocab=vocab, params=params["model"])
    assert model._pos_tag_embedding is None
    result = PretokenizedParserPredictor(model.eval(), reader).predict_json({"tokens": ["Work", "hard", "."]})
    assert result["pos"] == [POS_PLACEHOLDER] * 3 and len(result["predicted_heads"]) == 3


def test_a_stock_biaffine_parser_archive():
    predictor = Predictor.from_archive(load_archive(PLAIN_PARSER), "pretokenized_parser")
    result = predictor.predict_json({"tokens": ["Great", "Place", "!"], "pos": ["ADJ", "NOUN", "PUNCT"]})
    assert len(result["predicted_dependencies"]) == 3


def _cli(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["allennlp", "predict", *args, "--silent"])
    main()


def test_cli_on_jsonl_and_on_conllu_with_the_dataset_reader(archive_path, tmp_path, monkeypatch):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        '{"tokens": ["I", "have", "."], "pos": ["PRON", "VERB", "PUNCT"]}\n'
        '{"sentence": "Great Place !", "pos": ["ADJ", "NOUN", "PUNCT"]}\n'
    )
    out = tmp_path / "out.jsonl"
    _cli(monkeypatch, archive_path, str(inputs), "--output-file", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [len(r["predicted_heads"]) for r in lines] == [3, 3]

    out = tmp_path / "conllu.jsonl"
    _cli(monkeypatch, archive_path, TINY, "--use-dataset-reader", "--output-file", str(out), "--batch-size", "5")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [len(r["predicted_heads"]) for r in lines] == [9, 9, 10, 1, 3, 6, 10, 9, 9, 11, 11, 3]
    assert all(len(r["predicted_dependencies"]) == len(r["words"]) for r in lines)
