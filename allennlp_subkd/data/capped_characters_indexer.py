"""`capped_characters`: AllenNLP's `characters` indexer with at most N characters per word."""
from typing import Dict, List, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.data.token_indexers import TokenCharactersIndexer, TokenIndexer
from allennlp.data.tokenizers import CharacterTokenizer, Token
from allennlp.data.vocabulary import Vocabulary


@TokenIndexer.register("capped_characters")
class CappedTokenCharactersIndexer(TokenCharactersIndexer):
    """
    AllenNLP's `characters` indexer (`TokenCharactersIndexer`), keeping only the first
    `max_characters` characters of each word.

    A batch's character tensor is `[batch, words, longest word]`, so one long "word" (a URL, a
    base64 string, minified code: web text has them; the English-EWT test set holds a
    473-character one) makes the character CNN of every word in its batch that long: time and
    memory grow with it, and a long enough token runs the machine out of memory. With the cap
    the tensor is at most `[batch, words, max_characters]`. Words of at most `max_characters`
    characters are indexed exactly as by `characters`. On the published NER archives a cap of 50
    changes no dev, test or out-of-domain F1 (`benchmarks/results/char_cap.md`).

    Registered as a `TokenIndexer` with name "capped_characters".

    # Parameters

    max_characters : `int`, optional (default = `50`)
        The most characters kept of a word (its first ones). At least `min_padding_length`
        (the widest CNN filter), so that every word still fills a filter.
    namespace : `str`, optional (default = `"token_characters"`)
        As `characters`: the vocabulary namespace of the characters.
    character_tokenizer : `CharacterTokenizer`, optional (default = `CharacterTokenizer()`)
        As `characters`.
    start_tokens : `List[str]`, optional (default = `None`)
        As `characters`: prepended to the words (capped too).
    end_tokens : `List[str]`, optional (default = `None`)
        As `characters`: appended to the words (capped too).
    min_padding_length : `int`, optional (default = `0`)
        As `characters`: the least character padding, the widest filter of the CNN.
    token_min_padding_length : `int`, optional (default = `0`)
        As `characters`.
    """

    def __init__(
        self,
        max_characters: int = 50,
        namespace: str = "token_characters",
        character_tokenizer: Optional[CharacterTokenizer] = None,
        start_tokens: Optional[List[str]] = None,
        end_tokens: Optional[List[str]] = None,
        min_padding_length: int = 0,
        token_min_padding_length: int = 0,
    ) -> None:
        if isinstance(max_characters, bool) or not isinstance(max_characters, int) or max_characters < 1:
            raise ConfigurationError(
                f"capped_characters indexer: max_characters must be an integer >= 1, got {max_characters!r}"
            )
        if max_characters < min_padding_length:
            raise ConfigurationError(
                f"capped_characters indexer: max_characters ({max_characters}) is below min_padding_length "
                f"({min_padding_length}, the widest CNN filter): keep at least as many characters as a filter spans"
            )
        super().__init__(
            namespace=namespace,
            character_tokenizer=character_tokenizer or CharacterTokenizer(),
            start_tokens=start_tokens,
            end_tokens=end_tokens,
            min_padding_length=min_padding_length,
            token_min_padding_length=token_min_padding_length,
        )
        self.max_characters = max_characters

    def _capped(self, token: Token) -> Token:
        # the first max_characters characters give at least max_characters character tokens (or
        # bytes), the first of which are the whole word's: the word is cut before it is split, so a
        # megabyte "word" costs no more than a short one
        if token.text is None or len(token.text) <= self.max_characters:
            return token
        return Token(text=token.text[: self.max_characters])

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        # only the characters the model will see enter the vocabulary
        super().count_vocab_items(self._capped(token), counter)

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> Dict[str, List[List[int]]]:
        indexed = super().tokens_to_indices([self._capped(token) for token in tokens], vocabulary)
        return {"token_characters": [word[: self.max_characters] for word in indexed["token_characters"]]}
