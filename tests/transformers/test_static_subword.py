"""The `static_subword` indexer and embedder: a transformer's subword embedding table pooled per
word, no transformer layer — with a tiny BERT (tests/transformers/tiny_bert.py), never MiniLM."""
import json
import shutil
import sys
import tarfile

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.commands.train import train_model
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, Instance, TokenIndexer, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.tokenizers import Token
from allennlp.modules.token_embedders import TokenEmbedder
from transformers import AutoModel, AutoTokenizer

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd import pretrained
from allennlp_subkd.data import StaticSubwordIndexer
from allennlp_subkd.data.static_subword_indexer import add_word_pieces
from allennlp_subkd.modules import StaticSubwordEmbedder, mean_of_pieces
from tests.transformers.test_offline_transformer import NAME, TINY, offline_model  # noqa: F401  (fixture)
from tests.transformers.tiny_bert import build_tiny_bert, conll_words

# case, accents, punctuation inside a word, CJK and emoji (unknown), a control character and a
# zero-width space (no piece at all), special tokens, a word over WordPiece's 100 characters
WORDS = ["Miramar", "EU", "Zürich", "ÉCOLE", "naïve", "don't", "U.S.", "1,000", "東京", "😀", "\x07", "\u200b",
         "supercalifragilistic", "[MASK]", "a[SEP]b", "x" * 101, "Straße", "İstanbul"]


@pytest.fixture
def tiny_bert(tmp_path):
    return str(build_tiny_bert(tmp_path / "tiny_bert", conll_words(TINY)))


def word_piece_vocab(folder: str) -> Vocabulary:
    vocab = Vocabulary()
    add_word_pieces(vocab, "subword_tags", pretrained.word_pieces(folder))
    return vocab


def index(sentences, vocab, **indexer_args):
    indexer = StaticSubwordIndexer(**indexer_args)
    batch = Batch([Instance({"tokens": TextField([Token(w) for w in words], {"subwords": indexer})})
                   for words in sentences])
    batch.index_instances(vocab)
    return batch.as_tensor_dict()["tokens"]["subwords"]


def test_the_pieces_are_the_transformers_own_tokenisation_of_each_word(tiny_bert):
    vocab = word_piece_vocab(tiny_bert)
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    # the namespace is the tokenizer's vocabulary, in its ids
    assert vocab.get_token_to_index_vocabulary("subword_tags") == tokenizer.get_vocab()
    max_pieces = 5
    tensors = index([WORDS], vocab, max_pieces=max_pieces)
    assert tensors["mask"].tolist() == [[True] * len(WORDS)]
    for j, word in enumerate(WORDS):
        expected = tokenizer.tokenize(word)[:max_pieces]
        count = tensors["piece_counts"][0, j].item()
        assert [vocab.get_token_from_index(i, "subword_tags") for i in tensors["piece_ids"][0, j, :count].tolist()] \
            == expected, word
    counts = dict(zip(WORDS, tensors["piece_counts"][0].tolist()))
    assert counts["supercalifragilistic"] == max_pieces and len(tokenizer.tokenize("supercalifragilistic")) > max_pieces
    assert counts["\u200b"] == counts["\x07"] == 0  # no piece: a zero vector, still a word
    assert tensors["piece_ids"].shape == (1, len(WORDS), max_pieces)


def test_padding_of_a_batch_and_the_word_cache(tiny_bert):
    vocab = word_piece_vocab(tiny_bert)
    tensors = index([["Miramar", "website"], ["supercalifragilistic"], []], vocab, max_pieces=3)
    assert tensors["piece_ids"].shape == (3, 2, 3)
    assert tensors["mask"].tolist() == [[True, True], [True, False], [False, False]]
    assert tensors["piece_counts"].tolist() == [[1, 1], [3, 0], [0, 0]]
    assert tensors["piece_ids"][1, 1].tolist() == [0, 0, 0]
    indexer = StaticSubwordIndexer()
    first = indexer.tokens_to_indices([Token("Zürich")], vocab)
    assert indexer._cache == {"Zürich": tuple(first["piece_ids"][0])}
    assert indexer.tokens_to_indices([Token("Zürich")], vocab) == first
    # a vocabulary with other pieces: tokenised again, not from the cache
    other = Vocabulary()
    add_word_pieces(other, "subword_tags", ["[PAD]", "[UNK]", "zurich"])
    assert indexer.tokens_to_indices([Token("Zürich")], other)["piece_ids"] == [(2,)]


def test_indexer_bad_inputs(tiny_bert):
    for bad in (0, -1):
        with pytest.raises(ConfigurationError, match="max_pieces must be an integer >= 1"):
            TokenIndexer.from_params(Params({"type": "static_subword", "max_pieces": bad}))
    for bad in (1.5, True):
        with pytest.raises(ConfigurationError, match="max_pieces must be an integer >= 1"):
            StaticSubwordIndexer(max_pieces=bad)
    with pytest.raises(ConfigurationError, match="no word pieces in namespace 'subword_tags'"):
        StaticSubwordIndexer().tokens_to_indices([Token("EU")], Vocabulary())
    with pytest.raises(ConfigurationError, match="uncased: set the static_subword indexer's `lowercase: true`"):
        StaticSubwordIndexer(lowercase=False).tokens_to_indices([Token("EU")], word_piece_vocab(tiny_bert))
    cased = Vocabulary()
    add_word_pieces(cased, "subword_tags", ["[PAD]", "[UNK]", "EU", "the"])
    with pytest.raises(ConfigurationError, match=r"cased \(e.g. 'EU'\): set the static_subword indexer's `lowercase: false`"):
        StaticSubwordIndexer().tokens_to_indices([Token("EU")], cased)
    assert StaticSubwordIndexer(lowercase=False).tokens_to_indices([Token("EU")], cased)["piece_ids"] == [(2,)]
    with pytest.raises(ConfigurationError, match="other tokens than the transformer's"):
        add_word_pieces(cased, "subword_tags", ["[PAD]", "[UNK]", "eu"])


def brute_force(table: torch.Tensor, sentences, vocab, max_pieces: int, tokenizer) -> torch.Tensor:
    """Per word, the mean of the table rows of its first max_pieces pieces (the transformer's
    own tokenizer); zero for padding words and words of no piece."""
    out = torch.zeros(len(sentences), max(map(len, sentences)), table.size(1))
    for b, words in enumerate(sentences):
        for j, word in enumerate(words):
            rows = [table[vocab.get_token_index(p, "subword_tags")] for p in tokenizer.tokenize(word)[:max_pieces]]
            if rows:
                out[b, j] = torch.stack(rows).mean(0)
    return out


def embedder_from(folder, vocab, **args) -> StaticSubwordEmbedder:
    params = {"type": "static_subword", "embedding_dim": 8, "pretrained_file": folder, **args}
    return TokenEmbedder.from_params(Params(params), vocab=vocab)


@pytest.mark.parametrize("projection_dim", [None, 3])
def test_the_embedder_is_the_mean_of_each_words_table_rows(tiny_bert, projection_dim):
    vocab = Vocabulary()
    embedder = embedder_from(tiny_bert, vocab, projection_dim=projection_dim)
    assert embedder.get_output_dim() == (projection_dim or 8)
    sentences = [["EU", "rejects", "German", "supercalifragilistic", "\u200b", "call"], ["Zürich", "U.S."], ["東京"]]
    tensors = index(sentences, vocab, max_pieces=4)
    with torch.no_grad():
        vectors = embedder(**tensors)
        expected = brute_force(embedder.weight, sentences, vocab, 4, AutoTokenizer.from_pretrained(tiny_bert))
        if projection_dim is not None:
            expected = embedder.projection(expected)
    assert vectors.shape == (3, 6, projection_dim or 8)
    mask = tensors["mask"]
    assert torch.allclose(vectors[mask], expected[mask], atol=1e-6)
    if projection_dim is None:
        assert (vectors[~mask] == 0).all() and (vectors[0, 4] == 0).all()


def test_mean_of_pieces_ignores_the_padding_ids_and_handles_empty_batches():
    table = torch.randn(5, 2)
    ids = torch.tensor([[[3, 4, 4], [1, 0, 0], [2, 2, 2]]])  # padding ids are real rows here
    counts = torch.tensor([[2, 1, 0]])
    assert torch.allclose(mean_of_pieces(table, ids, counts)[0],
                          torch.stack([(table[3] + table[4]) / 2, table[1], torch.zeros(2)]))
    assert mean_of_pieces(table, torch.zeros(2, 0, 1, dtype=torch.long), torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0, 2)


def test_the_initial_table_is_the_transformers_word_embeddings(tiny_bert):
    vocab = Vocabulary()
    embedder = embedder_from(tiny_bert, vocab)
    expected = AutoModel.from_pretrained(tiny_bert).embeddings.word_embeddings.weight
    assert torch.equal(embedder.weight, expected)
    assert vocab.get_vocab_size("subword_tags") == expected.size(0) and not vocab.is_padded("subword_tags")
    # a second embedder of the same transformer shares the namespace
    embedder_from(tiny_bert, vocab)
    # the safetensors layout of the packaged models is read too
    safe = build_tiny_bert(pretrained.Path(tiny_bert).parent / "safe", conll_words(TINY), safetensors=True)
    assert torch.equal(pretrained.word_embedding_table(str(safe)), expected)


@pytest.mark.parametrize("trainable", [False, True])
def test_frozen_or_trainable_table(tiny_bert, trainable):
    vocab = Vocabulary()
    embedder = embedder_from(tiny_bert, vocab, trainable=trainable, projection_dim=4)
    assert embedder.weight.requires_grad is trainable
    before = embedder.weight.detach().clone()
    optimizer = torch.optim.SGD([p for p in embedder.parameters() if p.requires_grad], lr=1.0)
    tensors = index([["EU", "rejects", "German", "call"]], vocab)
    embedder(**tensors).pow(2).sum().backward()
    optimizer.step()
    assert torch.equal(embedder.weight, before) is not trainable
    if not trainable:
        assert embedder.weight.grad is None


def test_embedder_bad_inputs(tiny_bert, tmp_path, offline_model):  # noqa: F811
    vocab = Vocabulary()
    with pytest.raises(ConfigurationError, match="8-dimensional: set the static_subword embedder's embedding_dim: 8"):
        embedder_from(tiny_bert, vocab, embedding_dim=384)
    for bad in (0, -2):
        with pytest.raises(ConfigurationError, match="projection_dim must be an integer >= 1"):
            embedder_from(tiny_bert, vocab, projection_dim=bad)
        with pytest.raises(ConfigurationError, match="embedding_dim must be an integer >= 1"):
            embedder_from(tiny_bert, vocab, embedding_dim=bad)
    with pytest.raises(ConfigurationError, match="pretrained_file: transformer 'bert-base-uncased' is neither a known"):
        embedder_from("bert-base-uncased", vocab)
    with pytest.raises(ConfigurationError, match="no word pieces in namespace 'subword_tags'"):
        embedder_from(None, Vocabulary())
    # a model without a BERT word-embedding table: a tiny GPT-2 (its table is `wte`)
    from transformers import GPT2Config, GPT2Model

    GPT2Model(GPT2Config(vocab_size=20, n_embd=8, n_layer=1, n_head=2, n_positions=16)).save_pretrained(
        str(tmp_path / "gpt2"))
    with pytest.raises(ConfigurationError, match="has no word-embedding table 'embeddings.word_embeddings.weight'"):
        embedder_from(str(tmp_path / "gpt2"), Vocabulary())
    with pytest.raises(ConfigurationError, match="no weights"):
        embedder_from(str(tmp_path), Vocabulary())
    # the offline name of a package that is not installed: the install command reaches the user
    pretrained.OFFLINE_MODELS["tiny-absent"] = pretrained.OfflineModel(
        "tiny-absent", "tiny_absent_xyz", "model", "pip install tiny-absent")
    try:
        with pytest.raises(ConfigurationError, match="pip install tiny-absent"):
            embedder_from("tiny-absent", Vocabulary())
    finally:
        del pretrained.OFFLINE_MODELS["tiny-absent"]


def static_tagger_params(name: str, **embedder_args) -> Params:
    """A CRF tagger on the static subwords of `name` beside a character CNN, on the tiny data."""
    return Params({
        "dataset_reader": {"type": "conll2003", "tag_label": "ner", "token_indexers": {
            "subwords": {"type": "static_subword"},
            "token_characters": {"type": "characters", "min_padding_length": 3}}},
        "train_data_path": TINY,
        "validation_data_path": TINY,
        "model": {
            "type": "distilled_crf_tagger",
            "label_encoding": "BIO",
            "constrain_crf_decoding": True,
            "calculate_span_f1": True,
            "text_field_embedder": {"token_embedders": {
                "subwords": {"type": "static_subword", "embedding_dim": 8, "pretrained_file": name, **embedder_args},
                "token_characters": {
                    "type": "character_encoding",
                    "embedding": {"embedding_dim": 4, "vocab_namespace": "token_characters"},
                    "encoder": {"type": "cnn", "embedding_dim": 4, "num_filters": 6, "ngram_filter_sizes": [3]}},
            }},
            "encoder": {"type": "lstm", "input_size": (embedder_args.get("projection_dim") or 8) + 6,
                        "hidden_size": 5, "bidirectional": True},
        },
        "data_loader": {"batch_size": 5},
        "trainer": {"optimizer": {"type": "adam", "lr": 0.01}, "num_epochs": 1},
    })


def test_an_archive_is_self_contained_and_predicts_without_the_transformer(offline_model, tmp_path, monkeypatch):  # noqa: F811
    """Trained from the offline name, archived; then the package, its materialised folder and
    the name are all gone, and the archive still loads and predicts the same tags."""
    from allennlp.models.archival import load_archive
    from allennlp.predictors import Predictor

    model = train_model(static_tagger_params(NAME), str(tmp_path / "tagger"))
    archive = tmp_path / "tagger" / "model.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        config = json.load(tar.extractfile("config.json"))
        pieces = tar.extractfile("vocabulary/subword_tags.txt").read().decode("utf-8").split("\n")
    assert "vocabulary/subword_tags.txt" in names and "subword_tags" in \
        tar_text(archive, "vocabulary/non_padded_namespaces.txt").split()
    assert pieces[:-1] == pretrained.word_pieces(str(pretrained.materialize(NAME)))
    assert config["model"]["text_field_embedder"]["token_embedders"]["subwords"]["pretrained_file"] == NAME
    words = ["EU", "rejects", "Zürich", "\u200b", "supercalifragilistic", "東京", "."]
    before = Predictor.from_archive(load_archive(str(archive)), "pretokenized_tagger").predict_json({"tokens": words})

    # the transformer is gone: no package, no materialised folder, no offline name
    shutil.rmtree(offline_model.parent)
    shutil.rmtree(pretrained.home())
    monkeypatch.delitem(pretrained.OFFLINE_MODELS, NAME)
    sys.modules.pop("tiny_bert_package", None)
    with pytest.raises(ConfigurationError):
        pretrained.resolve_model_name(NAME)
    loaded = load_archive(str(archive))
    table = loaded.model.text_field_embedder.token_embedder_subwords.weight
    assert torch.equal(table, model.text_field_embedder.token_embedder_subwords.weight)
    assert not table.requires_grad
    after = Predictor.from_archive(loaded, "pretokenized_tagger").predict_json({"tokens": words})
    assert after["tags"] == before["tags"] and len(after["tags"]) == len(words)
    assert not pretrained.home().exists()


def tar_text(archive, member: str) -> str:
    with tarfile.open(archive) as tar:
        return tar.extractfile(member).read().decode("utf-8")


class TestStaticSubwordStudent(ModelTestCase):
    """AllenNLP's train / save / load / gradient checks on a trainable, projected table."""

    @pytest.fixture(autouse=True)
    def _tiny_bert(self, tmp_path):
        self.tiny_bert = str(build_tiny_bert(tmp_path / "tiny_bert", conll_words(TINY)))

    def test_static_subword_student_trains_saves_and_loads(self):
        params = static_tagger_params(self.tiny_bert, trainable=True, projection_dim=4)
        config = self.TEST_DIR / "static_subword_student.json"
        config.write_text(json.dumps(params.as_dict()))
        self.set_up_model(str(config), TINY)
        self.ensure_model_can_train_save_and_load(str(config))


def test_the_example_config_distils_a_teacher_into_a_static_subword_student(tiny_bert, tmp_path):
    """training_configs/ner_static_subword_baseline.jsonnet with the overrides its comment gives
    (a teacher and an objective; the tiny BERT for all-MiniLM-L6-v2): the word-input BiLSTM-CRF
    teacher's inputs are re-indexed from the words."""
    from allennlp.commands.train import train_model_from_file

    overrides = {
        "train_data_path": TINY, "validation_data_path": TINY, "test_data_path": TINY, "trainer.num_epochs": 1,
        "model.text_field_embedder.token_embedders.subwords.pretrained_file": tiny_bert,
        "model.text_field_embedder.token_embedders.subwords.embedding_dim": 8,
        "model.encoder.input_size": 8 + 32,
        "model.teacher": {"archive": "fixtures/teachers/ner_crf_teacher.tar.gz"},
        "model.distillation": {"type": "structural", "alpha": 0.5},
    }
    model = train_model_from_file("training_configs/ner_static_subword_baseline.jsonnet", str(tmp_path / "out"),
                                  overrides=json.dumps(overrides))
    assert model.teacher.loaded and model.teacher._reuse is False
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["training_kd_loss"] > 0
