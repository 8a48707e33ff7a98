"""`pretokenized_parser`: an offline predictor for dependency-parser archives."""
from typing import List, Optional

from allennlp.common import JsonDict
from allennlp.data import Instance
from allennlp.models import SimpleTagger
from allennlp.predictors.predictor import Predictor

from allennlp_subkd.predictors.pretokenized import OfflinePredictor

#: the POS tag given to every word when the input has none and the parser does not embed POS
#: tags: CoNLL-U's "unspecified" value. The parser only reads POS tags to embed them and to
#: leave punctuation out of its attachment scores, so it changes no prediction.
POS_PLACEHOLDER = "_"


@Predictor.register("pretokenized_parser")
class PretokenizedParserPredictor(OfflinePredictor):
    """
    Predicts dependency trees for pre-tokenised sentences with a `biaffine_parser` or
    `distilled_biaffine_parser` archive (whose dataset reader is `universal_dependencies`), or
    a `distilled_dependency_tagger` (reader `dependency_labels`, POS tags required).
    Needs no tokenizer or tagger model, unlike allennlp-models' `biaffine_dependency_parser`
    predictor (which loads spaCy's `en_core_web_sm` for tokens and POS tags).

    Input JSON lines: `{"tokens": ["I", "have", "."], "pos": ["PRON", "VERB", "PUNCT"]}` or
    `{"sentence": "I have.", "pos": [...]}` (tokenised as `OfflinePredictor` says: give one POS
    tag per resulting word). `"pos"` holds one tag per
    word, in the tag set the parser was trained with (UPOS for the UD reader's default). It
    is required when the parser embeds POS tags (`pos_tag_embedding`); without it such a
    parser gets a `ValueError`. A parser without a POS embedding may be given no `"pos"`:
    every word then gets the placeholder `"_"` (CoNLL-U's "unspecified"), which changes no
    prediction.

    Output: the model's output with `words`, `pos`, `predicted_heads` (1-based, 0 = ROOT) and
    `predicted_dependencies` (relation strings); an empty sentence gives empty lists.
    `allennlp predict ARCHIVE data.conllu --use-dataset-reader` parses CoNLL-U files with
    the archive's own reader instead (gold POS tags from the file).

    Registered as a `Predictor` with name "pretokenized_parser".
    """

    @property
    def empty_output_keys(self):  # type: ignore[override]
        keys = ("words", "pos", "predicted_heads", "predicted_dependencies")
        # a sequence-labelling parser (distilled_dependency_tagger) also outputs its labels
        return keys + ("tags",) if isinstance(self._model, SimpleTagger) else keys

    def predict(self, tokens: List[str], pos: Optional[List[str]] = None) -> JsonDict:
        """The tree of one list of words (and their POS tags)."""
        json_dict: JsonDict = {"tokens": list(tokens)}
        if pos is not None:
            json_dict["pos"] = list(pos)
        return self.predict_json(json_dict)

    def _uses_pos(self) -> bool:
        return (getattr(self._model, "_pos_tag_embedding", None) is not None
                or getattr(self._model, "reads_pos_tags", False))

    def _json_to_instance(self, json_dict: JsonDict) -> Instance:
        words = self.words(json_dict)
        pos = json_dict.get("pos")
        if pos is None:
            if self._uses_pos():
                raise ValueError(
                    f"this {type(self._model).__name__} embeds POS tags: each input needs "
                    f'"pos", a list of one tag per word, e.g. {{"tokens": ["I", "run"], '
                    f'"pos": ["PRON", "VERB"]}}; got the keys {sorted(json_dict)}'
                )
            pos = [POS_PLACEHOLDER] * len(words)
        elif not isinstance(pos, list) or not all(isinstance(tag, str) and tag for tag in pos):
            raise ValueError(f'"pos" must be a list of non-empty strings, got {pos!r}')
        elif len(pos) != len(words):
            raise ValueError(
                f'"pos" has {len(pos)} tags for {len(words)} words ({words!r}): give one tag '
                "per word"
            )
        return self._dataset_reader.text_to_instance(words, list(pos))
