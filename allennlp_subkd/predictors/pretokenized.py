"""Reading a sentence from a JSON line without any tokenizer model (no spaCy download)."""
from typing import List

from allennlp.common import JsonDict


def json_words(json_dict: JsonDict) -> List[str]:
    """
    The words of one JSON input: `{"tokens": ["w1", "w2", ...]}` (pre-tokenised, used as
    they are) or `{"sentence": "w1 w2 ..."}` (split on whitespace). An empty list / blank
    sentence is a valid empty sentence. Anything else raises a `ValueError` that says what
    was expected.
    """
    if "tokens" in json_dict:
        tokens = json_dict["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError(f'"tokens" must be a list of strings, got {tokens!r}')
        if any(not t or t != t.strip() or len(t.split()) != 1 for t in tokens):
            raise ValueError(f'"tokens" must be non-empty strings without whitespace, got {tokens!r}')
        return list(tokens)
    if "sentence" in json_dict:
        sentence = json_dict["sentence"]
        if not isinstance(sentence, str):
            raise ValueError(f'"sentence" must be a string, got {sentence!r}')
        return sentence.split()
    raise ValueError(
        'each input needs "tokens" (a list of words) or "sentence" (a whitespace-tokenised '
        f"string); got the keys {sorted(json_dict)}"
    )
