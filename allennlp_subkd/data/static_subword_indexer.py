"""`static_subword`: each word as the ids of its word pieces, for the `static_subword` embedder."""
import re
import weakref
from typing import Dict, List, Sequence, Tuple

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data.token_indexers import TokenIndexer
from allennlp.data.token_indexers.token_indexer import IndexedTokenList
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary

#: BERT's special tokens: kept whole when a word contains them, as transformers' tokenizers do
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

_SPECIAL_PIECE = re.compile(r"^\[[^\]]*\]$")


def add_word_pieces(vocab: Vocabulary, namespace: str, pieces: Sequence[str]) -> None:
    """Put a transformer's word pieces into `vocab`'s `namespace`, the piece of id i at index
    i, as a non-padded namespace (so the transformer's ids are the vocabulary's, and the
    namespace is saved with the vocabulary and hence travels in a model archive), as AllenNLP's
    `Vocabulary.add_transformer_vocab` does. A namespace that already holds exactly these pieces
    (a vocabulary read from an archive, a second embedder) is left as it is; one holding
    anything else is a `ConfigurationError`."""
    if namespace in vocab.get_namespaces():
        existing = vocab.get_index_to_token_vocabulary(namespace)
        if [existing.get(i) for i in range(len(existing))] != list(pieces):
            raise ConfigurationError(
                f"vocabulary namespace {namespace!r} already holds {len(existing)} other tokens "
                f"than the transformer's {len(pieces)} word pieces: give the static-subword "
                "indexer and embedder a namespace of their own (`namespace` / `vocab_namespace`)"
            )
        return
    # Non-padded: index 0 is the transformer's first piece, not AllenNLP's @@PADDING@@.
    # (`Vocabulary` has no public way to declare it; AllenNLP's add_transformer_vocab also
    # writes `_non_padded_namespaces`, the set `save_to_files` records.)
    vocab._non_padded_namespaces.add(namespace)
    vocab._token_to_index.add_non_padded_namespaces({namespace})
    vocab._index_to_token.add_non_padded_namespaces({namespace})
    vocab.add_tokens_to_namespace(list(pieces), namespace)
    if vocab.get_vocab_size(namespace) != len(pieces):
        raise ConfigurationError(f"the transformer's word pieces are not unique ({namespace!r})")


class WordPiece:
    """BERT's tokenisation of one word over a word-piece vocabulary, with no file and no
    transformers tokenizer object: transformers' own pure-Python `BasicTokenizer` (control
    characters removed, CJK characters split, lowercasing and accent stripping when
    `lowercase`, punctuation split) and `WordpieceTokenizer` (greedy longest match, `##`
    continuations, `unk_token` for a word that cannot be matched or is over 100 characters),
    after splitting out BERT's special tokens, as `tokenizer.tokenize` does."""

    def __init__(self, pieces: Dict[str, int], lowercase: bool, unk_token: str) -> None:
        from transformers.models.bert.tokenization_bert import BasicTokenizer, WordpieceTokenizer

        self.specials = [token for token in BERT_SPECIAL_TOKENS if token in pieces]
        self._split_specials = re.compile("(" + "|".join(map(re.escape, self.specials)) + ")") if self.specials else None
        self._basic = BasicTokenizer(do_lower_case=lowercase, never_split=self.specials)
        self._wordpiece = WordpieceTokenizer(vocab=pieces, unk_token=unk_token)

    def tokenize(self, word: str) -> List[str]:
        parts = self._split_specials.split(word) if self._split_specials else [word]
        output: List[str] = []
        for part in parts:
            if part in self.specials:
                output.append(part)
            elif part:
                for token in self._basic.tokenize(part):
                    output.extend(self._wordpiece.tokenize(token))
        return output


@TokenIndexer.register("static_subword")
class StaticSubwordIndexer(TokenIndexer):
    """
    Each word as the vocabulary ids of its word pieces, BERT's WordPiece tokenisation of the
    word alone, for the `static_subword` token embedder: an array `[words, pieces]` per
    sentence, as the `characters` indexer gives characters, instead of the word-piece sequence
    and offsets of the mismatched transformer indexer.

    The word pieces are read from the vocabulary namespace `namespace`, which the
    `static_subword` embedder fills with the transformer's word pieces (in id order) when the
    model is built from a config, and which a model archive carries: indexing needs neither
    the transformer nor its tokenizer files, so an archive predicts on a machine without them.
    Tokenisation is transformers' pure-Python BERT tokenizer over that namespace (see
    `WordPiece`), the same pieces as the model's own `tokenizer.tokenize(word)`; a word with no
    piece at all (a zero-width space, a control character) gets none, and the embedder gives it
    a zero vector. Each word's ids are cached (the cache is emptied when it reaches
    `cache_size` words).

    Registered as a `TokenIndexer` with name "static_subword".

    # Parameters

    namespace : `str`, optional (default = `"subword_tags"`)
        The vocabulary namespace of the word pieces; the embedder's `vocab_namespace`.
    max_pieces : `int`, optional (default = `8`)
        The most pieces kept per word: a longer word keeps its first `max_pieces` pieces.
    lowercase : `bool`, optional (default = `True`)
        Lowercase and strip accents before WordPiece (an uncased model such as
        all-MiniLM-L6-v2); `False` for a cased model. Checked against the word pieces: an
        uncased vocabulary has no capital letters outside `[...]` special tokens, a cased one has.
    unk_token : `str`, optional (default = `"[UNK]"`)
        The piece of a word WordPiece cannot match; must be in the namespace.
    cache_size : `int`, optional (default = `100000`)
        The most words whose ids are cached.
    token_min_padding_length : `int`, optional (default = `0`)
        See `TokenIndexer`.
    """

    def __init__(
        self,
        namespace: str = "subword_tags",
        max_pieces: int = 8,
        lowercase: bool = True,
        unk_token: str = "[UNK]",
        cache_size: int = 100_000,
        token_min_padding_length: int = 0,
    ) -> None:
        super().__init__(token_min_padding_length)
        if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 1:
            raise ConfigurationError(f"static_subword indexer: max_pieces must be an integer >= 1, got {max_pieces!r}")
        self._namespace = namespace
        self._max_pieces = max_pieces
        self._lowercase = lowercase
        self._unk_token = unk_token
        self._cache_size = cache_size
        self._vocab_ref = None
        self._wordpiece: WordPiece = None  # type: ignore[assignment]
        self._cache: Dict[str, Tuple[int, ...]] = {}

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        # the namespace holds the transformer's pieces, filled by the embedder, never counted
        pass

    def _tokenizer_for(self, vocabulary: Vocabulary) -> WordPiece:
        if self._vocab_ref is not None and self._vocab_ref() is vocabulary:
            return self._wordpiece
        if self._namespace not in vocabulary.get_namespaces():
            raise ConfigurationError(
                f"the vocabulary has no word pieces in namespace {self._namespace!r}: a "
                "`static_subword` embedder with `pretrained_file` puts them there when the model "
                "is built (a model loaded from its archive has them); check that the indexer's "
                "`namespace` is the embedder's `vocab_namespace`"
            )
        pieces = vocabulary.get_token_to_index_vocabulary(self._namespace)
        if self._unk_token not in pieces:
            raise ConfigurationError(f"unk_token {self._unk_token!r} is not a word piece of namespace {self._namespace!r}")
        cased = next((p for p in pieces if not _SPECIAL_PIECE.match(p) and re.search("[A-Z]", p)), None)
        if self._lowercase and cased is not None:
            raise ConfigurationError(
                f"the word pieces of namespace {self._namespace!r} are cased (e.g. {cased!r}): "
                "set the static_subword indexer's `lowercase: false`"
            )
        if not self._lowercase and cased is None:
            raise ConfigurationError(
                f"the word pieces of namespace {self._namespace!r} are uncased: set the "
                "static_subword indexer's `lowercase: true`"
            )
        self._wordpiece = WordPiece(pieces, self._lowercase, self._unk_token)
        self._vocab_ref = weakref.ref(vocabulary)
        self._cache = {}
        return self._wordpiece

    def _word_ids(self, word: str, vocabulary: Vocabulary) -> Tuple[int, ...]:
        ids = self._cache.get(word)
        if ids is None:
            pieces = self._wordpiece.tokenize(word)[: self._max_pieces]
            ids = tuple(vocabulary.get_token_index(piece, self._namespace) for piece in pieces)
            if len(self._cache) >= self._cache_size:
                self._cache = {}
            self._cache[word] = ids
        return ids

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> IndexedTokenList:
        self._tokenizer_for(vocabulary)
        ids = [self._word_ids(token.text, vocabulary) for token in tokens]
        return {"piece_ids": ids, "piece_counts": [len(word) for word in ids], "mask": [True] * len(ids)}

    def get_empty_token_list(self) -> IndexedTokenList:
        return {"piece_ids": [], "piece_counts": [], "mask": []}

    def get_padding_lengths(self, indexed_tokens: IndexedTokenList) -> Dict[str, int]:
        words = max(len(indexed_tokens["piece_ids"]), self._token_min_padding_length)
        # at least one piece column, so that a batch of pieceless words still has a shape
        pieces = max([1] + list(indexed_tokens["piece_counts"]))
        return {"words": words, "pieces": pieces}

    def as_padded_tensor_dict(
        self, tokens: IndexedTokenList, padding_lengths: Dict[str, int]
    ) -> Dict[str, torch.Tensor]:
        words, pieces = padding_lengths["words"], padding_lengths["pieces"]
        piece_ids = torch.zeros(words, pieces, dtype=torch.long)
        for i, word in enumerate(tokens["piece_ids"][:words]):
            if word:
                piece_ids[i, : len(word)] = torch.tensor(word[:pieces], dtype=torch.long)
        counts = torch.zeros(words, dtype=torch.long)
        counts[: len(tokens["piece_counts"])] = torch.tensor(tokens["piece_counts"][:words], dtype=torch.long)
        mask = torch.zeros(words, dtype=torch.bool)
        mask[: len(tokens["mask"])] = True
        return {"piece_ids": piece_ids, "piece_counts": counts.clamp(max=pieces), "mask": mask}

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_vocab_ref=None, _wordpiece=None, _cache={})  # rebuilt on first use
        return state

    def __eq__(self, other) -> bool:
        if not isinstance(other, StaticSubwordIndexer):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()
