from collections import defaultdict

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, Instance, Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import TokenCharactersIndexer, TokenIndexer
from allennlp.data.tokenizers import CharacterTokenizer

from allennlp_subkd.data import CappedTokenCharactersIndexer


def vocabulary(words, indexer):
    counter = defaultdict(lambda: defaultdict(int))
    for word in words:
        indexer.count_vocab_items(Token(word), counter)
    return Vocabulary(counter), counter


def tensor(words, indexer, vocab):
    field = TextField([Token(word) for word in words], {"chars": indexer})
    batch = Batch([Instance({"text": field})])
    batch.index_instances(vocab)
    return batch.as_tensor_dict()["text"]["chars"]["token_characters"]


def test_short_words_are_indexed_as_by_characters():
    words = ["The", "cat", "sat", "on", "Wednesday", "."]
    capped = CappedTokenCharactersIndexer(max_characters=9, min_padding_length=3)
    plain = TokenCharactersIndexer(min_padding_length=3)
    vocab, _ = vocabulary(words, plain)
    assert torch.equal(tensor(words, capped, vocab), tensor(words, plain, vocab))


def test_a_long_word_keeps_its_first_characters_and_bounds_the_batch():
    words = ["Go", "to", "https://example.com/" + "x" * 200]
    capped = CappedTokenCharactersIndexer(max_characters=12, min_padding_length=3)
    vocab, _ = vocabulary(words, TokenCharactersIndexer(min_padding_length=3))
    chars = tensor(words, capped, vocab)
    assert chars.shape == (1, 3, 12)  # not 220 characters wide
    expected = [vocab.get_token_index(c, "token_characters") for c in "https://exam"]
    assert chars[0, 2].tolist() == expected
    assert chars[0, 0].tolist() == [vocab.get_token_index(c, "token_characters") for c in "Go"] + [0] * 10


def test_a_megabyte_word_costs_what_a_short_one_does():
    indexer = CappedTokenCharactersIndexer(max_characters=20, min_padding_length=3)
    vocab, _ = vocabulary(["ab"], indexer)
    chars = tensor(["a" * 1_000_000, "b"], indexer, vocab)
    assert chars.shape == (1, 2, 20)
    assert (chars[0, 0] == vocab.get_token_index("a", "token_characters")).all()


def test_the_vocabulary_holds_only_the_characters_kept():
    indexer = CappedTokenCharactersIndexer(max_characters=3)
    _, counter = vocabulary(["abcZ", "ab"], indexer)
    assert dict(counter["token_characters"]) == {"a": 2, "b": 2, "c": 1}


def test_byte_encoding_and_end_tokens_are_capped_too():
    indexer = CappedTokenCharactersIndexer(
        max_characters=4, character_tokenizer=CharacterTokenizer(byte_encoding="utf-8"), end_tokens=["@@END@@"]
    )
    plain = TokenCharactersIndexer(character_tokenizer=CharacterTokenizer(byte_encoding="utf-8"),
                                   end_tokens=["@@END@@"])
    vocab = Vocabulary()
    words = [Token("héllo wörld")]
    capped, full = indexer.tokens_to_indices(words, vocab), plain.tokens_to_indices(words, vocab)
    assert capped["token_characters"] == [word[:4] for word in full["token_characters"]]
    assert all(len(word) <= 4 for word in capped["token_characters"])


def test_from_params_with_the_configs_arguments():
    indexer = TokenIndexer.from_params(Params({"type": "capped_characters", "max_characters": 50,
                                               "min_padding_length": 3}))
    assert isinstance(indexer, CappedTokenCharactersIndexer)
    assert indexer.max_characters == 50
    assert TokenIndexer.from_params(Params({"type": "capped_characters"})).max_characters == 50


@pytest.mark.parametrize("value", [0, -1, 2.5, "20", True, None])
def test_max_characters_must_be_a_positive_integer(value):
    with pytest.raises(ConfigurationError, match="max_characters must be an integer >= 1"):
        CappedTokenCharactersIndexer(max_characters=value)


def test_max_characters_below_the_widest_filter_is_refused():
    with pytest.raises(ConfigurationError, match=r"max_characters \(2\) is below min_padding_length \(3"):
        CappedTokenCharactersIndexer(max_characters=2, min_padding_length=3)


def test_a_token_without_text_is_refused_as_by_characters():
    indexer = CappedTokenCharactersIndexer(max_characters=5)
    with pytest.raises(ConfigurationError, match="retains text"):
        indexer.tokens_to_indices([Token(text_id=3)], Vocabulary())
