"""The `teacher` object every distilled model takes: validation, the deprecated flat arguments,
ensembles through the models, and adapters' errors."""
import importlib
import json
import warnings

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model

from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter
from allennlp_subkd.distillation.objectives.tagging import StructuralTaggerDistillation
from allennlp_subkd.distillation.objectives.scores import TaggerScores
from allennlp_subkd.distillation.tasks.tagger import TaggerTeacherAdapter
from allennlp_subkd.distillation.teacher.config import Teacher
from allennlp_subkd.distillation.teacher.disk_cache import TeacherDiskCache
from allennlp_subkd.distillation.teacher.sqlite_store import TeacherSqliteStore
from allennlp_subkd.models import DistilledCrfTagger

TEACHERS = "fixtures/teachers"
CRF, SOFTMAX = f"{TEACHERS}/ner_crf_teacher.tar.gz", f"{TEACHERS}/ner_softmax_teacher.tar.gz"
STUDENTS = {
    "distilled_crf_tagger": ("fixtures/configs/ner_student.jsonnet", "fixtures/ner/tiny.conll", CRF),
    "distilled_simple_tagger": ("fixtures/configs/ner_softmax_student.jsonnet", "fixtures/ner/tiny.conll", CRF),
    "distilled_biaffine_parser": ("fixtures/configs/dep_student.jsonnet", "fixtures/dep/tiny.conllu",
                                  f"{TEACHERS}/tiny_dep_teacher.tar.gz"),
}


def build(config, data, **model):
    """The student of `config` with `model` keys replaced, and its indexed instances."""
    params = Params.from_file(config)
    model_params = params["model"].as_dict()
    model_params.update(model)
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(data))
    vocab = Vocabulary.from_instances(instances)
    for instance in instances:
        instance.index_fields(vocab)
    student = Model.from_params(vocab=vocab, params=Params(model_params))
    student.train()
    return student, instances


def forward(model, instances):
    batch = Batch(instances)
    return model(**batch.as_tensor_dict())


# --------------------------------------------------------------------------- the object


@pytest.mark.parametrize(
    "params, message",
    [
        ({"archive": []}, "non-empty list"),
        ({"archive": [CRF, SOFTMAX], "weights": [1.0]}, "1 weights for 2 archives"),
        ({"archive": [CRF, SOFTMAX], "weights": [1.0, -0.5]}, ">= 0"),
        ({"archive": [CRF, SOFTMAX], "weights": [0, 0]}, "not all 0"),
        ({"archive": [CRF, SOFTMAX], "weights": [1.0, float("nan")]}, "finite"),
        ({"archive": CRF, "adapter": {"type": "no_such_adapter"}}, "no_such_adapter"),
        ({"archive": CRF, "cache": {"store": "lmdb"}}, r"teacher.cache.store must be one of \['files', 'sqlite'\], got 'lmdb'"),
    ],
)
def test_bad_teacher_settings_are_configuration_errors(params, message):
    with pytest.raises(ConfigurationError, match=message):
        Teacher.from_params(Params(params))


@pytest.mark.parametrize("store, kind", [(None, TeacherSqliteStore), ("sqlite", TeacherSqliteStore),
                                         ("files", TeacherDiskCache)])
def test_cache_store_chooses_the_on_disk_store(store, kind, tmp_path):
    """`teacher.cache.store`: `"sqlite"` by default, `"files"` the one-file-per-sentence store;
    every member of an ensemble gets one."""
    cache = {"dir": str(tmp_path), "dir_mb": 10, "dtype": "float16", **({"store": store} if store else {})}
    teacher = Teacher.from_params(Params({"archive": [CRF, SOFTMAX], "cache": cache}))
    assert teacher.cache.store == (store or "sqlite")
    for member in teacher.members(TaggerTeacherAdapter(), "test"):
        assert type(member.disk) is kind and member.disk.enabled
        assert member.disk.max_bytes == 10 * 2 ** 20 and member.disk.dtype == torch.float16


def test_weights_are_normalised_and_a_path_is_a_one_member_list():
    assert Teacher.from_params(Params({"archive": [CRF, SOFTMAX], "weights": [3, 1]})).weights == [0.75, 0.25]
    single = Teacher.from_params(Params({"archive": CRF}))
    assert single.archives == [CRF] and single.weights == [1.0] and not single.is_ensemble


# --------------------------------------------------------------------------- deprecation

FLAT = {"reindex_teacher_inputs": True, "teacher_cache_mb": 64, "teacher_cache_dtype": "float16",
        "teacher_cache_dir_mb": 100}


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_the_flat_arguments_of_every_model_still_work_with_a_deprecation_warning(name, tmp_path):
    config, data, archive = STUDENTS[name]
    flat = dict(FLAT, teacher_archive=archive, teacher_cache_dir=str(tmp_path))
    with pytest.warns(DeprecationWarning, match="teacher_archive -> teacher.archive"):
        old, instances = build(config, data, teacher=None, **flat)
    new, _ = build(config, data, teacher={
        "archive": archive, "reindex_inputs": True,
        "cache": {"memory_mb": 64, "dtype": "float16", "dir": str(tmp_path), "dir_mb": 100}})
    for model in (old, new):
        teacher = model.teacher
        assert teacher.archive_path == archive and teacher.reindex_inputs is True
        assert teacher.cache.max_bytes == 64 * 2 ** 20 and teacher.cache.dtype == torch.float16
        assert teacher.disk is not None and teacher.disk.max_bytes == 100 * 2 ** 20
    new.load_state_dict(old.state_dict())
    torch.manual_seed(0)
    loss_old = forward(old, instances)["loss"]
    torch.manual_seed(0)
    loss_new = forward(new, instances)["loss"]
    assert torch.allclose(loss_old, loss_new)


def test_the_flat_arguments_in_python_and_both_spellings_at_once():
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    plain, _ = build(config, data, teacher=None, distillation=None)
    student_params = Params.from_file(config)["model"].as_dict()
    del student_params["teacher"]
    with pytest.raises(ConfigurationError, match="not both"):
        Model.from_params(vocab=plain.vocab, params=Params(dict(
            student_params, teacher={"archive": CRF}, teacher_archive=CRF)))
    # a Python caller: the keyword arguments are taken out before CrfTagger sees them
    with pytest.warns(DeprecationWarning, match="teacher_cache_mb -> teacher.cache.memory_mb"):
        direct = DistilledCrfTagger(plain.vocab, plain.text_field_embedder, plain.encoder, teacher_archive=CRF,
                                    teacher_cache_mb=0, distillation=StructuralTaggerDistillation())
    assert direct.teacher.archive_path == CRF and not direct.teacher.cache.enabled


def test_flat_cache_arguments_without_a_teacher_archive_warn_that_they_are_ignored(tmp_path):
    """Flat cache settings with no `teacher_archive` configure no teacher: a warning says so
    (in a config and from Python), and the student is a plain one."""
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    plain, _ = build(config, data, teacher=None, distillation=None)
    student_params = Params.from_file(config)["model"].as_dict()
    del student_params["teacher"]
    del student_params["distillation"]
    with pytest.warns(UserWarning, match="teacher_cache_dir given without teacher_archive configure no teacher"):
        model = Model.from_params(vocab=plain.vocab, params=Params(dict(student_params, teacher_cache_dir=str(tmp_path))))
    assert model.teacher is None
    with pytest.warns(UserWarning, match="teacher_cache_dtype, teacher_cache_mb given without teacher_archive"):
        direct = DistilledCrfTagger(plain.vocab, plain.text_field_embedder, plain.encoder,
                                    teacher_cache_mb=0, teacher_cache_dtype="float16")
    assert direct.teacher is None


@pytest.mark.parametrize("old, name, new", [
    ("allennlp_subkd.distillation.adapter", "TeacherAdapter", "allennlp_subkd.distillation.teacher.adapter"),
    ("allennlp_subkd.distillation.adapter", "TeacherBatch", "allennlp_subkd.distillation.teacher.adapter"),
    ("allennlp_subkd.distillation.scores", "check_shape", "allennlp_subkd.distillation.objectives.scores"),
    ("allennlp_subkd.distillation.scores", "TaggerScores", "allennlp_subkd.distillation.objectives.scores"),
    ("allennlp_subkd.distillation.student", "DistilledModelMixin", "allennlp_subkd.distillation.tasks.student"),
    ("allennlp_subkd.distillation.teacher_config", "Teacher", "allennlp_subkd.distillation.teacher.config"),
])
def test_the_import_paths_of_the_last_release_still_work_with_a_deprecation_warning(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"{old}.{name} moved to {new}.{name}"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        module.nothing  # noqa: B018


# --------------------------------------------------------------------------- ensembles


def test_an_ensemble_student_trains_against_the_mixture_of_its_teachers():
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    ensemble, instances = build(config, data, teacher={"archive": [CRF, SOFTMAX], "weights": [3, 1]},
                                distillation={"type": "structural", "alpha": 1.0})
    assert [t.archive_path for t in ensemble.teachers] == [CRF, SOFTMAX]
    assert ensemble.teacher_weights == [0.75, 0.25]
    singles = []
    for archive in (CRF, SOFTMAX):
        single, _ = build(config, data, teacher={"archive": archive}, distillation={"type": "structural", "alpha": 1.0})
        single.load_state_dict(ensemble.state_dict())
        singles.append(single)
    kd = []
    for model in [ensemble, *singles]:
        model.eval()
        model.training = True  # KD on; every dropout module stays off: the same student scores
        kd.append(forward(model, instances)["kd_loss"])
    # structural KD is a cross-entropy: linear in the teacher distribution
    assert torch.allclose(kd[0], 0.75 * kd[1] + 0.25 * kd[2], rtol=1e-5)
    ensemble.train()
    loss = forward(ensemble, instances)["loss"]
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in ensemble.parameters() if p.grad is not None)


@pytest.mark.parametrize(
    "archives, message",
    [
        ([CRF, f"{TEACHERS}/tiny_crf_teacher_misc.tar.gz"], "tiny_crf_teacher_misc.tar.gz.*differ"),
        ([CRF, f"{TEACHERS}/dep_teacher.tar.gz"], "dep_teacher.tar.gz.*BiaffineDependencyParser"),
    ],
    ids=["labels", "task"],
)
def test_an_ensemble_member_that_disagrees_names_its_archive(archives, message):
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    model, instances = build(config, data, teacher={"archive": archives}, distillation={"type": "structural"})
    with pytest.raises(ConfigurationError, match=message):
        forward(model, instances)


def test_objectives_without_an_ensemble_target_refuse_an_ensemble_when_built():
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    with pytest.raises(ConfigurationError, match="no teacher-ensemble target"):
        build(config, data, teacher={"archive": [CRF, SOFTMAX]}, distillation={"type": "top_k"})
    config, data, archive = STUDENTS["distilled_biaffine_parser"]
    with pytest.raises(ConfigurationError, match="teacher ensemble"):
        build(config, data, teacher={"archive": [archive, archive]},
              distillation={"type": "sub_structure", "label_pairs": "teacher_heads"})


# --------------------------------------------------------------------------- adapters


def test_an_adapter_giving_other_scores_than_the_objective_compares_is_refused():
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    with pytest.raises(ConfigurationError, match="'parser'.*ParserScores.*TaggerScores"):
        build(config, data, teacher={"archive": CRF, "adapter": {"type": "parser"}})


@TeacherAdapter.register("test_wrong_shape")
class WrongShapeAdapter(TaggerTeacherAdapter):
    """A broken adapter: drops the last label of the emissions."""

    def assemble(self, teacher, per_sentence, batch, request):
        scores = super().assemble(teacher, per_sentence, batch, request)
        return TaggerScores(scores.emissions[..., :-1], None, mask=scores.mask)


def test_an_adapter_returning_the_wrong_shape_is_named():
    config, data, _ = STUDENTS["distilled_crf_tagger"]
    model, instances = build(config, data, teacher={"archive": CRF, "adapter": {"type": "test_wrong_shape"}},
                             distillation={"type": "posterior"})
    with pytest.raises(ValueError, match=r"'test_wrong_shape' \(WrongShapeAdapter\) returned emissions of shape"):
        forward(model, instances)


def test_overrides_reach_the_teacher_object(tmp_path):
    config, _, _ = STUDENTS["distilled_crf_tagger"]
    params = Params.from_file(config, json.dumps({"model.teacher.archive": SOFTMAX,
                                                  "model.teacher.cache": {"dir": str(tmp_path)}}))
    assert params["model"]["teacher"].as_dict() == {"archive": SOFTMAX, "cache": {"dir": str(tmp_path)}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        Teacher.from_params(params["model"].pop("teacher"))
