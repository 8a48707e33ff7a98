"""`pretokenized_tagger`: an offline predictor for tagger archives."""
from allennlp.common import JsonDict
from allennlp.data import Instance, Token
from allennlp.predictors.predictor import Predictor

from allennlp_subkd.predictors.pretokenized import OfflinePredictor


@Predictor.register("pretokenized_tagger")
class PretokenizedTaggerPredictor(OfflinePredictor):
    """
    Predicts tags for pre-tokenised sentences with any tagger archive whose dataset reader
    has `text_to_instance(tokens: List[Token])` (e.g. `conll2003`). Needs no tokenizer
    model, unlike AllenNLP's `sentence_tagger` (which loads spaCy's `en_core_web_sm`).

    Input JSON lines: `{"tokens": ["EU", "rejects", "German", "call", "."]}` or
    `{"sentence": "EU rejects German call."}` (tokenised by spaCy's rule-based English
    tokenizer, or split on whitespace with `sentence_tokenizer: "whitespace"`; see
    `OfflinePredictor`). Output: the model's
    output with `words` and `tags` (label strings); an empty sentence gives empty lists.
    `allennlp predict ARCHIVE data.conll --use-dataset-reader` reads files with the
    archive's own reader instead.

    Registered as a `Predictor` with name "pretokenized_tagger".
    """

    empty_output_keys = ("words", "tags")

    def predict(self, tokens) -> JsonDict:
        """Tags for one list of words."""
        return self.predict_json({"tokens": list(tokens)})

    def _json_to_instance(self, json_dict: JsonDict) -> Instance:
        words = self.words(json_dict)
        return self._dataset_reader.text_to_instance([Token(w) for w in words])
