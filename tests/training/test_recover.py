"""Surviving faults: a KD run killed in the middle of an epoch and restarted with
`allennlp train --recover` finishes, continues teacher annealing at the right epoch and reads the
teacher's disk cache instead of recomputing it; an unwritable serialization directory is
AllenNLP's error and leaves no archive."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from allennlp.models.archival import load_archive

import allennlp_subkd  # noqa: F401
from allennlp_subkd.distillation.teacher import sqlite_store
from allennlp_subkd.distillation.teacher.disk_cache import entry_files
from allennlp_subkd.distillation.teacher.store import cache_entries
from tests.processes import kill_when

CONFIG = "fixtures/configs/ner_student.jsonnet"
ROOT = Path(__file__).resolve().parents[2]


def command(out: Path, overrides: dict, *extra: str):
    return [sys.executable, "-m", "allennlp", "train", CONFIG, "-s", str(out), "-o", json.dumps(overrides),
            "--include-package", "allennlp_subkd", "--include-package", "tests.training.slow_batches", *extra]


class FileEntries:
    """The file store's clocks: an entry's inode (a rewrite renames a new file into place) and
    its modification time (a read hit refreshes it, os.utime)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def count(self) -> int:
        return len(entry_files(str(self.cache)))

    def watch(self, long_ago: float) -> None:
        """Date every entry back and note what a rewrite would change."""
        self.inodes = {path: os.stat(path).st_ino for path in entry_files(str(self.cache))}
        for path in self.inodes:
            os.utime(path, (long_ago, long_ago))

    def rewritten(self):
        assert {path: os.stat(path).st_ino for path in entry_files(str(self.cache))}.keys() == self.inodes.keys()
        return [path.name for path in self.inodes if os.stat(path).st_ino != self.inodes[path]]

    def unread(self, since: float):
        return [path.name for path in self.inodes if os.stat(path).st_mtime < since]


class SqliteEntries:
    """The SQLite store's: a row's `used` time (refreshed by a read hit, written in batches
    and when the process ends) and, for rewrites, triggers of the test's own that log every
    insert and every update of an entry's bytes."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def _sql(self, *statements):
        (path,) = self.cache.glob("*.sqlite3")
        connection = sqlite_store.connect(path)
        try:
            return [connection.execute(statement).fetchall() for statement in statements]
        finally:
            connection.close()

    def count(self) -> int:
        return len(cache_entries(self.cache, "sqlite"))

    def watch(self, long_ago: float) -> None:
        self._sql(f"UPDATE entries SET used = {long_ago!r}",
                  "CREATE TABLE test_writes (key BLOB)",
                  "CREATE TRIGGER test_insert AFTER INSERT ON entries BEGIN INSERT INTO test_writes VALUES (NEW.key); END",
                  "CREATE TRIGGER test_rewrite AFTER UPDATE OF data ON entries "
                  "BEGIN INSERT INTO test_writes VALUES (NEW.key); END")

    def rewritten(self):
        return [bytes(key).hex() for (key,) in self._sql("SELECT key FROM test_writes")[0]]

    def unread(self, since: float):
        return [bytes(key).hex() for (key,) in self._sql(f"SELECT key FROM entries WHERE used < {since!r}")[0]]


@pytest.mark.parametrize("store", ["files", "sqlite"])
def test_a_kd_run_killed_mid_epoch_recovers_with_annealing_and_cache(tmp_path, store):
    out, cache = tmp_path / "run", tmp_path / "cache"
    entries = {"files": FileEntries, "sqlite": SqliteEntries}[store](cache)
    overrides = {
        "trainer.num_epochs": 3,
        "model.teacher.cache": {"dir": str(cache), "store": store},
        "model.distillation": {"type": "structural", "anneal": 30},  # alpha 1.0, 0.7, 0.4
        "data_loader": {"batch_size": 1, "shuffle": False},
        "trainer.checkpointer": {"save_every_num_batches": 2},
        "trainer.callbacks": [{"type": "distillation_epoch"}, {"type": "test_slow_batches", "seconds": 0.2}],
    }
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(command(out, overrides), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # kill it hard in the middle of the second epoch, after a mid-epoch checkpoint
        # AllenNLP saves model_state_e1_b4.th, then training_state_e1_b4.th, each with torch.save
        # under its final name: kill only once the second is there and complete (it loads)
        kill_when(process, lambda: _complete_checkpoint(out, "e1_b4"), 240, "complete mid-epoch checkpoint")
    finally:
        if process.poll() is None:
            process.kill()
    assert not (out / "model.tar.gz").exists() and not (out / "metrics.json").exists()
    assert torch.load(out / "training_state_e1_b4.th")["epochs_completed"] == 1
    sentences = entries.count()
    assert sentences == 12  # the first epoch computed every sentence once
    # files: an entry is written to a temporary file and renamed into place, so a rewrite is a
    # new inode; a read hit refreshes its modification time (the LRU clock, os.utime). SQLite: a
    # read hit refreshes the row's last-used time; a rewrite is logged by the test's triggers.
    # Date every entry back: after the recovered run each must be read and none rewritten.
    long_ago = time.time() - 10 * 24 * 3600
    entries.watch(long_ago)
    killed_at = time.time()

    # --recover insists on the same configuration
    subprocess.run(command(out, overrides, "--recover"), cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epoch"] == 2  # three epochs, 0-based
    alphas = [json.loads((out / f"metrics_epoch_{e}.json").read_text())["training_kd_alpha"] for e in (1, 2)]
    assert alphas == pytest.approx([0.7, 0.4])  # the schedule went on at the epoch it stopped in
    # the teacher's outputs came from the disk cache: every entry was read again after the
    # kill (a hit refreshes its last-used time) and none was written again (same inodes, no
    # logged write)
    assert entries.rewritten() == [] and entries.count() == sentences
    unread = entries.unread(killed_at)
    assert unread == [], f"entries the recovered run never read from the disk cache: {unread}"
    model = load_archive(str(out / "model.tar.gz")).model
    assert type(model).__name__ == "DistilledCrfTagger"


def _complete_checkpoint(out: Path, name: str) -> bool:
    """Both files of the checkpoint exist and the training state, written last, loads whole."""
    model_state, training_state = out / f"model_state_{name}.th", out / f"training_state_{name}.th"
    if not (model_state.exists() and training_state.exists()):
        return False
    try:
        torch.load(training_state)
    except Exception:  # still being written
        return False
    return True


def test_an_unwritable_serialization_directory_is_allennlps_error_and_no_archive(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run(command(blocker / "run", {"trainer.num_epochs": 1}), cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "NotADirectoryError" in result.stderr or "Not a directory" in result.stderr
    assert "torch" not in result.stderr.strip().splitlines()[-1]
    assert not list(tmp_path.rglob("model.tar.gz"))
