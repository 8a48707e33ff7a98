"""`distilled_crf_tagger` and `distilled_simple_tagger` through AllenNLP's own test harness."""
import json
import os
import shutil
import tarfile

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, Token
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.training.distillation_epoch import DistillationEpochCallback

STUDENT = "fixtures/configs/ner_student.jsonnet"
SOFTMAX_STUDENT = "fixtures/configs/ner_softmax_student.jsonnet"
TINY = "fixtures/ner/tiny.conll"
TEACHERS = "fixtures/teachers"

OBJECTIVES = [
    {"type": "sub_structure", "variant": "emission", "alpha": 0.9},
    {"type": "sub_structure", "variant": "bigram", "alpha": 0.9},
    {"type": "structural", "alpha": 0.5, "temperature": 2.0},
    {"type": "posterior", "alpha": 0.5},
    {"type": "token", "alpha": 0.5, "temperature": 2.0},
    {"type": "top_k", "k": 3, "alpha": 0.5},
]


def overrides(**model) -> str:
    return json.dumps({f"model.{k}": v for k, v in model.items()})


def student_params(**model) -> Params:
    params = Params.from_file(STUDENT, overrides(**model))
    return params


class TestDistilledCrfTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(STUDENT, TINY)

    def _train(self, **model):
        return self.ensure_model_can_train_save_and_load(STUDENT, overrides=overrides(**model))

    def test_no_kd_baseline_trains_like_crf_tagger(self):
        self._train(teacher=None, distillation=None)

    @pytest.mark.parametrize("distillation", OBJECTIVES, ids=lambda d: f"{d['type']}-{d.get('variant', '')}{d.get('anneal', '')}")
    def test_every_objective_trains_saves_and_loads(self, distillation):
        self._train(distillation=distillation)

    def test_softmax_teacher_case_3(self):
        self._train(teacher={"archive": f"{TEACHERS}/ner_softmax_teacher.tar.gz"}, distillation={"type": "structural"})

    def test_teacher_with_same_inputs_reuses_the_student_tensors(self):
        self._train(teacher={"archive": f"{TEACHERS}/tiny_simple_teacher.tar.gz"}, distillation={"type": "posterior"})
        model = self._kd_forward(teacher={"archive": f"{TEACHERS}/tiny_simple_teacher.tar.gz"}, distillation={"type": "posterior"})
        assert model.teacher._reuse is True

    def test_teacher_with_other_indexers_gets_reindexed_inputs(self):
        model = self._kd_forward()
        assert model.teacher._reuse is False  # words+chars teacher, words-only student

    def _kd_forward(self, **model_overrides):
        params = student_params(**model_overrides)
        model = Model.from_params(vocab=self.vocab, params=params["model"])
        model.train()
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        output = model(**batch.as_tensor_dict())
        assert torch.isfinite(output["loss"]) and "kd_loss" in output
        return model

    def test_teacher_labels_are_aligned_by_string(self):
        """The aligned teacher scores against the teacher's own forward pass (its archive's
        reader and vocabulary, its `logits` output) and its own CRF: emissions, transitions
        and the start and end transitions, each label found by its string."""
        teacher_path = f"{TEACHERS}/tiny_crf_teacher_reordered.tar.gz"
        model = self._kd_forward(teacher={"archive": teacher_path}, distillation={"type": "structural"})
        student_labels = self.vocab.get_index_to_token_vocabulary("labels")
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        tensors = batch.as_tensor_dict()
        mask = tensors["tokens"]["tokens"]["tokens"] > 0
        aligned = model.teacher_scores(model._tagger_batch(tensors["tokens"], tensors["metadata"], mask))[0]
        archive = load_archive(teacher_path)
        teacher = archive.model.eval()
        teacher_labels = teacher.vocab.get_index_to_token_vocabulary("labels")
        assert student_labels != teacher_labels  # the fixture really is in another order
        own = Batch(list(archive.dataset_reader.read(TINY)))
        own.index_instances(teacher.vocab)
        with torch.no_grad():
            raw = teacher(**own.as_tensor_dict())["logits"]
        crf = teacher.crf
        assert crf.include_start_end_transitions
        teacher_index = {label: i for i, label in teacher_labels.items()}
        for i, label in student_labels.items():
            t = teacher_index[label]
            assert torch.allclose(aligned.emissions[..., i], raw[..., t] * mask, rtol=0, atol=1e-6)
            assert aligned.start[i] == crf.start_transitions[t]
            assert aligned.end[i] == crf.end_transitions[t]
            for j, other in student_labels.items():
                assert aligned.transitions[i, j] == crf.transitions[t, teacher_index[other]]

    def test_student_archive_has_no_teacher_and_predicts_with_the_teacher_gone(self, tmp_path):
        teacher_copy = tmp_path / "teacher.tar.gz"
        shutil.copy(f"{TEACHERS}/ner_crf_teacher.tar.gz", teacher_copy)
        model, _ = self._train(teacher={"archive": str(teacher_copy)}, distillation={"type": "structural"})
        assert model.teacher.loaded
        archive_path = self.TEST_DIR / "save_and_load_test" / "model.tar.gz"
        with tarfile.open(archive_path) as archive:
            archive.extract("weights.th", tmp_path)
        weights = torch.load(tmp_path / "weights.th")
        fresh = Model.from_params(vocab=self.vocab, params=student_params(distillation=None, teacher=None)["model"])
        assert set(weights) == set(fresh.state_dict())
        assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in fresh.parameters())
        teacher_ids = {id(p) for p in model.teacher.model.parameters()}
        assert not teacher_ids & {id(p) for p in model.parameters()}

        os.remove(teacher_copy)
        archive = load_archive(str(archive_path))
        predictor = Predictor.from_archive(archive)  # the model's default predictor
        result = predictor.predict_json({"tokens": ["Barack", "Obama", "visited", "Paris", "."]})
        assert len(result["tags"]) == 5 and all(isinstance(t, str) for t in result["tags"])
        assert predictor.predict_json({"sentence": "hello  world"})["words"] == ["hello", "world"]
        assert not archive.model.teacher.loaded

    def test_a_distilled_student_can_teach_the_next_one(self):
        self._train(distillation={"type": "posterior"})
        first = self.TEST_DIR / "save_and_load_test" / "model.tar.gz"
        second = self.TEST_DIR / "first_student.tar.gz"
        shutil.copy(first, second)
        shutil.rmtree(self.TEST_DIR / "save_and_load_test")
        self._train(teacher={"archive": str(second)}, distillation={"type": "structural"})

    def test_empty_and_one_token_sentences_in_a_training_batch(self):
        params = student_params(distillation={"type": "structural"})
        model = Model.from_params(vocab=self.vocab, params=params["model"])
        reader = self._reader()
        words = [[], ["Paris"], ["John", "Smith", "lives", "in", "Paris"], []]
        tags = [[], ["B-LOC"], ["B-PER", "I-PER", "O", "O", "B-LOC"], []]
        instances = [reader.text_to_instance([Token(w) for w in ws], ner_tags=ts) for ws, ts in zip(words, tags)]
        for instance in instances:
            reader.apply_token_indexers(instance)
        batch = Batch(instances)
        batch.index_instances(self.vocab)
        model.train()
        output = model(**batch.as_tensor_dict())
        assert torch.isfinite(output["loss"])
        output["loss"].backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        model.eval()
        readable = model.make_output_human_readable(model(**batch.as_tensor_dict()))
        assert [len(t) for t in readable["tags"]] == [0, 1, 5, 0]
        # a batch of nothing but empty sentences
        only_empty = Batch([instances[0], instances[3]])
        only_empty.index_instances(self.vocab)
        model.train()
        output = model(**only_empty.as_tensor_dict())
        assert output["loss"].item() == 0.0 and output["tags"] == [[], []]
        output["loss"].backward()

    def _reader(self):
        from allennlp.data import DatasetReader

        return DatasetReader.from_params(Params.from_file(STUDENT)["dataset_reader"])

    # ---------------------------------------------------------------- bad input

    def test_missing_teacher_archive(self):
        with pytest.raises(ConfigurationError, match="does not exist"):
            self._kd_forward(teacher={"archive": "/nonexistent/teacher.tar.gz"})

    def test_corrupt_teacher_archive(self, tmp_path):
        corrupt = tmp_path / "model.tar.gz"
        corrupt.write_bytes(open(f"{TEACHERS}/ner_crf_teacher.tar.gz", "rb").read()[:5000])
        with pytest.raises(ConfigurationError, match="could not be loaded"):
            self._kd_forward(teacher={"archive": str(corrupt)})

    def test_teacher_of_the_wrong_task(self):
        with pytest.raises(ConfigurationError, match="BiaffineDependencyParser.*CrfTagger"):
            self._kd_forward(teacher={"archive": f"{TEACHERS}/dep_teacher.tar.gz"})

    def test_teacher_with_other_labels_names_them(self):
        with pytest.raises(ConfigurationError, match=r"only the teacher has \['B-MISC'\]"):
            self._kd_forward(teacher={"archive": f"{TEACHERS}/tiny_crf_teacher_misc.tar.gz"})

    @pytest.mark.parametrize(
        "distillation, message",
        [
            ({"type": "distil_everything"}, "distil_everything"),
            ({"type": "structural", "alpha": 2.0}, "alpha"),
            ({"type": "posterior", "temperature": 0.0}, "temperature"),
        ],
    )
    def test_bad_objective_is_a_configuration_error(self, distillation, message):
        with pytest.raises(ConfigurationError, match=message):
            Model.from_params(vocab=self.vocab, params=student_params(distillation=distillation)["model"])

    def test_objective_without_teacher_or_teacher_without_objective(self):
        with pytest.raises(ConfigurationError, match="needs a teacher"):
            Model.from_params(vocab=self.vocab, params=student_params(teacher=None)["model"])
        with pytest.raises(ConfigurationError, match="no distillation objective"):
            Model.from_params(vocab=self.vocab, params=student_params(distillation=None)["model"])

    def test_bigram_sub_structure_needs_a_crf_teacher(self):
        with pytest.raises(ConfigurationError, match="CRF teacher"):
            self._kd_forward(
                teacher={"archive": f"{TEACHERS}/ner_softmax_teacher.tar.gz"},
                distillation={"type": "sub_structure", "variant": "bigram"},
            )

    def test_annealing_with_the_stock_trainer(self):
        from allennlp.commands.train import train_model_from_file

        model = train_model_from_file(
            STUDENT,
            self.TEST_DIR / "anneal",
            overrides=overrides(distillation={"type": "structural", "anneal": 50.0}),
        )
        assert model._distillation_epoch == 2  # told by the callback after each of 2 epochs
        assert model.distillation.alpha_at(model._distillation_epoch) == 0.0

    def test_annealing_without_the_callback_is_a_clear_error(self):
        with pytest.raises(ConfigurationError, match="distillation_epoch"):
            self._kd_forward(distillation={"type": "structural", "anneal": 50.0})

    def test_annealing_follows_the_epoch_callback(self):
        model = Model.from_params(vocab=self.vocab, params=student_params(distillation={"type": "structural", "alpha": 0.2, "anneal": 40.0})["model"])

        class Trainer:
            _epochs_completed = 1

        trainer = Trainer()
        trainer.model = model
        callback = DistillationEpochCallback(serialization_dir=str(self.TEST_DIR))
        callback.on_start(trainer)
        assert model.distillation.alpha_at(model._distillation_epoch) == pytest.approx(0.6)
        callback.on_epoch(trainer, metrics={}, epoch=1)
        assert model.distillation.alpha_at(model._distillation_epoch) == pytest.approx(0.2)


class TestDistilledSimpleTagger(ModelTestCase):
    """The softmax student of Wang et al.'s case 2a."""

    def setup_method(self):
        super().setup_method()
        self.set_up_model(STUDENT, TINY)

    @pytest.mark.parametrize("distillation", [
        {"type": "posterior"}, {"type": "structural", "temperature": 2.0}, {"type": "token"},
        {"type": "top_k", "k": 2}, {"type": "sub_structure"},
    ], ids=lambda d: d["type"])
    def test_softmax_student_trains_saves_and_loads(self, distillation):
        self.ensure_model_can_train_save_and_load(SOFTMAX_STUDENT, overrides=overrides(distillation=distillation))

    def test_softmax_student_predicts_empty_and_one_word_sentences(self):
        model, _ = self.ensure_model_can_train_save_and_load(SOFTMAX_STUDENT)
        from allennlp.predictors import Predictor
        from allennlp.data import DatasetReader

        reader = DatasetReader.from_params(Params.from_file(SOFTMAX_STUDENT)["dataset_reader"])
        predictor = Predictor.by_name("pretokenized_tagger")(model.eval(), reader)
        results = predictor.predict_batch_json([{"tokens": []}, {"tokens": ["Paris"]}, {"sentence": "John lives in Rome"}])
        assert [len(r["tags"]) for r in results] == [0, 1, 4]
        assert predictor.predict_json({"sentence": "   "})["tags"] == []

    def test_softmax_student_cannot_do_bigram_sub_structure(self):
        params = Params.from_file(SOFTMAX_STUDENT, overrides(distillation={"type": "sub_structure", "variant": "bigram"}))
        model = Model.from_params(vocab=self.vocab, params=params["model"])
        model.train()
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        with pytest.raises(ConfigurationError, match="CRF student"):
            model(**batch.as_tensor_dict())
