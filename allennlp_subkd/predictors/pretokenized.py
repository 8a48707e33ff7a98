"""Reading a sentence from a JSON line without any tokenizer model (no spaCy download).

`{"tokens": [...]}` is used as it is; `{"sentence": "..."}` is tokenised by spaCy's rule-based
English tokenizer (`spacy.blank("en")`: punctuation, contractions, URLs and emoticons, no
statistical model, nothing downloaded) or, with `sentence_tokenizer: "whitespace"`, split on
whitespace.
"""
import functools
import json
from typing import Callable, List

from allennlp.common import JsonDict
from allennlp.common.checks import ConfigurationError
from allennlp.data import DatasetReader, Instance
from allennlp.data.fields import TextField
from allennlp.models import Model
from allennlp.predictors.predictor import Predictor

#: the ways a `{"sentence": ...}` input can be split into words
SENTENCE_TOKENIZERS = ("spacy", "whitespace")


@functools.lru_cache(maxsize=None)
def spacy_english() -> Callable[[str], List[str]]:
    """spaCy's rule-based English tokenizer (`spacy.blank("en")`), built once per process."""
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    return lambda text: [token.text for token in tokenizer(text) if not token.is_space]


def tokenize(sentence: str, sentence_tokenizer: str = "spacy") -> List[str]:
    """The words of a raw sentence: `"spacy"` (rule-based English tokenisation: `"call."` ->
    `"call", "."`, `"can't"` -> `"ca", "n't"`, a URL stays one token) or `"whitespace"`."""
    if sentence_tokenizer == "whitespace":
        return sentence.split()
    if sentence_tokenizer == "spacy":
        return spacy_english()(sentence)
    raise ValueError(f"sentence_tokenizer must be one of {SENTENCE_TOKENIZERS}, got {sentence_tokenizer!r}")


def json_words(json_dict: JsonDict, sentence_tokenizer: str = "spacy") -> List[str]:
    """
    The words of one JSON input: `{"tokens": ["w1", "w2", ...]}` (pre-tokenised, used as
    they are) or `{"sentence": "..."}` (tokenised by `tokenize`). An empty list / blank
    sentence is a valid empty sentence. Anything else raises a `ValueError` that says what
    was expected.
    """
    if not isinstance(json_dict, dict):
        raise ValueError(f"each input must be a JSON object, got {type(json_dict).__name__}: {json_dict!r}")
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
        return tokenize(sentence, sentence_tokenizer)
    raise ValueError(
        'each input needs "tokens" (a list of words) or "sentence" (a string to tokenise); '
        f"got the keys {sorted(json_dict)}"
    )


class JsonLines:
    """Parses the JSON lines `allennlp predict` hands a predictor, one at a time, naming the
    input line of a malformed one (counting the non-blank lines: `allennlp predict` skips blank
    lines before the predictor sees them)."""

    def __init__(self) -> None:
        self.lines = 0

    def load(self, line: str) -> JsonDict:
        self.lines += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"input line {self.lines} (counting non-blank lines) is not valid JSON: {error.msg} "
                f"at column {error.colno}: {line.strip()[:80]!r}"
            ) from None
        if not isinstance(value, dict):
            raise ValueError(
                f"input line {self.lines} (counting non-blank lines) must be a JSON object such as "
                f'{{"tokens": ["I", "ran"]}}, got {line.strip()[:80]!r}'
            )
        return value


class OfflinePredictor(Predictor):
    """
    What our predictors share: JSON lines read with an error naming the input line
    (`JsonLines`), and `{"sentence": ...}` tokenised offline (`tokenize`).

    # Parameters

    model, dataset_reader, frozen
        As `Predictor`.
    sentence_tokenizer : `str`, optional (default = `"spacy"`)
        How `{"sentence": ...}` inputs are split into words: `"spacy"` (spaCy's rule-based
        English tokenizer, `spacy.blank("en")`) or `"whitespace"`. From the command line:
        `allennlp predict ... --predictor-args '{"sentence_tokenizer": "whitespace"}'`.
    """

    def __init__(
        self, model: Model, dataset_reader: DatasetReader, frozen: bool = True, sentence_tokenizer: str = "spacy"
    ) -> None:
        super().__init__(model, dataset_reader, frozen)
        if sentence_tokenizer not in SENTENCE_TOKENIZERS:
            raise ConfigurationError(
                f"sentence_tokenizer must be one of {SENTENCE_TOKENIZERS}, got {sentence_tokenizer!r}"
            )
        self.sentence_tokenizer = sentence_tokenizer
        self._json_lines = JsonLines()

    #: what an empty sentence's prediction holds (empty lists), whatever the model
    empty_output_keys = ("words",)

    def load_line(self, line: str) -> JsonDict:
        return self._json_lines.load(line)

    def predict_instance(self, instance: Instance) -> JsonDict:
        return self.predict_batch_instance([instance])[0]

    def predict_batch_instance(self, instances: List[Instance]) -> List[JsonDict]:
        """The model's predictions for the sentences with words; an empty sentence gets
        `empty_output_keys` as empty lists without reaching the model (a stock `crf_tagger` or
        `biaffine_parser` archive fails on a sentence of length 0)."""
        empty = [_is_empty(instance) for instance in instances]
        full = [instance for instance, e in zip(instances, empty) if not e]
        predicted = iter(super().predict_batch_instance(full) if full else [])
        return [{key: [] for key in self.empty_output_keys} if e else next(predicted) for e in empty]

    def words(self, json_dict: JsonDict) -> List[str]:
        """The words of one input (see `json_words`)."""
        return json_words(json_dict, self.sentence_tokenizer)


def _is_empty(instance: Instance) -> bool:
    """Whether the instance's words (its first text field) are none."""
    texts = [field for field in instance.fields.values() if isinstance(field, TextField)]
    return bool(texts) and len(texts[0]) == 0
