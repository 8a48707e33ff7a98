"""The teacher's on-disk stores (`sqlite`, the default, and `files`) store exactly what the
teacher returns, reject truncated, corrupt and misplaced entries, respect their size bound,
survive concurrent writers, a killed writer and an unwritable directory, and are what
`fill-teacher-cache` fills and training reads. The guarantees are tested against both stores
(the `store` fixture), through `Layout`, which reaches into each store's own layout where a test
damages, moves or dates an entry."""
import contextlib
import copy
import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Hashable, Optional

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch
from allennlp.nn.util import get_text_field_mask

from tests.distillation.test_cache import _model_and_batches
from tests.processes import kill_when
from allennlp_subkd.distillation.request import TeacherRequest
import allennlp_subkd  # noqa: F401,E402
from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
from allennlp_subkd.distillation.teacher import disk_cache as disk_module, sqlite_store as sqlite_module
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
from allennlp_subkd.distillation.teacher.sqlite_store import TeacherSqliteStore, database_path, merge_stores
from allennlp_subkd.distillation.teacher.store import cache_entries, make_store

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


def _warnings(caplog, name=LOGGER):
    return [r for r in caplog.records if r.name == name and r.levelno == logging.WARNING]


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
    return sum(len(data) for data in cache_entries(directory).values())


def _stray_files(directory):
    """Temporary or probe files, or a SQLite write-ahead log, left behind anywhere under
    `directory`: anything but entry files and store databases."""
    return [p for p in Path(directory).rglob("*") if p.is_file()
            and (p.name.startswith(".") or not p.name.endswith((disk_module.SUFFIX, sqlite_module.SUFFIX)))]


class Layout:
    """Where a store keeps an entry, for the tests that damage, move or date one by hand."""

    name = ""
    logger = ""

    def stored(self, cache, digest: str, key: Hashable) -> Optional[bytes]:
        """The bytes stored under (digest, key), `None` when there are none."""
        raise NotImplementedError

    def place(self, cache, digest: str, key: Hashable, data: bytes) -> None:
        """Store `data` as they are under (digest, key), as a file copy or a row write would."""
        raise NotImplementedError

    def backdate(self, cache, digest: str, key: Hashable, seconds: float) -> None:
        """Set the last-used time of (digest, key)."""
        raise NotImplementedError

    def last_used(self, cache, digest: str, key: Hashable) -> float:
        raise NotImplementedError


class Files(Layout):
    name, logger = "files", disk_module.__name__

    def stored(self, cache, digest, key):
        path = cache._path(digest, key)
        return path.read_bytes() if path.exists() else None

    def place(self, cache, digest, key, data):
        path = cache._path(digest, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def backdate(self, cache, digest, key, seconds):
        os.utime(cache._path(digest, key), (seconds, seconds))

    def last_used(self, cache, digest, key):
        return cache._path(digest, key).stat().st_mtime


class Sqlite(Layout):
    """Rows reached through a connection of the test's own, as another process would."""

    name, logger = "sqlite", sqlite_module.__name__

    @staticmethod
    def _sql(cache, digest, statement, *arguments):
        connection = sqlite_module.connect(database_path(cache.directory, digest))
        try:
            return connection.execute(statement, arguments).fetchall()
        finally:
            connection.close()

    def stored(self, cache, digest, key):
        rows = self._sql(cache, digest, "SELECT data FROM entries WHERE key = ?", bytes.fromhex(key_hash(digest, key)))
        return bytes(rows[0][0]) if rows else None

    def place(self, cache, digest, key, data):
        self._sql(cache, digest, sqlite_module.UPSERT, bytes.fromhex(key_hash(digest, key)), len(data), time.time(), data)

    def backdate(self, cache, digest, key, seconds):
        self._sql(cache, digest, "UPDATE entries SET used = ? WHERE key = ?", seconds, bytes.fromhex(key_hash(digest, key)))

    def last_used(self, cache, digest, key):
        return self._sql(cache, digest, "SELECT used FROM entries WHERE key = ?", bytes.fromhex(key_hash(digest, key)))[0][0]

    def totals(self, directory, digest):
        """(the tracked total, the sum of the rows' sizes, the sum of the blobs' lengths)."""
        connection = sqlite_module.connect(database_path(directory, digest))
        try:
            return connection.execute("SELECT (SELECT bytes FROM total), (SELECT SUM(size) FROM entries), "
                                      "(SELECT SUM(LENGTH(data)) FROM entries)").fetchone()
        finally:
            connection.close()


LAYOUTS = {"files": Files(), "sqlite": Sqlite()}
STORES = sorted(LAYOUTS)


@pytest.fixture(params=STORES)
def store(request) -> Layout:
    """Each guarantee test runs against both on-disk stores."""
    return LAYOUTS[request.param]


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


# ---------------------------------------------------------------------------- both stores


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damaged_entry_is_a_miss_removed_counted_and_warned_once(tmp_path, caplog, damage, store):
    cache = make_store(store.name, str(tmp_path), max_mb=1.0)
    assert cache.enabled
    entries = {("first",): (torch.randn(4, 3),), ("second",): (torch.randn(2, 3),)}
    for key, tensors in entries.items():
        cache.put(DIGEST_A, key, tensors)
    for key in entries:  # a truncated or corrupt file, or row
        data = store.stored(cache, DIGEST_A, key)
        if damage == "truncate":
            store.place(cache, DIGEST_A, key, data[: len(data) // 2])
        elif damage == "flip":
            store.place(cache, DIGEST_A, key, data[:20] + bytes([data[20] ^ 1]) + data[21:])
        else:
            store.place(cache, DIGEST_A, key, b"")
    with caplog.at_level(logging.WARNING, logger=store.logger):
        for key in entries:
            assert cache.get(DIGEST_A, key) is None
    assert not any(store.stored(cache, DIGEST_A, key) is not None for key in entries)
    assert cache.corrupt == 2 and cache.misses == 2 and cache.hits == 0
    assert len(_warnings(caplog, store.logger)) == 1  # the second case is counted, not logged
    # the next put rewrites a valid entry, which is then served
    key, tensors = next(iter(entries.items()))
    cache.put(DIGEST_A, key, tensors)
    assert decode(store.stored(cache, DIGEST_A, key), DIGEST_A, key) is not None
    assert torch.equal(cache.get(DIGEST_A, key)[0], tensors[0])
    assert cache.hits == 1 and cache.corrupt == 2
    if store.name == "sqlite":  # the tracked total followed the deletions and the rewrite
        tracked, sizes, lengths = store.totals(tmp_path, DIGEST_A)
        assert tracked == sizes == lengths == len(store.stored(cache, DIGEST_A, key))


def test_a_file_moved_to_another_teachers_or_sentences_place_is_rejected(tmp_path, caplog):
    """The file layout: an entry file copied into another teacher's folder, or under another
    sentence's name (the store-neutral test follows)."""
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


def test_entry_put_under_another_teachers_or_sentences_key_is_rejected(tmp_path, caplog, store):
    """An entry's bytes stored where another teacher keeps this sentence (its folder or its
    database), or under another sentence's key hash (a collision), are a corrupt miss."""
    cache = make_store(store.name, str(tmp_path))
    key, other_key = ("the", "words"), ("other", "words")
    cache.put(DIGEST_A, key, (torch.ones(2, 3),))
    data = store.stored(cache, DIGEST_A, key)
    assert key_hash(DIGEST_B, key) != key_hash(DIGEST_A, key)
    store.place(cache, DIGEST_B, key, data)
    store.place(cache, DIGEST_A, other_key, data)
    with caplog.at_level(logging.WARNING, logger=store.logger):
        assert cache.get(DIGEST_B, key) is None
        assert cache.get(DIGEST_A, other_key) is None
    assert store.stored(cache, DIGEST_B, key) is None and store.stored(cache, DIGEST_A, other_key) is None
    assert cache.corrupt == 2 and len(_warnings(caplog, store.logger)) == 1
    assert torch.equal(cache.get(DIGEST_A, key)[0], torch.ones(2, 3))  # the original is intact


def test_size_bound_keeps_the_most_recently_used_entries(tmp_path, store):
    cache = make_store(store.name, str(tmp_path), max_mb=0.05)  # 52 KiB: about 12 entries of 4 KiB
    entry = lambda i: (torch.full((1000,), float(i)),)  # noqa: E731  4000 bytes of scores
    key = lambda i: ("sentence", i)  # noqa: E731
    past = time.time() - 100_000

    def put(i):
        cache.put(DIGEST_A, key(i), entry(i))
        store.backdate(cache, DIGEST_A, key(i), past + i)  # entry i is older than entry i + 1

    put(0)
    for i in range(1, 8):
        put(i)
    assert cache.evictions == 0 and len(cache_entries(tmp_path)) == 8
    assert cache.get(DIGEST_A, key(0)) is not None  # refreshes 0: now the most recent
    cache.flush()  # the SQLite store writes its refreshes in batches (files: nothing to do)
    assert store.last_used(cache, DIGEST_A, key(0)) > past + 1000
    for i in range(8, 40):
        put(i)
        assert _entry_bytes(tmp_path) <= cache.max_bytes
    assert cache.evictions > 0
    survivors = sorted(_header(data)["key"][1] for data in cache_entries(tmp_path).values())
    assert survivors[0] == 0  # the one read entry outlives the older writes
    recent = survivors[1:]
    assert len(recent) >= 5 and recent == list(range(40 - len(recent), 40))  # the newest ones

    # a second process's view: it scans the folder (files) or reads the shared total (sqlite)
    # and keeps the bound as well
    other = make_store(store.name, str(tmp_path), max_mb=0.05)
    for i in range(40, 60):
        other.put(DIGEST_A, key(i), entry(i))
    assert _entry_bytes(tmp_path) <= other.max_bytes
    assert other.get(DIGEST_A, key(59)) is not None and other.get(DIGEST_A, key(1)) is None
    if store.name == "sqlite":
        tracked, sizes, lengths = store.totals(tmp_path, DIGEST_A)
        assert tracked == sizes == lengths == _entry_bytes(tmp_path)


def test_size_bound_holds_with_the_least_recently_read_entry_evicted_first(tmp_path, store):
    """Reads decide the order too: of entries written in one order and read in the reverse
    one, the least recently read go first."""
    cache = make_store(store.name, str(tmp_path), max_mb=0.05)
    key = lambda i: ("sentence", i)  # noqa: E731
    past = time.time() - 100_000
    for i in range(8):
        cache.put(DIGEST_A, key(i), (torch.full((1000,), float(i)),))
        store.backdate(cache, DIGEST_A, key(i), past + i)
    for i in reversed(range(8)):  # 7 read first, 0 last
        assert cache.get(DIGEST_A, key(i)) is not None
        cache.flush()
        store.backdate(cache, DIGEST_A, key(i), past + 100 + (7 - i))
    for i in range(8, 16):
        cache.put(DIGEST_A, key(i), (torch.full((1000,), float(i)),))
    kept = {_header(data)["key"][1] for data in cache_entries(tmp_path).values()}
    assert cache.evictions > 0 and set(range(8, 16)) <= kept
    evicted = set(range(8)) - kept
    assert evicted and evicted == set(range(7, 7 - len(evicted), -1))  # the first read ones


def test_float16_storage_halves_the_scores(tmp_path, store):
    scores = torch.randn(30, 9) * 20
    half = make_store(store.name, str(tmp_path / "half"), dtype="float16")
    full = make_store(store.name, str(tmp_path / "full"), dtype="float32")
    for cache in (half, full):
        cache.put(DIGEST_A, ("k",), (scores, torch.arange(30)))
    (stored, index) = half.get(DIGEST_A, ("k",))
    assert stored.dtype == torch.float16 and index.dtype == torch.int64  # ints are kept
    assert torch.allclose(stored.float(), scores, rtol=2 ** -11, atol=1e-7)
    assert torch.equal(full.get(DIGEST_A, ("k",))[0], scores)
    assert _entry_bytes(tmp_path / "half") < _entry_bytes(tmp_path / "full")


def test_exact_positions_are_kept_in_float32(tmp_path, store):
    """`put(..., exact=...)`: the tensors at those positions stay float32 in a float16 store
    (a parser's relation representations), the others are rounded, integers kept."""
    scores, exact, heads = torch.randn(6, 6) * 20, torch.randn(6, 4) / 3, torch.arange(6)
    cache = make_store(store.name, str(tmp_path), dtype="float16")
    cache.put(DIGEST_A, ("k",), (scores, exact, heads), exact=(1,))
    rounded, kept, index = make_store(store.name, str(tmp_path), dtype="float16").get(DIGEST_A, ("k",))
    assert rounded.dtype == torch.float16 and not torch.equal(rounded.float(), scores)
    assert kept.dtype == torch.float32 and torch.equal(kept, exact)
    assert torch.equal(index, heads)


def test_a_killed_writer_leaves_only_complete_entries(tmp_path, store):
    """A process killed (SIGKILL) while it writes entries as fast as it can: every entry
    left under a real name (a file, a row) decodes, and the store goes on."""
    directory = tmp_path / "cache"
    writer = textwrap.dedent(
        """
        import sys, torch
        from allennlp_subkd.distillation.teacher.store import make_store
        cache = make_store(sys.argv[1], sys.argv[2])
        print("ready", flush=True)
        i = 0
        while True:
            cache.put("a" * 64, ("sentence", i), (torch.full((20000,), float(i)), torch.arange(i % 50)))
            i += 1
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-c", writer, store.name, str(directory)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        kill_when(process, lambda: len(cache_entries(directory)) >= 30, 60, "30 entries written")
    finally:
        if process.poll() is None:
            process.kill()
    entries = cache_entries(directory)
    assert len(entries) >= 30
    for (prefix, name), data in entries.items():
        key = _header(data)["key"]
        assert name == key_hash(DIGEST_A, key) and prefix == DIGEST_A[:16]
        tensors = decode(data, DIGEST_A, key)
        assert tensors is not None and torch.equal(tensors[0], torch.full((20000,), float(key[1])))
    if store.name == "sqlite":
        connection = sqlite3.connect(str(database_path(directory, DIGEST_A)))
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()
        tracked, sizes, lengths = LAYOUTS["sqlite"].totals(directory, DIGEST_A)
        assert tracked == sizes == lengths
    again = make_store(store.name, str(directory))
    again.put(DIGEST_A, ("after",), (torch.ones(3),))
    assert torch.equal(again.get(DIGEST_A, ("after",))[0], torch.ones(3))
    assert again.corrupt == 0


# ---------------------------------------------------------------------------- the SQLite store


def test_sqlite_store_is_one_database_per_teacher(tmp_path):
    cache = TeacherSqliteStore(str(tmp_path))
    cache.put(DIGEST_A, ("k",), (torch.ones(2),))
    cache.put(DIGEST_B, ("k",), (torch.zeros(2),))
    cache.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DIGEST_A[:16] + ".sqlite3", DIGEST_B[:16] + ".sqlite3"]
    entries = cache_entries(tmp_path)
    assert set(entries) == {(DIGEST_A[:16], key_hash(DIGEST_A, ("k",))), (DIGEST_B[:16], key_hash(DIGEST_B, ("k",)))}
    assert cache_entries(tmp_path, "files") == {} and cache_entries(tmp_path, "sqlite") == entries
    connection = sqlite3.connect(str(database_path(tmp_path, DIGEST_A)))
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()
    assert torch.equal(cache.get(DIGEST_A, ("k",))[0], torch.ones(2))  # reopened after close


def test_sqlite_reads_refresh_last_used_times_in_batches(tmp_path, monkeypatch):
    """A hit queues a refresh only when the entry's time is older than REFRESH_AFTER; queued
    refreshes are written with the next put, at REFRESH_BATCH, or by flush."""
    layout = LAYOUTS["sqlite"]
    cache = TeacherSqliteStore(str(tmp_path))
    keys = [("s", i) for i in range(10)]
    for key in keys:
        cache.put(DIGEST_A, key, (torch.ones(3),))
    fresh = layout.last_used(cache, DIGEST_A, keys[0])
    assert cache.get(DIGEST_A, keys[0]) is not None  # used a moment ago: no refresh queued
    assert cache._databases[DIGEST_A].pending == {}
    past = time.time() - 1000
    for key in keys:
        layout.backdate(cache, DIGEST_A, key, past)
    monkeypatch.setattr(sqlite_module, "REFRESH_BATCH", 4)
    for key in keys[:3]:
        assert cache.get(DIGEST_A, key) is not None
    assert all(layout.last_used(cache, DIGEST_A, key) == past for key in keys)  # queued, not written
    assert cache.get(DIGEST_A, keys[3]) is not None  # the fourth: the batch is written
    assert all(layout.last_used(cache, DIGEST_A, key) > fresh for key in keys[:4])
    assert cache.get(DIGEST_A, keys[4]) is not None
    cache.put(DIGEST_A, ("new",), (torch.ones(3),))  # written with the next put
    assert layout.last_used(cache, DIGEST_A, keys[4]) > fresh
    assert cache.get(DIGEST_A, keys[5]) is not None
    cache.flush()
    assert layout.last_used(cache, DIGEST_A, keys[5]) > fresh
    assert cache.get(DIGEST_A, keys[6]) is not None
    del cache  # garbage collected: the queue is written
    assert layout.last_used(TeacherSqliteStore(str(tmp_path)), DIGEST_A, keys[6]) > fresh
    assert all(layout.last_used(TeacherSqliteStore(str(tmp_path)), DIGEST_A, key) == past for key in keys[7:])


def test_a_file_that_is_not_a_database_turns_the_sqlite_store_off_with_one_warning(tmp_path, caplog):
    path = database_path(tmp_path, DIGEST_A)
    path.write_bytes(b"not a database, and longer than a header " * 200)
    cache = TeacherSqliteStore(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger=sqlite_module.__name__):
        assert cache.get(DIGEST_A, ("k",)) is None
        cache.put(DIGEST_A, ("k",), (torch.ones(2),))
        assert cache.get(DIGEST_A, ("k",)) is None
    warnings = _warnings(caplog, sqlite_module.__name__)
    assert not cache.enabled and len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert path.read_bytes().startswith(b"not a database")  # left as it was


@pytest.mark.parametrize("store_name", ["sqlite", "files"])
def test_fill_teacher_cache_fails_when_its_store_cannot_be_written(tmp_path, store_name):
    """The command's whole point is the store: one that turns itself off (a file that is not a
    database; a folder where an entry file goes) is an error, not a fill that stored nothing."""
    digest = archive_digest(SIMPLE_TEACHER)
    if store_name == "sqlite":
        database_path(tmp_path, digest).write_bytes(b"not a database " * 100)
    else:  # every 2-hex folder of the teacher's is a file: no entry can be written
        (tmp_path / digest[:16]).mkdir()
        for i in range(256):
            (tmp_path / digest[:16] / f"{i:02x}").write_text("a file, not a folder")
    with pytest.raises(ConfigurationError, match="cannot be written"):
        fill_teacher_cache(SIMPLE_TEACHER, NER_DATA, str(tmp_path), store=store_name)


def test_a_sqlite_store_survives_a_deep_copy(tmp_path):
    """A model (and its teacher) can be deep-copied or pickled: the copy opens its own
    connections."""
    cache = TeacherSqliteStore(str(tmp_path))
    cache.put(DIGEST_A, ("k",), (torch.ones(2),))
    twin = copy.deepcopy(cache)
    assert torch.equal(twin.get(DIGEST_A, ("k",))[0], torch.ones(2))
    twin.put(DIGEST_A, ("other",), (torch.zeros(2),))
    assert torch.equal(cache.get(DIGEST_A, ("other",))[0], torch.zeros(2))
    assert twin._databases[DIGEST_A].connection is not cache._databases[DIGEST_A].connection


def test_merge_stores_adds_missing_entries_and_keeps_the_total(tmp_path):
    parts = [tmp_path / "part1", tmp_path / "part2"]
    for n, part in enumerate(parts):
        cache = TeacherSqliteStore(str(part))
        for i in range(n, 6, 2):
            cache.put(DIGEST_A, ("s", i), (torch.full((5,), float(i)),))
        cache.put(DIGEST_A, ("shared",), (torch.ones(2),))
        cache.put(DIGEST_B, ("b", n), (torch.zeros(2),))
        cache.close()
    target = tmp_path / "merged"
    added = merge_stores(str(target), [str(p) for p in parts])
    assert added == {DIGEST_A[:16] + ".sqlite3": 7, DIGEST_B[:16] + ".sqlite3": 2}
    expected = {}
    for part in parts:
        expected.update(cache_entries(part))
    assert cache_entries(target) == expected and len(expected) == 9
    tracked, sizes, lengths = LAYOUTS["sqlite"].totals(target, DIGEST_A)
    assert tracked == sizes == lengths
    assert merge_stores(str(target), [str(p) for p in parts]) == {DIGEST_A[:16] + ".sqlite3": 0,
                                                                   DIGEST_B[:16] + ".sqlite3": 0}
    merged = TeacherSqliteStore(str(target))
    assert torch.equal(merged.get(DIGEST_A, ("s", 5))[0], torch.full((5,), 5.0))


def test_a_file_store_moves_into_a_sqlite_store_in_its_own_directory(tmp_path, caplog):
    """`merge_stores(d, [d])` (`allennlp merge-teacher-cache d --cache-dir d`): a directory filled
    with `store: "files"` becomes a SQLite store with the same entries, last used when the
    files were; until then the SQLite store says why it does not read them."""
    files = TeacherDiskCache(str(tmp_path))
    for i in range(5):
        files.put(DIGEST_A, ("s", i), (torch.full((3,), float(i)), torch.arange(i)))
    files.put(DIGEST_B, ("b",), (torch.ones(2),))
    (tmp_path / DIGEST_A[:16] / "00").mkdir(exist_ok=True)
    (tmp_path / DIGEST_A[:16] / "00" / ".tmp-leftover.skd").write_bytes(b"half")  # a killed writer's
    layout = LAYOUTS["files"]
    layout.backdate(files, DIGEST_A, ("s", 0), 1_000_000.0)
    with caplog.at_level(logging.WARNING, logger=sqlite_module.__name__):
        before = TeacherSqliteStore(str(tmp_path))
        assert before.get(DIGEST_A, ("s", 0)) is None and before.enabled
    assert len(_warnings(caplog, sqlite_module.__name__)) == 1
    assert "merge-teacher-cache" in _warnings(caplog, sqlite_module.__name__)[0].getMessage()
    before.close()
    expected = cache_entries(tmp_path, "files")
    assert merge_stores(str(tmp_path), [str(tmp_path)]) == {DIGEST_A[:16] + ".sqlite3": 5, DIGEST_B[:16] + ".sqlite3": 1}
    assert cache_entries(tmp_path, "sqlite") == expected and len(expected) == 6
    moved = TeacherSqliteStore(str(tmp_path))
    assert LAYOUTS["sqlite"].last_used(moved, DIGEST_A, ("s", 0)) == 1_000_000.0
    tensors = moved.get(DIGEST_A, ("s", 4))
    assert torch.equal(tensors[0], torch.full((3,), 4.0)) and torch.equal(tensors[1], torch.arange(4))
    tracked, sizes, lengths = LAYOUTS["sqlite"].totals(tmp_path, DIGEST_A)
    assert tracked == sizes == lengths == sum(len(d) for (prefix, _), d in expected.items() if prefix == DIGEST_A[:16])


# ---------------------------------------------------------------------------- unwritable directory


def test_unwritable_directory_disables_the_disk_cache_and_training_goes_on(tmp_path, caplog, store):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, not a directory")
    directory = blocker / "cache"
    with caplog.at_level(logging.WARNING, logger=store.logger):
        cache = make_store(store.name, str(directory))
    assert not cache.enabled and len(_warnings(caplog, store.logger)) == 1
    cache.put(DIGEST_A, ("k",), (torch.ones(2),))  # no error, nothing stored
    assert cache.get(DIGEST_A, ("k",)) is None and cache.writes == 0

    overrides = {"trainer.num_epochs": 1, "model.teacher.cache": {"dir": str(directory), "store": store.name}}
    with _records(store.logger) as records:  # training resets the root logger's handlers (caplog's)
        model = train_model_from_file(NER_STUDENT, tmp_path / "run", overrides=json.dumps(overrides))
    assert len([r for r in records if r.levelno == logging.WARNING]) == 1
    teacher = model.teacher
    assert teacher.disk is not None and not teacher.disk.enabled
    assert teacher.disk.writes == 0 and teacher.disk.hits == 0
    assert len(teacher.cache) == _sentences(NER_DATA)  # the memory cache still works
    assert blocker.read_text() == "a regular file, not a directory"


@pytest.mark.parametrize("store_name, refused", [
    ("files", "probe"), ("files", "first entry"),
    ("sqlite", "probe"), ("sqlite", "database"), ("sqlite", "first entry"),
])
def test_an_existing_directory_that_refuses_writes_leaves_training_on_the_memory_cache(
        tmp_path, monkeypatch, store_name, refused):
    """The cache directory exists but cannot be written (its mode, a read-only mount, a quota
    reached). Tests run as root, whom `chmod` does not stop, so the refusal is the
    `PermissionError` a user gets, raised where the disk cache creates files in that directory:
    the writability probe at start, or the first entry after a successful probe (files); for
    the SQLite store, the database that cannot be created, or its first entry that cannot be
    written (SQLite's own error, as a full disk gives it)."""
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o555)  # what a user would have; root ignores it
    inside = lambda path: Path(path).resolve().is_relative_to(directory.resolve())  # noqa: E731

    def refusing(original):
        def create(*args, dir=None, **kwargs):  # noqa: A002  (tempfile's argument)
            if dir is not None and inside(dir):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return original(*args, dir=dir, **kwargs)

        return create

    def refusing_database(original):
        def connect(database, *args, **kwargs):
            if inside(database):
                if refused == "database":
                    raise sqlite3.OperationalError("unable to open database file")
                connection = original(database, *args, **kwargs)
                connection.set_authorizer(  # every write of an entry fails, as a full disk does
                    lambda action, table, *_: sqlite3.SQLITE_DENY
                    if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE) and table == "entries"
                    else sqlite3.SQLITE_OK)
                return connection
            return original(database, *args, **kwargs)

        return connect

    if refused == "probe":
        monkeypatch.setattr(tempfile, "NamedTemporaryFile", refusing(tempfile.NamedTemporaryFile))
    elif store_name == "files":
        monkeypatch.setattr(tempfile, "mkstemp", refusing(tempfile.mkstemp))
    else:
        monkeypatch.setattr(sqlite3, "connect", refusing_database(sqlite3.connect))
    logger_name = LAYOUTS[store_name].logger

    overrides = {"trainer.num_epochs": 2, "model.teacher.cache": {"dir": str(directory), "store": store_name}}
    with _records(logger_name) as records:  # training resets the root logger's handlers (caplog's)
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
    if store_name == "sqlite" and refused == "first entry":  # the database exists, without an entry
        model.teacher.disk.close()
        monkeypatch.undo()
        assert [p.name for p in directory.rglob("*") if p.is_file()] == [model.teacher.digest[:16] + ".sqlite3"]
        assert cache_entries(directory) == {}
    else:
        assert [p for p in directory.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------------------- concurrent filling

_FILL_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
    cache_dir, barrier, name, store = sys.argv[1:5]
    jobs = json.loads(sys.argv[5])
    open(os.path.join(barrier, name), "w").close()
    deadline = time.time() + 120
    while len(os.listdir(barrier)) < 2 and time.time() < deadline:  # start both together
        time.sleep(0.005)
    print(json.dumps([fill_teacher_cache(archive, data, cache_dir, batch_size=1, store=store) for archive, data in jobs]))
    """
)


def _decoded_entries(directory, digest):
    """{key as JSON: tensors} of every entry of one teacher, each of which must decode, under
    its own key hash (and, for files, in its own 2-hex folder)."""
    entries = {}
    for path in entry_files(str(directory)):  # the file layout's names
        assert path.parent.name == path.stem[:2], path
    for (prefix, name), data in cache_entries(directory).items():
        if prefix != digest[:16]:
            continue
        key = _header(data)["key"]
        tensors = decode(data, digest, key)
        assert tensors is not None, (prefix, name)
        assert name == key_hash(digest, key)
        entries[json.dumps(key)] = tensors
    return entries


def test_two_processes_filling_one_directory(tmp_path, store):
    """Two processes fill one directory at once, each with a tagger and a parser teacher, one
    sentence per batch (many interleaved writes of the same entries)."""
    jobs = [(SIMPLE_TEACHER, NER_DATA), (DEP_TEACHER, DEP_DATA)]
    shared, barrier = tmp_path / "shared", tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _FILL_WORKER, str(shared), str(barrier), name, store.name, json.dumps(jobs)],
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
        counts = fill_teacher_cache(teacher, data, str(single), store=store.name)
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
    assert len(cache_entries(shared, store.name)) == len(cache_entries(shared)) == total
    assert _stray_files(shared) == [] and _stray_files(tmp_path / "single") == []
    if store.name == "sqlite":
        for teacher, _ in jobs:
            tracked, sizes, lengths = LAYOUTS["sqlite"].totals(shared, archive_digest(teacher))
            assert tracked == sizes == lengths


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
def test_filled_cache_serves_all_of_training(tmp_path, config, teacher, data, request, store):
    directory = tmp_path / "cache"
    sentences = _sentences(data)
    first = fill_teacher_cache(teacher, data, str(directory), batch_size=4, store=store.name)
    assert first == {"sentences": sentences, "computed": sentences, "cached": 0}
    assert len(cache_entries(directory, store.name)) == sentences
    again = fill_teacher_cache(teacher, data, str(directory), batch_size=5, store=store.name)
    assert again == {"sentences": sentences, "computed": 0, "cached": sentences}

    request.getfixturevalue("no_teacher_forward")
    overrides = {
        "trainer.num_epochs": 2,
        "model.teacher.archive": teacher,
        "model.teacher.cache": {"dir": str(directory), "memory_mb": 64, "store": store.name},
    }
    model = train_model_from_file(config, tmp_path / "run", overrides=json.dumps(overrides))
    disk = model.teacher.disk
    assert disk is not None and disk.enabled
    assert disk.misses == 0 and disk.writes == 0 and disk.corrupt == 0
    assert disk.hits == sentences  # the first epoch reads the disk, the second memory
    assert model.teacher.cache.hits == sentences
    assert len(cache_entries(directory)) == len(cache_entries(directory, store.name)) == sentences


def test_a_cache_of_relation_representations_serves_dense_relation_terms(tmp_path, no_teacher_forward_after_fill):
    """`--relation-heads 0` stores the relation representations, what objectives with
    `relation_heads: null` (every pair) read; the default entries (scores at the teacher's 2
    best heads) are other entries, so the same directory can hold both."""
    directory = tmp_path / "cache"
    sentences = _sentences(DEP_DATA)
    assert fill_teacher_cache(DEP_TEACHER, DEP_DATA, str(directory), relation_heads=None)["computed"] == sentences
    assert fill_teacher_cache(DEP_TEACHER, DEP_DATA, str(directory))["computed"] == sentences
    assert len(cache_entries(directory)) == 2 * sentences
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


def test_fill_teacher_cache_command_line(tmp_path, store):
    directory = tmp_path / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    chosen = [] if store.name == "sqlite" else ["--store", store.name]  # sqlite: the default
    result = subprocess.run(
        [sys.executable, "-m", "allennlp", "fill-teacher-cache", SIMPLE_TEACHER, NER_DATA,
         "--cache-dir", str(directory), "--batch-size", "4", "--dtype", "float16", *chosen,
         "--include-package", "allennlp_subkd"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sentences = _sentences(NER_DATA)
    entries = _decoded_entries(directory, archive_digest(SIMPLE_TEACHER))
    assert len(entries) == sentences == len(cache_entries(directory, store.name))
    assert all(tensors[0].dtype == torch.float16 for tensors in entries.values())
    again = fill_teacher_cache(SIMPLE_TEACHER, NER_DATA, str(directory), dtype="float16", store=store.name)
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
def test_disk_served_outputs_equal_the_teachers(tmp_path, config, data, teacher, scores, dtype, store):
    settings = dict(config=config, data=data)
    cached = dict(teacher={"archive": teacher, "cache": {"dir": str(tmp_path), "dtype": dtype, "store": store.name}})
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
