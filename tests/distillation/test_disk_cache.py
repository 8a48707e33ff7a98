"""The teacher's disk cache stores exactly what the teacher returns, rejects truncated, corrupt
and misplaced entries, respects its size bound, survives concurrent writers and an unwritable
directory, and is what `fill-teacher-cache` fills and training reads."""
import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch
from allennlp.nn.util import get_text_field_mask

from tests.distillation.test_cache import _model_and_batches
from allennlp_subkd.distillation.request import TeacherRequest
import allennlp_subkd  # noqa: F401,E402
from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
from allennlp_subkd.distillation.teacher import disk_cache as disk_module
from allennlp_subkd.distillation.tasks import parser as parsing, tagger as tagging
from allennlp_subkd.distillation.teacher.cache import archive_digest
from allennlp_subkd.distillation.teacher.disk_cache import (
    MAGIC,
    TeacherDiskCache,
    decode,
    encode,
    entry_files,
    key_hash,
)

ROOT = Path(__file__).resolve().parent.parent.parent
NER_STUDENT = "fixtures/configs/ner_student.jsonnet"  # taught by ner_crf_teacher
DEP_STUDENT = "fixtures/configs/dep_student.jsonnet"  # taught by tiny_dep_teacher
NER_DATA = "fixtures/ner/tiny.conll"
DEP_DATA = "fixtures/dep/tiny.conllu"
NER_TEACHER = "fixtures/teachers/ner_crf_teacher.tar.gz"
SIMPLE_TEACHER = "fixtures/teachers/tiny_simple_teacher.tar.gz"
DEP_TEACHER = "fixtures/teachers/tiny_dep_teacher.tar.gz"
DIGEST_A = "a" * 64
DIGEST_B = "b" * 64
LOGGER = disk_module.__name__


def _warnings(caplog):
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def _header(data: bytes) -> dict:
    length = int.from_bytes(data[4:8], "little")
    return json.loads(data[8 : 8 + length].decode("utf-8"))


@contextlib.contextmanager
def _records(name):
    """The log records of one logger, whatever happens to the root logger's handlers."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _sentences(path: str) -> int:
    return sum(1 for block in open(path).read().split("\n\n") if block.strip())


def _entry_bytes(directory) -> int:
    return sum(path.stat().st_size for path in entry_files(str(directory)))


def _stray_files(directory):
    """Temporary or probe files left behind anywhere under `directory`."""
    return [p for p in Path(directory).rglob(".*") if p.is_file()]


# ---------------------------------------------------------------------------- encode / decode


def test_encode_decode_round_trip_of_every_stored_dtype():
    torch.manual_seed(0)
    tensors = (
        torch.randn(7, 9) * 100,
        torch.randn(5, 3).half(),
        torch.randint(-(2 ** 40), 2 ** 40, (4, 2), dtype=torch.int64),
        torch.randint(-1000, 1000, (6,), dtype=torch.int32),
        torch.rand(3, 3) > 0.5,
        torch.randint(0, 255, (5,), dtype=torch.uint8),
        torch.tensor(3.25),  # 0-d
        torch.zeros(0, 9),  # empty
        torch.randn(4, 6).t(),  # not contiguous
    )
    key = (("Zürich", "is", "nice"), ("PROPN", "AUX", "ADJ"))  # a parser key, non-ASCII
    data = encode(DIGEST_A, key, tensors)
    assert data[:4] == MAGIC
    decoded = decode(data, DIGEST_A, key)
    assert decoded is not None and len(decoded) == len(tensors)
    for original, restored in zip(tensors, decoded):
        assert restored.dtype == original.dtype and restored.shape == original.shape
        assert torch.equal(restored, original)
    # the key may be given as lists (as read back from a header) too
    assert decode(data, DIGEST_A, [list(key[0]), list(key[1])]) is not None
    with pytest.raises(TypeError):
        encode(DIGEST_A, key, (torch.zeros(2, dtype=torch.float64),))


def test_decode_rejects_truncated_corrupt_and_foreign_entries():
    key = ("a", "small", "entry")
    data = encode(DIGEST_A, key, (torch.arange(6, dtype=torch.float32).view(2, 3), torch.tensor([1, 2])))
    assert decode(data, DIGEST_A, key) is not None
    for cut in range(len(data)):  # every truncation
        assert decode(data[:cut], DIGEST_A, key) is None, cut
    for position in range(len(data)):  # every single flipped byte
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        assert decode(bytes(flipped), DIGEST_A, key) is None, position
    assert decode(data + b"\0", DIGEST_A, key) is None  # trailing garbage
    assert decode(data, DIGEST_B, key) is None  # another teacher
    assert decode(data, DIGEST_A, ("a", "small", "entry", "!")) is None  # another sentence
    assert decode(data, DIGEST_A, ("a", "small")) is None
    assert key_hash(DIGEST_A, key) != key_hash(DIGEST_B, key)
    assert key_hash(DIGEST_A, key) != key_hash(DIGEST_A, key[:2])


# ---------------------------------------------------------------------------- TeacherDiskCache


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damaged_file_is_a_miss_removed_counted_and_warned_once(tmp_path, caplog, damage):
    cache = TeacherDiskCache(str(tmp_path), max_mb=1.0)
    assert cache.enabled
    entries = {("first",): (torch.randn(4, 3),), ("second",): (torch.randn(2, 3),)}
    for key, tensors in entries.items():
        cache.put(DIGEST_A, key, tensors)
    paths = [cache._path(DIGEST_A, key) for key in entries]
    for path in paths:
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            path.write_bytes(data[:20] + bytes([data[20] ^ 1]) + data[21:])
        else:
            path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for key in entries:
            assert cache.get(DIGEST_A, key) is None
    assert not any(path.exists() for path in paths)
    assert cache.corrupt == 2 and cache.misses == 2 and cache.hits == 0
    assert len(_warnings(caplog)) == 1  # the second case is counted, not logged
    # the next put rewrites a valid entry, which is then served
    key, tensors = next(iter(entries.items()))
    cache.put(DIGEST_A, key, tensors)
    assert decode(paths[0].read_bytes(), DIGEST_A, key) is not None
    assert torch.equal(cache.get(DIGEST_A, key)[0], tensors[0])
    assert cache.hits == 1 and cache.corrupt == 2


def test_entry_moved_to_another_teachers_or_sentences_place_is_rejected(tmp_path, caplog):
    cache = TeacherDiskCache(str(tmp_path))
    key, other_key = ("the", "words"), ("other", "words")
    cache.put(DIGEST_A, key, (torch.ones(2, 3),))
    source = cache._path(DIGEST_A, key)
    # a file copied from another teacher's folder, to where digest B keeps this sentence
    target = cache._path(DIGEST_B, key)
    assert target != source
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    # and one where this teacher keeps another sentence
    misplaced = cache._path(DIGEST_A, other_key)
    misplaced.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, misplaced)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get(DIGEST_B, key) is None
        assert cache.get(DIGEST_A, other_key) is None
    assert not target.exists() and not misplaced.exists()
    assert cache.corrupt == 2 and len(_warnings(caplog)) == 1
    assert torch.equal(cache.get(DIGEST_A, key)[0], torch.ones(2, 3))  # the original is intact


def test_size_bound_keeps_the_most_recently_used_entries(tmp_path):
    cache = TeacherDiskCache(str(tmp_path), max_mb=0.05)  # 52 KiB: about 12 entries of 4 KiB
    entry = lambda i: (torch.full((1000,), float(i)),)  # noqa: E731  4000 bytes of scores
    key = lambda i: ("sentence", i)  # noqa: E731
    past = time.time() - 100_000

    def put(i):
        cache.put(DIGEST_A, key(i), entry(i))
        path = cache._path(DIGEST_A, key(i))
        os.utime(path, (past + i, past + i))  # entry i is older than entry i + 1
        return path

    first = put(0)
    for i in range(1, 8):
        put(i)
    assert cache.evictions == 0 and len(entry_files(str(tmp_path))) == 8
    assert cache.get(DIGEST_A, key(0)) is not None  # refreshes 0: now the most recent
    assert first.stat().st_mtime > past + 1000
    for i in range(8, 40):
        put(i)
        assert _entry_bytes(tmp_path) <= cache.max_bytes
    assert cache.evictions > 0
    survivors = sorted(_header(p.read_bytes())["key"][1] for p in entry_files(str(tmp_path)))
    assert survivors[0] == 0  # the one read entry outlives the older writes
    recent = survivors[1:]
    assert len(recent) >= 5 and recent == list(range(40 - len(recent), 40))  # the newest ones

    # a second process's view: it scans the folder and keeps the bound as well
    other = TeacherDiskCache(str(tmp_path), max_mb=0.05)
    for i in range(40, 60):
        other.put(DIGEST_A, key(i), entry(i))
    assert _entry_bytes(tmp_path) <= other.max_bytes
    assert other.get(DIGEST_A, key(59)) is not None and other.get(DIGEST_A, key(1)) is None


def test_float16_storage_halves_the_scores(tmp_path):
    scores = torch.randn(30, 9) * 20
    half = TeacherDiskCache(str(tmp_path / "half"), dtype="float16")
    full = TeacherDiskCache(str(tmp_path / "full"), dtype="float32")
    for cache in (half, full):
        cache.put(DIGEST_A, ("k",), (scores, torch.arange(30)))
    (stored, index) = half.get(DIGEST_A, ("k",))
    assert stored.dtype == torch.float16 and index.dtype == torch.int64  # ints are kept
    assert torch.allclose(stored.float(), scores, rtol=2 ** -11, atol=1e-7)
    assert torch.equal(full.get(DIGEST_A, ("k",))[0], scores)
    assert _entry_bytes(tmp_path / "half") < _entry_bytes(tmp_path / "full")


# ---------------------------------------------------------------------------- unwritable directory


def test_unwritable_directory_disables_the_disk_cache_and_training_goes_on(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, not a directory")
    directory = blocker / "cache"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        cache = TeacherDiskCache(str(directory))
    assert not cache.enabled and len(_warnings(caplog)) == 1
    cache.put(DIGEST_A, ("k",), (torch.ones(2),))  # no error, nothing stored
    assert cache.get(DIGEST_A, ("k",)) is None and cache.writes == 0

    overrides = {"trainer.num_epochs": 1, "model.teacher.cache": {"dir": str(directory)}}
    with _records(LOGGER) as records:  # training resets the root logger's handlers (caplog's)
        model = train_model_from_file(NER_STUDENT, tmp_path / "run", overrides=json.dumps(overrides))
    assert len([r for r in records if r.levelno == logging.WARNING]) == 1
    teacher = model.teacher
    assert teacher.disk is not None and not teacher.disk.enabled
    assert teacher.disk.writes == 0 and teacher.disk.hits == 0
    assert len(teacher.cache) == _sentences(NER_DATA)  # the memory cache still works
    assert blocker.read_text() == "a regular file, not a directory"


@pytest.mark.parametrize("refused", ["probe", "first entry"])
def test_an_existing_directory_that_refuses_writes_leaves_training_on_the_memory_cache(tmp_path, monkeypatch, refused):
    """The cache directory exists but cannot be written (its mode, a read-only mount, a quota
    reached). Tests run as root, whom `chmod` does not stop, so the refusal is the
    `PermissionError` a user gets, raised where the disk cache creates files in that directory:
    the writability probe at start, or the first entry after a successful probe."""
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o555)  # what a user would have; root ignores it

    def refusing(original):
        def create(*args, dir=None, **kwargs):  # noqa: A002  (tempfile's argument)
            if dir is not None and Path(dir).resolve().is_relative_to(directory.resolve()):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return original(*args, dir=dir, **kwargs)

        return create

    name = "NamedTemporaryFile" if refused == "probe" else "mkstemp"
    monkeypatch.setattr(tempfile, name, refusing(getattr(tempfile, name)))

    overrides = {"trainer.num_epochs": 2, "model.teacher.cache": {"dir": str(directory)}}
    with _records(LOGGER) as records:  # training resets the root logger's handlers (caplog's)
        model = train_model_from_file(NER_STUDENT, tmp_path / "run", overrides=json.dumps(overrides))
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(directory) in warnings[0] and "memory" in warnings[0]
    teacher = model.teacher
    assert teacher.disk is not None and not teacher.disk.enabled
    assert teacher.disk.writes == 0 and teacher.disk.hits == 0
    sentences = _sentences(NER_DATA)
    assert len(teacher.cache) == sentences  # the memory cache took over...
    assert teacher.cache.hits == sentences  # ...and served the second epoch
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["training_kd_loss"] > 0
    assert [p for p in directory.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------------------- concurrent filling

_FILL_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
    cache_dir, barrier, name = sys.argv[1:4]
    jobs = json.loads(sys.argv[4])
    open(os.path.join(barrier, name), "w").close()
    deadline = time.time() + 120
    while len(os.listdir(barrier)) < 2 and time.time() < deadline:  # start both together
        time.sleep(0.005)
    print(json.dumps([fill_teacher_cache(archive, data, cache_dir, batch_size=1) for archive, data in jobs]))
    """
)


def _decoded_entries(directory, digest):
    """{key as JSON: tensors} of every entry of one teacher, each of which must decode."""
    entries = {}
    for path in sorted((Path(directory) / digest[:16]).glob("*/*.skd")):
        data = path.read_bytes()
        key = _header(data)["key"]
        tensors = decode(data, digest, key)
        assert tensors is not None, path
        assert path.stem == key_hash(digest, key) and path.parent.name == path.stem[:2]
        entries[json.dumps(key)] = tensors
    return entries


def test_two_processes_filling_one_directory(tmp_path):
    """Two processes fill one directory at once, each with a tagger and a parser teacher, one
    sentence per batch (many interleaved writes of the same entries)."""
    jobs = [(SIMPLE_TEACHER, NER_DATA), (DEP_TEACHER, DEP_DATA)]
    shared, barrier = tmp_path / "shared", tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _FILL_WORKER, str(shared), str(barrier), name, json.dumps(jobs)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("a", "b")
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err[-3000:]
    for out, _ in results:
        for (teacher, data), counts in zip(jobs, json.loads(out.strip().splitlines()[-1])):
            assert counts["sentences"] == _sentences(data)
            assert counts["computed"] + counts["cached"] == counts["sentences"]

    total = 0
    for teacher, data in jobs:
        single = tmp_path / "single"
        sentences = _sentences(data)
        counts = fill_teacher_cache(teacher, data, str(single))
        assert counts == {"sentences": sentences, "computed": sentences, "cached": 0}
        digest = archive_digest(teacher)
        expected = _decoded_entries(single, digest)
        found = _decoded_entries(shared, digest)
        assert len(expected) == sentences and set(found) == set(expected)
        for key, tensors in expected.items():
            for exact, concurrent in zip(tensors, found[key]):
                assert concurrent.dtype == exact.dtype and concurrent.shape == exact.shape
                assert torch.allclose(concurrent, exact, rtol=0, atol=1e-5), key
        total += sentences
    assert len(entry_files(str(shared))) == total
    assert _stray_files(shared) == [] and _stray_files(tmp_path / "single") == []


# ---------------------------------------------------------------------------- fill, then train


@pytest.fixture
def no_teacher_forward(monkeypatch):
    """Any teacher forward pass during training fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the teacher ran although its outputs are in the disk cache")

    monkeypatch.setattr(tagging, "tagger_teacher_outputs", forbidden)
    monkeypatch.setattr(parsing, "parser_teacher_outputs", forbidden)


@pytest.mark.parametrize(
    "config, teacher, data",
    [(NER_STUDENT, NER_TEACHER, NER_DATA), (DEP_STUDENT, DEP_TEACHER, DEP_DATA)],
    ids=["tagger", "parser"],
)
def test_filled_cache_serves_all_of_training(tmp_path, config, teacher, data, request):
    directory = tmp_path / "cache"
    sentences = _sentences(data)
    first = fill_teacher_cache(teacher, data, str(directory), batch_size=4)
    assert first == {"sentences": sentences, "computed": sentences, "cached": 0}
    assert len(entry_files(str(directory))) == sentences
    again = fill_teacher_cache(teacher, data, str(directory), batch_size=5)
    assert again == {"sentences": sentences, "computed": 0, "cached": sentences}

    request.getfixturevalue("no_teacher_forward")
    overrides = {
        "trainer.num_epochs": 2,
        "model.teacher.archive": teacher,
        "model.teacher.cache": {"dir": str(directory), "memory_mb": 64},
    }
    model = train_model_from_file(config, tmp_path / "run", overrides=json.dumps(overrides))
    disk = model.teacher.disk
    assert disk is not None and disk.enabled
    assert disk.misses == 0 and disk.writes == 0 and disk.corrupt == 0
    assert disk.hits == sentences  # the first epoch reads the disk, the second memory
    assert model.teacher.cache.hits == sentences
    assert len(entry_files(str(directory))) == sentences


def test_a_cache_of_relation_representations_serves_dense_relation_terms(tmp_path, no_teacher_forward_after_fill):
    """`--relation-heads 0` stores the relation representations, what objectives with
    `relation_heads: null` (every pair) read; the default entries (scores at the teacher's 2
    best heads) are other entries, so the same directory can hold both."""
    directory = tmp_path / "cache"
    sentences = _sentences(DEP_DATA)
    assert fill_teacher_cache(DEP_TEACHER, DEP_DATA, str(directory), relation_heads=None)["computed"] == sentences
    assert fill_teacher_cache(DEP_TEACHER, DEP_DATA, str(directory))["computed"] == sentences
    assert len(entry_files(str(directory))) == 2 * sentences
    no_teacher_forward_after_fill()
    overrides = {"trainer.num_epochs": 1, "model.teacher.archive": DEP_TEACHER,
                 "model.teacher.cache": {"dir": str(directory)},
                 "model.distillation": {"type": "structural", "relation_heads": None}}
    model = train_model_from_file(DEP_STUDENT, tmp_path / "run", overrides=json.dumps(overrides))
    assert model.teacher.disk.hits == sentences and model.teacher.disk.misses == 0
    with pytest.raises(ConfigurationError, match="--relation-heads must be >= 1"):
        fill_teacher_cache(DEP_TEACHER, DEP_DATA, str(directory), relation_heads=-1)


@pytest.fixture
def no_teacher_forward_after_fill(monkeypatch):
    def forbid():
        def forbidden(*args, **kwargs):
            raise AssertionError("the teacher ran although its outputs are in the disk cache")

        monkeypatch.setattr(parsing, "parser_teacher_outputs", forbidden)

    return forbid


def test_fill_teacher_cache_command_line(tmp_path):
    directory = tmp_path / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "allennlp", "fill-teacher-cache", SIMPLE_TEACHER, NER_DATA,
         "--cache-dir", str(directory), "--batch-size", "4", "--dtype", "float16",
         "--include-package", "allennlp_subkd"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sentences = _sentences(NER_DATA)
    entries = _decoded_entries(directory, archive_digest(SIMPLE_TEACHER))
    assert len(entries) == sentences
    assert all(tensors[0].dtype == torch.float16 for tensors in entries.values())
    again = fill_teacher_cache(SIMPLE_TEACHER, NER_DATA, str(directory), dtype="float16")
    assert again == {"sentences": sentences, "computed": 0, "cached": sentences}
    assert _stray_files(directory) == []


# ---------------------------------------------------------------------------- served values


def _tagger_scores(model, instances):
    tensors = Batch(instances).as_tensor_dict()
    mask = get_text_field_mask(tensors["tokens"])
    return (model.teacher_scores(model._tagger_batch(tensors["tokens"], tensors["metadata"], mask))[0].emissions,)


def _parser_scores(model, instances):
    tensors = Batch(instances).as_tensor_dict()
    mask = get_text_field_mask(tensors["words"])
    mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], dim=1)  # ROOT
    scores = model.teacher_scores(model._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"], mask), TeacherRequest(relation_heads=None))[0]
    return scores.arcs, scores.labels


def _parser_scores_at_heads(model, instances):
    """The teacher's scores with its relation scores at its 2 best heads (cached as such)."""
    tensors = Batch(instances).as_tensor_dict()
    mask = get_text_field_mask(tensors["words"])
    mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], dim=1)  # ROOT
    scores = model.teacher_scores(model._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"], mask), TeacherRequest(relation_heads=2))[0]
    return scores.arcs, scores.labels, scores.label_heads


@pytest.mark.parametrize(
    "config, data, teacher, scores, dtype",
    [
        (NER_STUDENT, NER_DATA, SIMPLE_TEACHER, _tagger_scores, "float32"),
        (NER_STUDENT, NER_DATA, NER_TEACHER, _tagger_scores, "float16"),
        (DEP_STUDENT, DEP_DATA, DEP_TEACHER, _parser_scores, "float32"),
        (DEP_STUDENT, DEP_DATA, DEP_TEACHER, _parser_scores_at_heads, "float32"),
    ],
    ids=["tagger-float32", "tagger-float16", "parser-float32", "parser-relation-heads"],
)
def test_disk_served_outputs_equal_the_teachers(tmp_path, config, data, teacher, scores, dtype):
    settings = dict(config=config, data=data)
    cached = dict(teacher={"archive": teacher, "cache": {"dir": str(tmp_path), "dtype": dtype}})
    writer, instances = _model_and_batches(**settings, **cached)
    written = scores(writer, instances)  # computes every sentence and writes it
    assert writer.teacher.disk.writes == len(instances) and writer.teacher.disk.hits == 0
    reader, _ = _model_and_batches(**settings, **cached)  # a new run: empty memory cache
    served = scores(reader, instances)
    assert reader.teacher.disk.hits == len(instances)
    assert reader.teacher.disk.misses == 0 and reader.teacher.disk.writes == 0
    uncached, _ = _model_and_batches(**settings, teacher={"archive": teacher, "cache": {"memory_mb": 0}})
    assert uncached.teacher.disk is None
    direct = scores(uncached, instances)
    for w, s, d in zip(written, served, direct):
        assert s.dtype == (torch.float32 if w.is_floating_point() else w.dtype)
        # a sentence's targets never depend on whether they came from the disk
        assert torch.equal(s, w)
        if dtype == "float32":
            assert torch.equal(s, d)
        else:
            assert torch.allclose(s, d, rtol=2 ** -11, atol=1e-6)
            assert not torch.equal(s, d)  # really rounded
    # the per-sentence results themselves, through FrozenTeacher.outputs (the one path)
    keys = [tuple(instance["metadata"]["words"]) for instance in instances]
    request = TeacherRequest(relation_heads=2 if scores is _parser_scores_at_heads else None)
    if config == DEP_STUDENT:
        extra = (2,) if scores is _parser_scores_at_heads else ()  # cached_relation_heads(2)
        keys = [(k, tuple(instance["metadata"]["pos"]), *extra) for k, instance in zip(keys, instances)]
    fresh, _ = _model_and_batches(**settings, **cached)
    fresh.teacher.to(torch.device("cpu"))  # loads the archive (and its digest)

    class ServedOnly(type(fresh._adapter)):
        def compute(self, teacher, batch, rows, entry):
            raise AssertionError(f"sentences {rows} were not served from the disk")

    tensors = Batch(instances).as_tensor_dict()
    if config == DEP_STUDENT:
        mask = get_text_field_mask(tensors["words"])
        batch = fresh._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"],
                                    torch.cat([mask.new_ones(mask.size(0), 1), mask], dim=1))
    else:
        batch = fresh._tagger_batch(tensors["tokens"], tensors["metadata"], get_text_field_mask(tensors["tokens"]))
    adapter = ServedOnly()
    per_sentence = fresh.teacher.outputs(adapter, batch, adapter.entry_request(request))
    for key, outputs in zip(keys, per_sentence):
        stored = fresh.teacher.disk.get(fresh.teacher.digest, key)
        assert all(torch.equal(o, s.float() if s.is_floating_point() else s) for o, s in zip(outputs, stored))
