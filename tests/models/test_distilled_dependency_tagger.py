"""`distilled_dependency_tagger` (parsing as sequence labelling, taught by a parser: Wang et al.
case 1b) through AllenNLP's test harness, its decoding and scores, prediction and bad input."""
import json
import re

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor
from allennlp.training.metrics import AttachmentScores

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.data.dependency_encoding import decode_head
from allennlp_subkd.distillation.tasks.dependency_labels import DependencyLabelsTeacherAdapter
from allennlp_subkd.distillation.tasks.tagger import TaggerTeacherAdapter

STUDENT = "fixtures/configs/dep_tagger_student.jsonnet"
TINY = "fixtures/dep/tiny.conllu"
TEACHERS = "fixtures/teachers"


def overrides(**model) -> str:
    return json.dumps({f"model.{k}": v for k, v in model.items()})


class TestDistilledDependencyTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(STUDENT, TINY)

    def _model(self, **model) -> Model:
        params = Params.from_file(STUDENT, overrides(**model))
        return Model.from_params(vocab=self.vocab, params=params["model"])

    def _tensors(self):
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        return batch.as_tensor_dict()

    def test_no_kd_baseline_trains_saves_and_loads(self):
        self.ensure_model_can_train_save_and_load(STUDENT, overrides=overrides(teacher=None, distillation=None))

    @pytest.mark.parametrize("distillation, adapter", [
        ({"type": "structural", "alpha": 0.5}, None),
        ({"type": "posterior", "alpha": 0.5, "temperature": 2.0}, {"type": "dependency_labels", "tree": "local"}),
        ({"type": "token", "alpha": 0.5}, {"type": "dependency_labels", "tree": "projective", "relation_heads": None}),
    ])
    def test_kd_from_a_parser_trains_saves_and_loads(self, distillation, adapter):
        teacher = {"archive": f"{TEACHERS}/tiny_dep_teacher.tar.gz"}
        if adapter is not None:
            teacher["adapter"] = adapter
        self.ensure_model_can_train_save_and_load(STUDENT, overrides=overrides(teacher=teacher, distillation=distillation))

    def test_structural_kd_is_the_cross_entropy_to_the_teachers_label_marginals(self):
        model = self._model(distillation={"type": "structural", "alpha": 1.0})
        model.eval()
        model.training = True  # KD on, no dropout
        tensors = self._tensors()
        output = model(**tensors)
        adapter = model._adapter
        mask = tensors["tokens"]["tokens"]["tokens"] > 0
        teacher = model.teacher_scores(model._teacher_batch({"tokens": tensors["tokens"]}, tensors["metadata"], mask))[0]
        q = teacher.emissions.exp() * mask.unsqueeze(-1)
        assert torch.allclose(q.sum(-1), mask.float(), atol=1e-5)  # one distribution per word
        log_p = output["logits"].log_softmax(-1)
        expected = (-(q * log_p).sum(-1).sum(-1) / mask.sum(-1)).mean()
        assert torch.allclose(output["kd_loss"], expected, atol=1e-5)
        assert adapter.excluded_mass is not None and (adapter.excluded_mass >= 0).all()

    def test_a_teacher_without_an_adapter_is_read_as_a_parser_also_through_the_flat_arguments(self):
        assert isinstance(self._model()._adapter, DependencyLabelsTeacherAdapter)
        with pytest.warns(DeprecationWarning):
            model = self._model(teacher=None, teacher_archive=f"{TEACHERS}/tiny_dep_teacher.tar.gz")
        assert isinstance(model._adapter, DependencyLabelsTeacherAdapter)
        assert isinstance(self._model(teacher={"archive": f"{TEACHERS}/ner_crf_teacher.tar.gz",
                                               "adapter": {"type": "tagger"}})._adapter, TaggerTeacherAdapter)

    def test_decoding_reproduces_gold_trees_from_gold_labels(self):
        model = self._model(teacher=None, distillation=None)
        tensors = self._tensors()
        gold = tensors["tags"]
        onehot = torch.nn.functional.one_hot(gold, model.vocab.get_vocab_size("labels")).float()
        heads, relations = model.decode_heads(onehot, tensors["metadata"])
        for meta, h, r in zip(tensors["metadata"], heads, relations):
            assert h == meta["gold_heads"] and r == meta["gold_relations"]

    def test_attachment_scores_are_the_stock_metrics_without_punctuation(self):
        model = self._model(teacher=None, distillation=None)
        model.eval()
        tensors = self._tensors()
        output = model(**tensors)
        metrics = model.get_metrics(reset=True)
        stock = AttachmentScores()
        for meta, heads, relations in zip(tensors["metadata"], output["predicted_heads"], output["predicted_dependencies"]):
            keep = torch.tensor([[tag not in ("PUNCT", "SYM") for tag in meta["pos"]]])
            names = {r: i for i, r in enumerate(sorted(set(relations) | set(meta["gold_relations"])))}
            stock(torch.tensor([heads]), torch.tensor([[names[r] for r in relations]]),
                  torch.tensor([meta["gold_heads"]]), torch.tensor([[names[r] for r in meta["gold_relations"]]]), keep)
        expected = stock.get_metric()
        for key in ("UAS", "LAS"):
            assert metrics[key] == pytest.approx(expected[key])

    def test_a_tagger_teacher_cannot_teach_through_the_parser_adapter(self):
        model = self._model(teacher={"archive": f"{TEACHERS}/ner_crf_teacher.tar.gz"})
        model.train()
        with pytest.raises(ConfigurationError, match="CrfTagger.*BiaffineDependencyParser"):
            model(**self._tensors())

    def test_a_teacher_that_does_not_know_the_students_relations_is_refused(self):
        self.vocab.add_token_to_namespace("+1@NOUN@made:up", "labels")  # a relation no parser knows
        model = self._model()
        model.train()
        with pytest.raises(ConfigurationError, match=r"does not know: \['made:up'\]"):
            model(**self._tensors())


def test_a_tagger_whose_labels_are_not_the_dependency_encoding_is_refused():
    params = Params.from_file("fixtures/configs/ner_softmax_student.jsonnet")
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    vocab = Vocabulary.from_instances(reader.read("fixtures/ner/tiny.conll"))
    model = params.pop("model").as_dict()
    model["teacher"] = {"archive": f"{TEACHERS}/tiny_dep_teacher.tar.gz", "adapter": {"type": "dependency_labels"}}
    with pytest.raises(ConfigurationError, match=re.escape(
        "distilled_simple_tagger: a dependency parser teaches through the 'dependency_labels' adapter "
        "only a tagger whose labels ('labels') are the relative-POS dependency encoding"
    ) + r".*; got \['B-LOC', 'B-ORG', 'B-PER', 'I-LOC', 'I-ORG'\]$"):
        Model.from_params(vocab=vocab, params=Params(model))


def test_predictions_give_one_head_per_word(tmp_path):
    from allennlp.commands.train import train_model_from_file

    train_model_from_file(STUDENT, str(tmp_path / "run"), overrides=overrides(teacher=None, distillation=None))
    predictor = Predictor.from_archive(load_archive(str(tmp_path / "run" / "model.tar.gz")))
    sentences = [
        {"tokens": ["I", "ran", "home", "."], "pos": ["PRON", "VERB", "NOUN", "PUNCT"]},
        {"tokens": ["Go"], "pos": ["VERB"]},
        {"tokens": [], "pos": []},
    ]
    outputs = predictor.predict_batch_json(sentences)
    for sentence, output in zip(sentences, outputs):
        n = len(sentence["tokens"])
        assert len(output["predicted_heads"]) == n == len(output["predicted_dependencies"]) == len(output["tags"])
        assert all(0 <= h <= n for h in output["predicted_heads"])
        # a word whose best label points at an existing word takes exactly that head and relation
        for i, tag in enumerate(output["tags"]):
            head = decode_head(sentence["pos"], i + 1, tag)
            if head is not None:
                assert output["predicted_heads"][i] == head
                assert output["predicted_dependencies"][i] == tag.split("@")[2]
    with pytest.raises(ValueError, match='this DistilledDependencyTagger embeds POS tags: each input needs "pos"'):
        predictor.predict_json({"tokens": ["I", "ran"]})
