"""`casing`: one id per word for its letter case, for uncased transformers."""
from typing import Dict, List

from allennlp.data.token_indexers import TokenIndexer
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary

#: the casing classes; the id is the position (0 is padding)
CASINGS = ("@@PADDING@@", "lower", "Title", "UPPER", "mIxed", "digits", "has_digit", "other")


def casing(word: str) -> int:
    """The casing class id of `word` (see `CASINGS`)."""
    if any(c.isalpha() for c in word):
        if word.islower():
            return 1 if not any(c.isdigit() for c in word) else 6
        if word.isupper():
            return 3
        if word[0].isupper() and word[1:].lower() == word[1:]:
            return 2
        return 4
    if word.isdigit():
        return 5
    if any(c.isdigit() for c in word):
        return 6
    return 7


@TokenIndexer.register("casing")
class CasingIndexer(TokenIndexer):
    """
    Maps each word to its casing class (`lower`, `Title`, `UPPER`, `mIxed`, `digits`,
    `has_digit`, `other`: ids 1–7, 0 is padding). An uncased transformer (all-MiniLM-L6-v2
    lower-cases its input) cannot tell "Apple" from "apple"; an `embedding` token embedder
    with `num_embeddings: 8` over these ids, concatenated beside the word pieces, gives the
    casing back. The ids are fixed, so the indexer adds nothing to the vocabulary.

    Registered as a `TokenIndexer` with name "casing".

    # Parameters

    token_min_padding_length : `int`, optional (default = `0`)
        As every `TokenIndexer`.
    """

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]) -> None:
        return None

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> Dict[str, List[int]]:
        return {"tokens": [casing(token.text) for token in tokens]}

    def get_empty_token_list(self) -> Dict[str, List[int]]:
        return {"tokens": []}
