"""`biaffine_span_tagger` (span-based NER) through AllenNLP's own test harness."""
import json
import logging

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.data.dataset_readers.dataset_utils.span_utils import bio_tags_to_spans
from allennlp.models import Model
from allennlp.predictors import Predictor

import allennlp_subkd  # noqa: F401
from allennlp_subkd.structures import segments

CONFIG = "fixtures/configs/span_teacher.jsonnet"
TINY = "fixtures/ner/tiny.conll"


def _model(vocab, **overrides):
    params = Params.from_file(CONFIG, json.dumps({f"model.{k}": v for k, v in overrides.items()}))
    return Model.from_params(vocab=vocab, params=params["model"])


class TestBiaffineSpanTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(CONFIG, TINY)

    def _batch(self, instances=None):
        batch = Batch(instances or self.instances)
        batch.index_instances(self.vocab)
        return batch.as_tensor_dict()

    def test_trains_saves_and_loads(self):
        self.ensure_model_can_train_save_and_load(CONFIG)

    def test_decodes_the_best_non_overlapping_spans_as_bio_tags(self):
        model = _model(self.vocab).eval()
        tensors = self._batch()
        with torch.no_grad():
            output = model(**tensors)
            scores, mask = model.span_scores(tensors["tokens"])
        found, _ = segments.viterbi(model.log_odds(scores), mask)
        for sentence, tags, spans in zip(found, output["tags"], output["spans"]):
            assert [[model.entity_types[c], a, e] for a, e, c in sentence] == spans
            assert sorted((label, (a, e)) for label, a, e in spans) == sorted(bio_tags_to_spans(tags))
            covered = [t for _, a, e in spans for t in range(a, e + 1)]
            assert len(covered) == len(set(covered))  # no overlap

    def test_span_f1_is_the_stock_metric_over_the_decoded_tags(self):
        model = _model(self.vocab).eval()
        tensors = self._batch()
        with torch.no_grad():
            output = model(**tensors)
        gold = [[self.vocab.get_token_from_index(int(t), "labels") for t in row[: len(tags)]]
                for row, tags in zip(tensors["tags"], output["tags"])]
        predicted = {(b, label, span) for b, tags in enumerate(output["tags"]) for label, span in bio_tags_to_spans(tags)}
        true = {(b, label, span) for b, tags in enumerate(gold) for label, span in bio_tags_to_spans(tags)}
        hits = len(predicted & true)
        metrics = model.get_metrics(reset=True)
        precision = hits / len(predicted) if predicted else 0.0
        recall = hits / len(true)
        assert metrics["precision-overall"] == pytest.approx(precision)
        assert metrics["recall-overall"] == pytest.approx(recall)

    def test_a_gold_entity_longer_than_max_span_length(self, caplog):
        model = _model(self.vocab, max_span_length=1).train()  # "Dominion Post" has 2 words
        with pytest.raises(ConfigurationError, match=r"of 2 words .* longer than max_span_length = 1; set max_span_length >= 3"):
            model(**self._batch())
        model = _model(self.vocab, max_span_length=1, long_entities="ignore").train()
        with caplog.at_level(logging.WARNING):
            output = model(**self._batch())
        assert torch.isfinite(output["loss"]) and "left out of the loss" in caplog.text
        model.eval()
        with torch.no_grad():
            model(**self._batch())  # validation: a miss, never an error
        assert model.get_metrics()["recall-overall"] < 1.0

    @pytest.mark.parametrize("bad,match", [
        ({"label_encoding": "IOB1"}, "label_encoding must be one of"),
        ({"max_span_length": 0}, "max_span_length must be an integer >= 1"),
        ({"long_entities": "truncate"}, "long_entities must be"),
    ])
    def test_bad_configuration(self, bad, match):
        with pytest.raises(ConfigurationError, match=match):
            _model(self.vocab, **bad)

    def test_a_vocabulary_without_entities_is_a_clear_error(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["O"], "labels")
        with pytest.raises(ConfigurationError, match="no entity label"):
            _model(vocab)

    def test_unseen_gold_labels_are_misses_not_crashes(self, tmp_path):
        reader = DatasetReader.from_params(Params({"type": "checked_conll2003", "tag_label": "ner",
                                                   "token_indexers": {"tokens": {"type": "single_id"}}}))
        data = tmp_path / "unseen.conll"
        data.write_text("Paris PROPN _ B-LOC\nis AUX _ O\nbig ADJ _ O\n\nACME PROPN _ B-MISC\nsells VERB _ O\n\n")
        instances = list(reader.read(str(data)))
        model = _model(self.vocab).eval()
        for instance in instances:
            instance.index_fields(self.vocab)
        batch = Batch(instances)
        with torch.no_grad():
            output = model(**batch.as_tensor_dict())
        assert torch.isfinite(output["loss"])
        assert model.get_metrics()["recall-overall"] <= 0.5  # the MISC entity is a miss

    def test_predictor_gives_tags_and_handles_empty_sentences(self):
        model, _ = self.ensure_model_can_train_save_and_load(CONFIG)
        reader = DatasetReader.from_params(Params.from_file(CONFIG)["dataset_reader"])
        predictor = Predictor.by_name("pretokenized_tagger")(model.eval(), reader)
        results = predictor.predict_batch_json([{"tokens": []}, {"tokens": ["Paris"]}, {"sentence": "John lives in Rome"}])
        assert [len(r["tags"]) for r in results] == [0, 1, 4]
        assert all(isinstance(t, str) for t in results[2]["tags"])
        assert "span_scores" not in results[2]
