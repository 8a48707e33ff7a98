"""Hostile input for `allennlp predict` with our predictors: a clear error or a correct result,
never a stack trace from inside torch, and always exactly one label per input word."""
import json
import re
import sys

import pytest
from allennlp.commands import main
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.data import CheckedConll2003DatasetReader
from allennlp_subkd.predictors.pretokenized import tokenize

NO_KD = json.dumps({"model.teacher": None, "model.distillation": None})


@pytest.fixture(scope="module")
def tagger_archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("tagger") / "run"
    train_model_from_file("fixtures/configs/ner_student.jsonnet", str(out), overrides=NO_KD)
    return str(out / "model.tar.gz")


@pytest.fixture(scope="module")
def parser_archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("parser") / "run"
    train_model_from_file("fixtures/configs/dep_student.jsonnet", str(out), overrides=NO_KD)
    return str(out / "model.tar.gz")


def predict(archive, lines, tmp_path, *extra):
    """`allennlp predict` on these input lines; the output lines (JSON)."""
    source, target = tmp_path / "input.jsonl", tmp_path / "output.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["allennlp", "predict", archive, str(source), "--output-file", str(target), "--silent",
            "--include-package", "allennlp_subkd", *extra]
    old = sys.argv
    sys.argv = argv
    try:
        main()
    finally:
        sys.argv = old
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def test_the_sentence_tokenizer_splits_punctuation_contractions_and_keeps_urls():
    assert tokenize("EU rejects German call.") == ["EU", "rejects", "German", "call", "."]
    assert tokenize("I can't go, can you?") == ["I", "ca", "n't", "go", ",", "can", "you", "?"]
    assert tokenize("See https://example.com/a?b=1 now") == ["See", "https://example.com/a?b=1", "now"]
    assert tokenize("  spaced   out  ") == ["spaced", "out"]
    assert tokenize("call.", "whitespace") == ["call."]
    with pytest.raises(ValueError, match=r"^sentence_tokenizer must be one of \('spacy', 'whitespace'\), got 'bpe'$"):
        tokenize("x", "bpe")


def test_raw_sentences_are_tokenised_unless_whitespace_is_asked_for(tagger_archive, tmp_path):
    lines = [json.dumps({"sentence": "EU rejects German call."})]
    (spacy,) = predict(tagger_archive, lines, tmp_path)
    assert spacy["words"] == ["EU", "rejects", "German", "call", "."] and len(spacy["tags"]) == 5
    (split,) = predict(tagger_archive, lines, tmp_path, "--predictor-args", json.dumps({"sentence_tokenizer": "whitespace"}))
    assert split["words"] == ["EU", "rejects", "German", "call."]
    with pytest.raises(ConfigurationError, match=r"^sentence_tokenizer must be one of \('spacy', 'whitespace'\), got 'x'$"):
        Predictor.from_archive(load_archive(tagger_archive), "pretokenized_tagger", extra_args={"sentence_tokenizer": "x"})


def test_a_malformed_json_line_is_named_by_its_number(tagger_archive, tmp_path):
    lines = [json.dumps({"tokens": ["a"]}), "", json.dumps({"tokens": ["b"]}), '{"tokens": ["c"', "[1, 2]"]
    with pytest.raises(ValueError, match=r"input line 3 \(counting non-blank lines\) is not valid JSON"):
        predict(tagger_archive, lines, tmp_path)
    with pytest.raises(ValueError, match=r"input line 1 .* must be a JSON object"):
        predict(tagger_archive, ["[1, 2]"], tmp_path)


HOSTILE = [
    {"tokens": []},
    {"sentence": ""},
    {"sentence": "   "},
    {"tokens": ["Zürich", "😀", "東京", "naïve", "\x07", "\u200b"]},
    {"tokens": ["word"] * 400},
    {"sentence": "Emoji 😀 and control \x07 chars, über-long https://x.y/z?q=1#f."},
]


@pytest.mark.parametrize("kind", ["tagger", "parser"])
def test_every_output_has_one_label_per_input_word(kind, tagger_archive, parser_archive, tmp_path):
    archive = tagger_archive if kind == "tagger" else parser_archive
    inputs = []
    for item in HOSTILE:
        item = dict(item)
        if kind == "parser":
            n = len(item["tokens"]) if "tokens" in item else len(tokenize(item["sentence"]))
            item["pos"] = ["NOUN"] * n
        inputs.append(item)
    outputs = predict(archive, [json.dumps(i) for i in inputs] + [""], tmp_path)  # a trailing blank line
    assert len(outputs) == len(inputs)
    for item, output in zip(inputs, outputs):
        words = item["tokens"] if "tokens" in item else tokenize(item["sentence"])
        assert output["words"] == words
        if kind == "tagger":
            assert len(output["tags"]) == len(words)
        else:
            assert len(output["predicted_heads"]) == len(words) == len(output["predicted_dependencies"])
            assert all(0 <= h <= len(words) for h in output["predicted_heads"])


@pytest.mark.parametrize("item, message", [
    ({"tokens": ["a b"]}, re.escape('"tokens" must be non-empty strings without whitespace, got [\'a b\']')),
    ({"tokens": ["ok", "\t"]}, re.escape('"tokens" must be non-empty strings without whitespace, got [\'ok\', \'\\t\']')),
    ({"tokens": "a b"}, re.escape('"tokens" must be a list of strings, got \'a b\'')),
    ({"tokens": ["a", 3]}, re.escape('"tokens" must be a list of strings, got [\'a\', 3]')),
    ({"sentence": 42}, re.escape('"sentence" must be a string, got 42')),
    ({"text": "hello"}, re.escape('each input needs "tokens" (a list of words) or "sentence" (a string to tokenise); '
                                  "got the keys ['text']")),
])
def test_inputs_that_cannot_be_words_are_clear_errors(item, message, tagger_archive):
    predictor = Predictor.from_archive(load_archive(tagger_archive))
    with pytest.raises(ValueError, match=message):
        predictor.predict_json(item)


def test_pos_tags_that_do_not_match_the_words_are_refused(parser_archive):
    predictor = Predictor.from_archive(load_archive(parser_archive))
    with pytest.raises(ValueError, match="2 tags for 3 words"):
        predictor.predict_json({"sentence": "I ran.", "pos": ["PRON", "VERB"]})


def test_a_conll_file_with_a_missing_or_extra_column_names_the_line(tmp_path):
    reader = CheckedConll2003DatasetReader(tag_label="ner")
    good = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
    for bad, columns in (("German JJ B-MISC\n", 3), ("New York NNP B-NP B-LOC\n", 5)):
        path = tmp_path / "bad.conll"
        path.write_text(good + "-DOCSTART- -X- -X- O\n\n" + good.splitlines()[0] + "\n" + bad + "\n")
        with pytest.raises(ValueError, match=rf"bad.conll, line 7: expected 4 .* got {columns}"):
            list(reader.read(str(path)))
    path.write_text(good)
    (instance,) = reader.read(str(path))
    assert instance["tags"].labels == ["B-ORG", "O"]


EMPTY_INPUTS = [{"tokens": []}, {"sentence": ""}, {"sentence": "   "}]
EMPTY_OUTPUTS = {
    "tagger": {"words": [], "tags": []},
    "parser": {"words": [], "pos": [], "predicted_heads": [], "predicted_dependencies": []},
}


@pytest.mark.parametrize("kind", ["tagger", "parser"])
def test_empty_sentences_are_answered_without_the_model(kind, tagger_archive, parser_archive, monkeypatch):
    """The predictor answers an empty sentence itself (a stock `crf_tagger` or `biaffine_parser`
    fails on length 0): the model's `forward` never sees one, alone or in a batch."""
    predictor = Predictor.from_archive(load_archive(tagger_archive if kind == "tagger" else parser_archive))
    model = predictor._model
    real_forward = model.forward
    lengths = []  # the sentence lengths of every batch the model is given

    def spy(**inputs):
        lengths.append([len(m["words"]) for m in inputs["metadata"]])
        return real_forward(**inputs)

    def forbidden(**inputs):
        raise AssertionError(f"the model was called on {[m['words'] for m in inputs['metadata']]}")

    empty = [dict(item, pos=[]) if kind == "parser" else item for item in EMPTY_INPUTS]
    monkeypatch.setattr(model, "forward", forbidden)
    for item in empty:
        assert predictor.predict_json(item) == EMPTY_OUTPUTS[kind]
    assert predictor.predict_batch_json(empty) == [EMPTY_OUTPUTS[kind]] * len(empty)

    monkeypatch.setattr(model, "forward", spy)
    words = [["Paris", "is", "nice"], ["Go"]]
    full = [{"tokens": w, "pos": ["NOUN"] * len(w)} if kind == "parser" else {"tokens": w} for w in words]
    outputs = predictor.predict_batch_json([empty[0], full[0], empty[1], full[1], empty[2]])
    assert lengths == [[3, 1]]  # one batch, of the two sentences with words only
    assert [outputs[i] for i in (0, 2, 4)] == [EMPTY_OUTPUTS[kind]] * 3
    assert [o["words"] for o in (outputs[1], outputs[3])] == words
    key = "tags" if kind == "tagger" else "predicted_heads"
    assert [len(o[key]) for o in (outputs[1], outputs[3])] == [3, 1]


CAP = json.dumps({"dataset_reader.token_indexers.token_characters.type": "capped_characters"})
CHAR_CNN_ARCHIVE = "fixtures/teachers/ner_crf_teacher.tar.gz"  # trained with AllenNLP's uncapped `characters`


def test_a_megabyte_token_is_tagged_with_the_character_cap():
    predictor = Predictor.from_archive(load_archive(CHAR_CNN_ARCHIVE, overrides=CAP), "pretokenized_tagger")
    indexer = predictor._dataset_reader._token_indexers["token_characters"]
    assert indexer.max_characters == 50
    words = ["See", "https://x.y/" + "a" * 1_000_000, "now"]
    output = predictor.predict_json({"tokens": words})
    assert output["words"] == words and len(output["tags"]) == 3
    instance = predictor._json_to_instance({"tokens": words})
    predictor._dataset_reader.apply_token_indexers(instance)
    instance.index_fields(predictor._model.vocab)
    assert instance["tokens"].get_padding_lengths()["token_characters___num_token_characters"] == 50


def test_the_cap_changes_nothing_when_no_word_is_longer():
    sentences = [{"tokens": ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]},
                 {"tokens": ["Peter", "Blackburn", "in", "Brussels"]}, {"tokens": ["x" * 50, "is", "long"]}]
    plain = Predictor.from_archive(load_archive(CHAR_CNN_ARCHIVE), "pretokenized_tagger")
    capped = Predictor.from_archive(load_archive(CHAR_CNN_ARCHIVE, overrides=CAP), "pretokenized_tagger")
    for a, b in zip(plain.predict_batch_json(sentences), capped.predict_batch_json(sentences)):
        assert a["tags"] == b["tags"]
        assert a["logits"] == b["logits"]  # bit for bit: the same tensors
