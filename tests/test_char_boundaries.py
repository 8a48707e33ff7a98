"""`benchmarks/char_boundaries.py`: the character CNN's blind spot it measures is real (a word
shorter than the filters gets an all-zero vector, with the symbols it does not), the variant
changes nothing but the indexer's character tokenizer, and the script writes its records and
table from the runs."""
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from allennlp.common import Params
from allennlp.data import Vocabulary
from allennlp.data.token_indexers import TokenIndexer
from allennlp.data.tokenizers import Token
from allennlp.modules.seq2vec_encoders import CnnEncoder

import allennlp_subkd  # noqa: F401
from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent
char_boundaries = load("char_boundaries")
report = load("report")


def _indexer(variant: str) -> TokenIndexer:
    tokenizer = char_boundaries.VARIANTS[variant]
    overrides = {char_boundaries.INDEXER: tokenizer} if tokenizer else {}
    config = Params.from_file(str(ROOT / "training_configs" / "ner_static_subword_baseline.jsonnet"),
                              json.dumps(overrides)).as_dict()
    return TokenIndexer.from_params(Params(config["dataset_reader"]["token_indexers"]["token_characters"]))


@pytest.mark.parametrize("variant,blind", [(0, True), (1, False)])
def test_a_word_shorter_than_the_filters_has_a_character_vector_only_with_the_symbols(variant, blind):
    indexer = _indexer(list(char_boundaries.VARIANTS)[variant])
    words = [Token("US"), Token("I"), Token("Paris")]
    counter = defaultdict(lambda: defaultdict(int))
    for word in words:
        indexer.count_vocab_items(word, counter)
    vocab = Vocabulary(counter)
    indexed = indexer.tokens_to_indices(words, vocab)
    chars = indexer.as_padded_tensor_dict(indexed, indexer.get_padding_lengths(indexed))["token_characters"]
    torch.manual_seed(0)
    embedded = torch.nn.Embedding(vocab.get_vocab_size("token_characters"), 8)(chars)
    cnn = CnnEncoder(embedding_dim=8, num_filters=16, ngram_filter_sizes=(char_boundaries.WIDTH,))
    with torch.no_grad():
        cnn.conv_layer_0.bias.fill_(0.1)  # every window that counts is positive after the ReLU
        vectors = cnn(embedded, chars != 0)
    assert vectors[2].abs().sum() > 0  # "Paris" spans windows either way
    assert bool((vectors[:2].abs().sum(-1) == 0).all()) is blind


def test_the_variant_changes_only_the_character_tokenizer():
    base, symbols = (Params.from_file(str(ROOT / "training_configs" / "ner_static_subword_baseline.jsonnet"),
                                      json.dumps({char_boundaries.INDEXER: t} if t else {})).as_dict()
                     for t in char_boundaries.VARIANTS.values())
    indexers = symbols["dataset_reader"]["token_indexers"]
    assert indexers["token_characters"].pop("character_tokenizer") == {"start_tokens": ["<w>"], "end_tokens": ["</w>"]}
    assert symbols == base


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for name in char_boundaries.FILES.values():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("The X _ O\nUS X _ B-LOC\nsaid X _ O\n\n")
    return data


def test_the_script_trains_each_variant_per_seed_and_writes_the_table(tmp_path, monkeypatch):
    trained = []

    def train(config, out, overrides, log, threads):
        trained.append((config, out.name, overrides, threads))
        out.mkdir(parents=True)
        symbols = char_boundaries.INDEXER in overrides
        f1 = 0.6 + 0.02 * symbols + overrides["random_seed"] / 10000
        metrics = {"best_validation_f1-measure-overall": f1, "test_f1-measure-overall": f1 - 0.01, "best_epoch": 4}
        (out / "metrics.json").write_text(json.dumps(metrics))  # what a finished allennlp run leaves
        (out / "epoch_times.json").write_text(json.dumps({"train_seconds": [3.0, 2.0, 2.0]}))
        return {"metrics": metrics, "train_seconds": [3.0, 2.0, 2.0]}

    def evaluate(archive, path, output, reader, log, threads):
        assert reader == "checked_conll2003" and path.endswith("en_pud-uner-test.conll")
        Path(output).write_text(json.dumps({"f1-measure-overall": 0.5}))

    monkeypatch.setattr(char_boundaries, "train", train)
    monkeypatch.setattr(char_boundaries.transfer, "evaluate", evaluate)
    monkeypatch.setattr(sys, "argv", ["char_boundaries.py", "--seeds", "2", "--data-dir", str(_data(tmp_path)),
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    char_boundaries.main()
    assert sorted(name for _, name, _, _ in trained) == ["v0_s13", "v0_s23", "v1_s13", "v1_s23"]
    assert all(config == "ner_static_subword_baseline" and threads == 1 for config, _, _, threads in trained)
    result = json.loads((tmp_path / "char_boundaries.json").read_text())
    assert [(r["variant"], r["seed"]) for r in result["runs"]] == [
        (v, s) for s in (13, 23) for v in char_boundaries.VARIANTS]
    assert result["meta"]["short_words"]["dev"] == {"words": 3, "short": pytest.approx(1 / 3), "entity_words": 1,
                                                     "short_cased_of_entity": 1.0}
    table = (tmp_path / "char_boundaries.md").read_text()
    assert "| <w> … </w> around each word | 62.18 ± 0.07 | 61.18 ± 0.07 | 50.00 ± 0.00 | +2.00 | +2.00 | +0.00 |" in table
    assert (tmp_path / "runs" / "ner_static_subword_baseline" / "v1_s23" / "ood_metrics.json").exists()


def test_a_missing_data_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["char_boundaries.py", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        char_boundaries.main()
    assert "--data-dir names the folder of ../shared/data" in capsys.readouterr().err


def test_the_libsonnet_switch_gives_the_measured_variant(tmp_path):
    # a user's `lib { word_boundaries:: true }` trains what the benchmark measured
    config = tmp_path / "with_symbols.jsonnet"
    config.write_text(f"local lib = import '{ROOT}/training_configs/common.libsonnet';\n"
                      "local on = lib { word_boundaries:: true };\n"
                      "on.ner_experiment(on.ner_student('crf_tagger', null, 'static_subword'), "
                      "on.ner_student_indexers('static_subword'))\n")
    indexer = Params.from_file(str(config)).as_dict()["dataset_reader"]["token_indexers"]["token_characters"]
    assert indexer["character_tokenizer"] == char_boundaries.VARIANTS["<w> … </w> around each word"]
    shipped = Params.from_file(str(ROOT / "training_configs" / "ner_static_subword_baseline.jsonnet")).as_dict()
    assert "character_tokenizer" not in shipped["dataset_reader"]["token_indexers"]["token_characters"]
