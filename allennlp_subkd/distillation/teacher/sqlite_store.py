"""
A persistent store of a frozen teacher's per-sentence outputs in one SQLite database per
teacher: the default on-disk cache (`teacher.cache.store: "sqlite"`).

It keeps the entries `TeacherDiskCache` keeps (the same `encode` bytes: magic, JSON header
naming the archive digest and the sentence key, raw tensors, trailing SHA-256), with the same
interface, in a single file per teacher instead of one file per sentence: file-system blocks no
longer round every entry up (a 1 KiB tagger entry took a 4 KiB block), and a writer never scans
a folder of a million files.

Layout: `<directory>/<archive digest[:16]>.sqlite3` (Python's standard `sqlite3`), one table

    entries(key BLOB PRIMARY KEY, size INTEGER, used REAL, data BLOB)

keyed by the 32 bytes of `key_hash(digest, key)` (the SHA-256 of the archive digest and the
sentence key), `data` the entry's bytes, `size` their length and `used` the last-used time
(seconds since the epoch), indexed for the least-recently-used order. A one-row table `total`
holds the sum of `size`, kept exact by triggers on every insert, update and delete, in the same
transaction, so the size bound never needs a scan, and every process sees the total of all.

- **Atomic, concurrent.** The database is in WAL mode (readers never wait for a writer) with a
  busy timeout of two minutes (concurrent writers queue) and `synchronous=NORMAL` (a committed
  entry survives a killed process; a power loss may lose the last ones, which are recomputed:
  the entries are a cache). Each `put` is one `BEGIN IMMEDIATE` ... `COMMIT` transaction, so a
  killed process never leaves a partial entry, and two processes writing the same entry each
  write a complete one. Processes must run on one machine (WAL needs shared memory): several
  machines sharing a network file system need `store: "files"`, or a directory each, merged
  afterwards (`merge_stores`, `allennlp merge-teacher-cache`).
- **Checked on every read.** A row whose bytes `decode` rejects (truncated, corrupt, another
  teacher's entry or a hash collision: the header must name this digest and key) is a miss: the
  row is deleted, counted in `corrupt`, the teacher recomputes the entry, one warning is logged.
- **Bounded.** Beyond `max_mb` of entry bytes (`total`), the least recently used rows are deleted
  until the total is at most 90 % of the bound (room for the next writes: not an eviction per
  write), in the writing transaction. The file keeps its size: SQLite reuses the freed pages.
- **Last-used times, batched.** A read hit refreshes `used` only when it is older than a minute
  (entries read again and again, as every epoch of a run does from its memory cache, cost no
  write), and the refreshes are queued, then written in one transaction: with the next `put`, at
  256 queued, before an eviction, and at `flush()` / `close()` (also called when the store is
  garbage-collected or the process exits normally). A killed process loses its queued refreshes,
  which only makes those entries look older to the eviction order, never wrong.
- **Unwritable.** A directory that cannot be created or written, or a database that cannot be
  opened, created or written (not a database, a disk full), turns the store off with one
  warning: training goes on with the in-memory cache.

Size: the entry bytes plus SQLite's pages (rows are packed into 4 KiB pages; a large entry
spills into overflow pages), the key index and the last-used index, and while processes have it
open a write-ahead log next to it (`-wal`, `-shm`; checkpointed into the database and removed
when the last connection closes). Measured (`benchmarks/teacher_store.py`, 2,000 sentences): a
NER tagger's ≈ 0.9 KiB entries take 1.3x their bytes on disk (4.7x as files), a parser's
≈ 10 KiB ones 1.1x (1.2x as files). Copy a store only when no process has it open, or merge it
with `merge_stores`.

A store's connections are shared by the threads of a process under a lock, never by processes:
a forked child opens its own, a pickled or deep-copied store reopens them.
"""
import functools
import logging
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Collection, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

import torch

from allennlp_subkd.distillation.teacher.cache import disk_bound, storage_dtype, stored_tensors
from allennlp_subkd.distillation.teacher.disk_cache import (
    SUFFIX as FILE_SUFFIX,
    decode,
    encode,
    key_hash,
    writable_directory,
)

logger = logging.getLogger(__name__)

SUFFIX = ".sqlite3"
#: the layout's version, in `PRAGMA user_version`
VERSION = 1
#: seconds a writer waits for another process's transaction
BUSY_TIMEOUT = 120.0
#: a read refreshes an entry's last-used time only when it is older than this (seconds)
REFRESH_AFTER = 60.0
#: queued refreshes written at once
REFRESH_BATCH = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key BLOB PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    used REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used, size);
CREATE TABLE IF NOT EXISTS total (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO total (id, bytes) SELECT 0, COALESCE(SUM(size), 0) FROM entries;
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries
BEGIN UPDATE total SET bytes = bytes + NEW.size WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries
BEGIN UPDATE total SET bytes = bytes - OLD.size WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF size ON entries
BEGIN UPDATE total SET bytes = bytes - OLD.size + NEW.size WHERE id = 0; END;
"""

UPSERT = ("INSERT INTO entries (key, size, used, data) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
          "DO UPDATE SET size = excluded.size, used = excluded.used, data = excluded.data")


def database_path(directory, digest: str) -> Path:
    """Where one teacher's entries live."""
    return Path(directory) / (digest[:16] + SUFFIX)


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection to a store database (created with its schema if missing), in
    WAL mode with `synchronous=NORMAL` and the busy timeout. Raises `sqlite3.Error` for a file
    that is not a store database (or one of a newer layout) and for one that cannot be opened."""
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None,
                                 check_same_thread=False)
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:  # switching a new database to WAL can report "locked" at once
            try:
                (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"journal mode {mode!r} instead of 'wal'")
        connection.execute("PRAGMA synchronous=NORMAL")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > VERSION:
            raise sqlite3.DatabaseError(f"layout version {version}, newer than this release's {VERSION}")
        if version < VERSION:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(SCHEMA):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        return connection
    except BaseException:
        connection.close()
        raise


def _statements(script: str) -> List[str]:
    """The statements of `SCHEMA` (triggers hold `;` inside `BEGIN ... END`)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current)
        if text.rstrip().endswith(";") and (not text.lstrip().upper().startswith("CREATE TRIGGER")
                                            or text.rstrip().upper().endswith("END;")):
            statements.append(text)
            current = []
    return statements


class _Database:
    """One teacher's open database and its queued last-used refreshes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = connect(path)
        self.pending: Dict[bytes, float] = {}  # key -> last-used time to write

    def write_pending(self) -> None:
        """Inside a write transaction: the queued refreshes (never moving a time back)."""
        if self.pending:
            self.connection.executemany("UPDATE entries SET used = ? WHERE key = ? AND used < ?",
                                        [(used, key, used) for key, used in self.pending.items()])
            self.pending.clear()

    def transaction(self):
        return _Transaction(self.connection)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.connection.execute("COMMIT")
        elif self.connection.in_transaction:
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass


def _close_all(databases: Dict[str, _Database], pid: int, lock: threading.RLock) -> None:
    """Write the queued refreshes and close (the last connection checkpoints the WAL into the
    database and removes it). Only in the process that opened them: a forked child abandons
    its copies."""
    if os.getpid() != pid:
        return
    with lock:
        _close_databases(databases)


def _close_databases(databases: Dict[str, _Database]) -> None:
    for database in list(databases.values()):
        try:
            if database.pending:
                with database.transaction():
                    database.write_pending()
        except sqlite3.Error:
            pass
        try:
            database.connection.close()
        except sqlite3.Error:
            pass
    databases.clear()


def _locked(method):
    """The method under the store's lock (threads share its connections)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class TeacherSqliteStore:
    """
    The teacher's per-sentence outputs in one SQLite database per teacher (see the module
    docstring); the interface of `TeacherDiskCache`.

    # Parameters

    directory : `str`
        Where the databases live (created if missing). Shared safely by concurrent processes
        of one machine.
    max_mb : `float`, optional (default = `2048`)
        Upper bound of the entry bytes of one teacher's database, in MiB; least recently used
        entries are deleted beyond it. Must be > 0.
    dtype : `str`, optional (default = `"float32"`)
        Storage of floating-point tensors: `"float32"` (exact) or `"float16"`.
    """

    def __init__(self, directory: str, max_mb: float = 2048.0, dtype: str = "float32") -> None:
        self.max_bytes = disk_bound(max_mb)
        self.dtype = storage_dtype(dtype)
        self.directory = Path(directory)
        self.enabled = writable_directory(self.directory, logger)
        self.hits = self.misses = self.writes = self.corrupt = self.evictions = 0
        self._open()

    def _open(self) -> None:
        self._databases: Dict[str, _Database] = {}  # per digest
        self._pid = os.getpid()
        self._lock = threading.RLock()  # one transaction at a time on a connection
        self._finalizer = weakref.finalize(self, _close_all, self._databases, self._pid, self._lock)

    # pickling (a deep copy of a model) and forking leave the connections behind
    def __getstate__(self):
        self.flush()
        state = dict(self.__dict__)
        for name in ("_databases", "_pid", "_lock", "_finalizer"):
            state.pop(name)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._open()

    def _database(self, digest: str) -> Optional[_Database]:
        if self._pid != os.getpid():  # a forked child: never use the parent's connections
            self._finalizer.detach()
            self._open()
        database = self._databases.get(digest)
        if database is None:
            path = database_path(self.directory, digest)
            if not path.exists() and (self.directory / digest[:16]).is_dir():
                logger.warning(
                    "teacher disk cache: %s holds this teacher's entries as files (teacher.cache.store "
                    "\"files\"), which the SQLite store does not read: set store \"files\", or move them "
                    "into %s with `allennlp merge-teacher-cache %s --cache-dir %s`",
                    self.directory / digest[:16], path.name, self.directory, self.directory)
            try:
                database = _Database(path)
            except sqlite3.Error as error:
                self._disable("cannot open", path, error)
                return None
            self._databases[digest] = database
        return database

    def _disable(self, what: str, path: Path, error: Exception) -> None:
        logger.warning("teacher disk cache: %s %s (%s: %s); caching in memory only",
                       what, path, type(error).__name__, error)
        self.enabled = False

    @_locked
    def get(self, digest: str, key: Hashable) -> Optional[Tuple[torch.Tensor, ...]]:
        """The stored tensors or `None` (missing, truncated, corrupt or another teacher's)."""
        if not self.enabled:
            return None
        database = self._database(digest)
        if database is None:
            return None
        name = bytes.fromhex(key_hash(digest, key))
        try:
            row = database.connection.execute("SELECT used, data FROM entries WHERE key = ?", (name,)).fetchone()
        except sqlite3.Error as error:
            self._disable("cannot read", database.path, error)
            return None
        if row is None:
            self.misses += 1
            return None
        used, data = row
        tensors = decode(bytes(data), digest, key)
        if tensors is None:
            self.corrupt += 1
            if self.corrupt == 1:
                logger.warning("teacher disk cache: the entry %s in %s is truncated, corrupt or another "
                               "teacher's; it is recomputed (further cases are counted, not logged)",
                               name.hex(), database.path)
            try:
                with database.transaction() as connection:  # only these bytes: not a newer write
                    connection.execute("DELETE FROM entries WHERE key = ? AND data = ?", (name, data))
            except sqlite3.Error as error:
                self._disable("cannot write", database.path, error)
            self.misses += 1
            return None
        now = time.time()
        if now - used > REFRESH_AFTER:
            database.pending[name] = now
            if len(database.pending) >= REFRESH_BATCH:
                self._write_pending(database)
        self.hits += 1
        return tensors

    @_locked
    def put(self, digest: str, key: Hashable, tensors: Sequence[torch.Tensor], exact: Collection[int] = ()) -> None:
        """Write one entry in one transaction (with the queued refreshes, and the evictions the
        bound asks for); errors only warn. Floating-point tensors are stored in the cache dtype,
        those at the positions `exact` in float32."""
        if not self.enabled:
            return
        data = encode(digest, key, stored_tensors(tensors, self.dtype, exact))
        database = self._database(digest)
        if database is None:
            return
        name = bytes.fromhex(key_hash(digest, key))
        try:
            with database.transaction() as connection:
                database.write_pending()
                connection.execute(UPSERT, (name, len(data), time.time(), data))
                (total,) = connection.execute("SELECT bytes FROM total WHERE id = 0").fetchone()
                evicted = self._evict(connection, total) if total > self.max_bytes else 0
        except sqlite3.Error as error:
            self._disable("cannot write", database.path, error)
            return
        self.writes += 1
        self.evictions += evicted

    def _evict(self, connection: sqlite3.Connection, total: int) -> int:
        """Inside the write transaction: delete the least recently used rows until the total is
        at most 90 % of the bound; returns how many."""
        target = self.max_bytes * 0.9  # leave room: not an eviction per write
        doomed = []
        cursor = connection.execute("SELECT rowid, size FROM entries ORDER BY used, rowid")
        try:
            for rowid, size in cursor:
                if total <= target:
                    break
                doomed.append((rowid,))
                total -= size
        finally:
            cursor.close()
        connection.executemany("DELETE FROM entries WHERE rowid = ?", doomed)
        return len(doomed)

    def _write_pending(self, database: _Database) -> None:
        try:
            with database.transaction():
                database.write_pending()
        except sqlite3.Error as error:
            database.pending.clear()  # only last-used times: reading goes on
            logger.debug("teacher disk cache: last-used times not written to %s: %s", database.path, error)

    @_locked
    def flush(self) -> None:
        """Write the queued last-used refreshes now."""
        if self._pid != os.getpid():
            return
        for database in list(self._databases.values()):
            if database.pending:
                self._write_pending(database)

    @_locked
    def close(self) -> None:
        """Write the queued refreshes and close the databases (reopened on the next use)."""
        if self._pid == os.getpid():
            _close_databases(self._databases)

    def stats(self) -> str:
        return (f"{self.hits} hits, {self.misses} misses, {self.writes} writes, "
                f"{self.corrupt} corrupt, {self.evictions} evictions")


def database_entries(path: Path) -> Dict[str, bytes]:
    """{key hash (hex): entry bytes} of one store database, read as they are (for reports,
    merges and tests)."""
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        return {bytes(key).hex(): bytes(data) for key, data in connection.execute("SELECT key, data FROM entries")}
    finally:
        connection.close()


def merge_stores(target: str, sources: Iterable[str]) -> Dict[str, int]:
    """Copy every entry under the directories `sources` into the SQLite store under `target`
    (created if missing), one database per teacher: the rows of their SQLite stores, and the
    entry files of their file stores (`store: "files"`, last used at the file's modification
    time), so `merge_stores(d, [d])` turns a directory's file store into a SQLite store (the
    files are left; delete them afterwards). Entries the target already has are kept (the same
    sentence filled twice is the same entry); bytes are copied as they are (`get` checks them).
    Run it when no process writes the sources. Returns {database file name: entries added}.
    The bound applies at the next write."""
    Path(target).mkdir(parents=True, exist_ok=True)
    added: Dict[str, int] = {}

    def added_by(name: str, connection: sqlite3.Connection, insert) -> None:
        """Run `insert(connection)` in one transaction, counting the rows it adds to `name`."""
        count = "SELECT COUNT(*) FROM main.entries"
        with _Transaction(connection):
            (before,) = connection.execute(count).fetchone()
            insert(connection)
            (after,) = connection.execute(count).fetchone()
        added[name] = added.get(name, 0) + after - before

    for source in sources:
        for path in sorted(Path(source).glob(f"*{SUFFIX}")):
            destination = Path(target) / path.name
            if destination.exists() and destination.resolve() == path.resolve():
                continue
            connect(path).close()  # the source is a store database (of this layout)
            connection = connect(destination)
            try:
                connection.execute("ATTACH DATABASE ? AS source", (str(path),))
                try:
                    added_by(path.name, connection, lambda c: c.execute(
                        "INSERT INTO main.entries (key, size, used, data) SELECT key, size, used, data "
                        "FROM source.entries WHERE true ON CONFLICT (key) DO NOTHING"))
                finally:
                    connection.execute("DETACH DATABASE source")
            finally:
                connection.close()
        folders = sorted(p for p in Path(source).iterdir() if p.is_dir() and _is_hex(p.name, 16)) \
            if Path(source).is_dir() else []
        for folder in folders:  # a file store: <digest[:16]>/<2 hex>/<key hash>.skd
            files = [f for f in sorted(folder.glob(f"*/*{FILE_SUFFIX}")) if _is_hex(f.stem, 64)]
            if files:
                connection = connect(Path(target) / (folder.name + SUFFIX))
                try:
                    added_by(folder.name + SUFFIX, connection, lambda c: c.executemany(
                        "INSERT INTO entries (key, size, used, data) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (key) DO NOTHING", (_file_row(f) for f in files)))
                finally:
                    connection.close()
    return added


def _is_hex(name: str, length: int) -> bool:
    return len(name) == length and all(c in "0123456789abcdef" for c in name)


def _file_row(path: Path) -> Tuple[bytes, int, float, bytes]:
    """A file store's entry file as a row: key, size, last used (its modification time), bytes."""
    used = path.stat().st_mtime
    data = path.read_bytes()
    return bytes.fromhex(path.stem), len(data), used, data
