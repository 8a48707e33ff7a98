"""The teacher cache returns exactly what the teacher returns, respects its memory bound and
never lets two teachers share an entry."""
import json
import shutil

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model

from allennlp_subkd.distillation.request import TeacherRequest
import allennlp_subkd  # noqa: F401
from allennlp_subkd.distillation.teacher.cache import TeacherCache, archive_digest

STUDENT = "fixtures/configs/ner_student.jsonnet"
TINY = "fixtures/ner/tiny.conll"


def test_lru_eviction_keeps_the_bound_and_the_recent_entries():
    cache = TeacherCache(max_mb=1.0)
    entry = lambda i: (torch.full((256, 256), float(i)),)  # noqa: E731  256 KiB each
    for i in range(3):
        cache.put(("teacher", i), entry(i))
    assert cache.get(("teacher", 0)) is not None  # 0 becomes the most recent
    cache.put(("teacher", 3), entry(3))
    cache.put(("teacher", 4), entry(4))  # 5 x 256 KiB > 1 MiB: the least recent goes
    assert cache.bytes <= cache.max_bytes
    assert cache.get(("teacher", 1)) is None
    assert torch.equal(cache.get(("teacher", 0))[0], entry(0)[0])
    assert cache.evictions == 1 and len(cache) == 4


def test_entries_are_detached_cpu_copies_and_oversized_ones_are_skipped():
    cache = TeacherCache(max_mb=0.5)
    source = torch.randn(4, 3, requires_grad=True)
    cache.put("k", (source * 2,))
    stored = cache.get("k")[0]
    assert not stored.requires_grad and stored.device.type == "cpu"
    assert torch.equal(stored, (source * 2).detach())
    cache.put("big", (torch.zeros(1 << 18),))  # 1 MiB > the whole bound
    assert cache.get("big") is None and cache.bytes == stored.numel() * 4


def test_float16_storage_rounds_within_half_precision():
    """Round to nearest in float16: within 2^-11 of each value (relative), 2^-25 absolute for
    the subnormal ones; outputs marked exact stay float32, bit for bit."""
    cache = TeacherCache(max_mb=1.0, dtype="float16")
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(50, 9, generator=g) * 30
    scores[0, :3] = torch.tensor([1e-6, -3e-7, 0.0])  # subnormal in float16
    representations = torch.randn(50, 4, generator=g)
    cache.put("k", (scores, representations), exact=(1,))
    stored, kept = cache.get("k")
    assert stored.dtype == torch.float16 and kept.dtype == torch.float32
    error = (stored.float() - scores).abs()
    assert (error <= 2 ** -11 * scores.abs() + 2 ** -25).all()
    assert not torch.equal(stored.float(), scores)  # really rounded
    assert torch.equal(kept, representations)


def test_disabled_cache_and_bad_settings():
    cache = TeacherCache(max_mb=0)
    cache.put("k", (torch.ones(2),))
    assert not cache.enabled and cache.get("k") is None
    with pytest.raises(ConfigurationError, match="teacher.cache.memory_mb"):
        TeacherCache(max_mb=-1)
    with pytest.raises(ConfigurationError, match="bfloat16"):
        TeacherCache(max_mb=1, dtype="bfloat16")


def test_archive_digest_depends_on_the_content(tmp_path):
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    shutil.copy("fixtures/teachers/ner_crf_teacher.tar.gz", a)
    shutil.copy("fixtures/teachers/ner_crf_teacher.tar.gz", b)
    assert archive_digest(str(a)) == archive_digest(str(b))
    shutil.copy("fixtures/teachers/ner_softmax_teacher.tar.gz", b)  # same path, new teacher
    assert archive_digest(str(a)) != archive_digest(str(b))


def _model_and_batches(config=STUDENT, data=TINY, **model_overrides):
    """A student in training mode built from `config` and the indexed instances of `data`."""
    params = Params.from_file(config, json.dumps({f"model.{k}": v for k, v in model_overrides.items()}))
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(data))
    vocab = Vocabulary.from_instances(instances)
    for instance in instances:
        instance.index_fields(vocab)
    model = Model.from_params(vocab=vocab, params=params.pop("model"))
    model.train()
    return model, instances


def _teacher_scores(model, instances):
    batch = Batch(instances)
    tensors = batch.as_tensor_dict()
    mask = tensors["tokens"]["tokens"]["tokens"] > 0
    return model.teacher_scores(model._tagger_batch(tensors["tokens"], tensors["metadata"], mask))[0].emissions, mask


@pytest.mark.parametrize("teacher", ["ner_crf_teacher", "tiny_simple_teacher"])
def test_cached_scores_equal_the_teachers_under_any_batching(teacher):
    archive = f"fixtures/teachers/{teacher}.tar.gz"
    cached, instances = _model_and_batches(teacher={"archive": archive})
    uncached, _ = _model_and_batches(teacher={"archive": archive, "cache": {"memory_mb": 0}})
    # first pass: every sentence computed in batches of 5, in file order
    for start in range(0, len(instances), 5):
        _teacher_scores(cached, instances[start : start + 5])
    assert len(cached.teacher.cache) == len(instances) and cached.teacher.cache.hits == 0
    # second pass: shuffled, other batch sizes; all hits, and equal to the teacher itself
    order = torch.randperm(len(instances), generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = [instances[i] for i in order]
    for start in range(0, len(shuffled), 3):
        chunk = shuffled[start : start + 3]
        from_cache, mask = _teacher_scores(cached, chunk)
        direct, _ = _teacher_scores(uncached, chunk)
        assert torch.allclose(from_cache, direct, rtol=0, atol=1e-6)
    assert cached.teacher.cache.hits == len(instances)
    assert cached.teacher.cache.misses == len(instances)


def test_two_teachers_never_share_entries():
    crf, instances = _model_and_batches(teacher={"archive": "fixtures/teachers/ner_crf_teacher.tar.gz"})
    softmax, _ = _model_and_batches(teacher={"archive": "fixtures/teachers/ner_softmax_teacher.tar.gz"})
    softmax.teacher.cache = crf.teacher.cache  # even one shared cache object
    first, _ = _teacher_scores(crf, instances[:4])
    second, _ = _teacher_scores(softmax, instances[:4])
    assert crf.teacher.cache.hits == 0 and len(crf.teacher.cache) == 8
    assert not torch.allclose(first, second)


def test_float16_cache_gives_nearly_the_same_kd():
    """float16 keeps 11 significant bits: every cached score is within 2^-11 relative of the
    teacher's, and the KD term, computed under the same dropout masks, moves by about that much
    (measured here: ~1e-6 relative; bound 1e-4)."""
    full, instances = _model_and_batches(teacher={"archive": "fixtures/teachers/ner_crf_teacher.tar.gz"},
                                         distillation={"type": "structural"})
    half, _ = _model_and_batches(teacher={"archive": "fixtures/teachers/ner_crf_teacher.tar.gz", "cache": {"dtype": "float16"}},
                                 distillation={"type": "structural"})
    half.load_state_dict(full.state_dict())
    batch = Batch(instances).as_tensor_dict()
    for _ in range(2):  # the second pass reads from the cache
        torch.manual_seed(0)
        kd_full = full(**batch)["kd_loss"]
        torch.manual_seed(0)  # the same dropout masks in the student
        kd_half = half(**batch)["kd_loss"]
    assert half.teacher.cache.hits == len(instances)
    for key, (stored,) in half.teacher.cache._entries.items():
        (exact,) = full.teacher.cache._entries[(full.teacher.digest, key[1])]
        assert stored.dtype == torch.float16
        assert ((stored.float() - exact).abs() <= 2 ** -11 * exact.abs() + 2 ** -25).all()
    assert kd_half.item() != kd_full.item()  # the rounding is visible ...
    assert kd_half.item() == pytest.approx(kd_full.item(), rel=1e-4)  # ... and small


def test_float16_parser_cache_keeps_the_relation_representations_exact():
    """A parser teacher's entries for every pair (`relation_heads: null`) hold its relation
    representations, from which the relation scores are rebuilt by a bilinear product: a float16
    cache keeps those in float32 (rounded, they put ~1 % errors on the rebuilt scores), so the
    relation scores are exactly the float32 cache's and the arc scores within 2^-11."""
    archive = "fixtures/teachers/tiny_dep_teacher.tar.gz"
    parser = {"config": "fixtures/configs/dep_student.jsonnet", "data": "fixtures/dep/tiny.conllu"}
    objective = {"type": "local", "relation_heads": None}
    full, instances = _model_and_batches(**parser, teacher={"archive": archive}, distillation=objective)
    half, _ = _model_and_batches(**parser, teacher={"archive": archive, "cache": {"dtype": "float16"}},
                                 distillation=objective)
    exact, rounded = _parser_teacher_scores(full, instances), _parser_teacher_scores(half, instances)
    again = _parser_teacher_scores(half, instances)  # served from the float16 cache
    assert half.teacher.cache.hits == len(instances)
    entries = list(half.teacher.cache._entries.values())
    assert all(arcs.dtype == torch.float16 and heads.dtype == children.dtype == torch.float32
               for arcs, heads, children in entries)
    for scores in (rounded, again):
        assert torch.equal(scores.labels, exact.labels)
        assert ((scores.arcs - exact.arcs).abs() <= 2 ** -11 * exact.arcs.abs() + 2 ** -25).all()
        assert not torch.equal(scores.arcs, exact.arcs)


def test_cache_is_filled_once_with_shuffling_and_loader_workers(tmp_path):
    overrides = {
        "trainer.num_epochs": 3,
        "data_loader": {"batch_size": 4, "shuffle": True, "num_workers": 2},
        "validation_data_loader": {"batch_size": 4},
    }
    model = train_model_from_file(STUDENT, tmp_path, overrides=json.dumps(overrides))
    cache = model.teacher.cache
    sentences = sum(1 for b in open(TINY).read().split("\n\n") if b.strip())
    assert len(cache) == sentences
    assert cache.misses == sentences  # computed in the first epoch only
    assert cache.hits == 2 * sentences  # served in the two later epochs


def _parser_teacher_scores(model, instances):
    tensors = Batch(instances).as_tensor_dict()
    from allennlp.nn.util import get_text_field_mask

    mask = get_text_field_mask(tensors["words"])
    mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], dim=1)  # ROOT
    return model.teacher_scores(model._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"], mask), TeacherRequest(relation_heads=None))[0]


def test_cached_parser_scores_equal_the_teachers():
    archive = "fixtures/teachers/tiny_dep_teacher.tar.gz"  # another vocabulary: re-indexed inputs
    parser = {"config": "fixtures/configs/dep_student.jsonnet", "data": "fixtures/dep/tiny.conllu"}
    cached, instances = _model_and_batches(**parser, teacher={"archive": archive})
    uncached, _ = _model_and_batches(**parser, teacher={"archive": archive, "cache": {"memory_mb": 0}})
    first = _parser_teacher_scores(cached, instances[:6])
    _parser_teacher_scores(cached, instances[6:])
    assert len(cached.teacher.cache) == len(instances)
    order = [3, 7, 0, 11, 5, 2, 9, 1, 10, 4, 8, 6][: len(instances)]
    chunk = [instances[i] for i in order[:5]]
    from_cache = _parser_teacher_scores(cached, chunk)
    direct = _parser_teacher_scores(uncached, chunk)
    assert cached.teacher.cache.hits == 5
    assert torch.allclose(from_cache.arcs, direct.arcs, atol=1e-5)
    assert torch.allclose(from_cache.labels, direct.labels, atol=1e-4)
    assert first.labels.shape[-1] == cached.vocab.get_vocab_size("head_tags")
