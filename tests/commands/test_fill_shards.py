"""`allennlp fill-teacher-cache --shard K/N`: N processes fill one store together (one shared
directory, or directories of their own merged: by `allennlp merge-teacher-cache` for the SQLite
store, by copying for the file store), with exactly the entries one process writes."""
import os
import shutil
import subprocess
import sys

import pytest
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache, parse_shard
from allennlp_subkd.distillation.teacher.store import cache_entries
from tests.commands.entry_identity import entry_bytes
from tests.conftest import ROOT

TEACHER = "fixtures/teachers/ner_crf_teacher.tar.gz"
DATA = "fixtures/ner/tiny.conll"
TRANSFER = "fixtures/transfer/tiny.tokens"


def fill(directory, shard, store, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "allennlp", "fill-teacher-cache", TEACHER, *extra, "--cache-dir", str(directory),
         "--shard", shard, "--batch-size", "1", "--store", store, "--include-package", "allennlp_subkd"],
        cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


#: what a store's directory may hold once its writers are gone: entries (no temporary file, no
#: SQLite write-ahead log)
ENTRY_SUFFIX = {"files": ".skd", "sqlite": ".sqlite3"}


@pytest.mark.parametrize("store", sorted(ENTRY_SUFFIX))
@pytest.mark.parametrize("data, extra", [(DATA, []), (TRANSFER, ["--format", "tokens"])], ids=["labeled", "transfer-set"])
def test_two_processes_fill_one_store(data, extra, store, tmp_path):
    single = tmp_path / "single"
    fill_teacher_cache(TEACHER, data, str(single), batch_size=1, transfer_format=(extra[1] if extra else None),
                       store=store)
    expected = entry_bytes(single)
    assert expected and cache_entries(single, store) == expected
    # at the same time into one directory
    shared = tmp_path / "shared"
    workers = [fill(shared, f"{k}/2", store, data, *extra) for k in (1, 2)]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err[-2000:]
    assert entry_bytes(shared) == expected
    assert not [p for p in shared.rglob("*") if p.is_file() and not p.name.endswith(ENTRY_SUFFIX[store])]  # no temporary files
    # or each into its own directory, merged (by copying the files, or merge-teacher-cache)
    parts = []
    for k in (1, 2):
        part = tmp_path / f"part{k}"
        counts = fill_teacher_cache(TEACHER, data, str(part), batch_size=1, shard=(k, 2),
                                    transfer_format=(extra[1] if extra else None), store=store)
        parts.append(entry_bytes(part))
        assert counts["computed"] == len(parts[-1])
    assert not set(parts[0]) & set(parts[1]) and abs(len(parts[0]) - len(parts[1])) <= 1
    merged = tmp_path / "merged"
    if store == "files":
        for k in (1, 2):
            shutil.copytree(tmp_path / f"part{k}", merged, dirs_exist_ok=True)
    else:
        subprocess.run([sys.executable, "-m", "allennlp", "merge-teacher-cache", str(tmp_path / "part1"),
                        str(tmp_path / "part2"), "--cache-dir", str(merged), "--include-package", "allennlp_subkd"],
                       cwd=ROOT, check=True, capture_output=True)
    assert entry_bytes(merged) == expected
    assert not [p for p in merged.rglob("*") if p.is_file() and not p.name.endswith(ENTRY_SUFFIX[store])]


@pytest.mark.parametrize("text, message", [
    ("0/2", r"needs 1 <= K <= N, got 0/2"), ("3/2", r"needs 1 <= K <= N, got 3/2"), ("1/0", r"got 1/0"),
    ("2", "must be K/N with whole numbers"), ("a/b", "must be K/N"), ("1/2/3", "must be K/N"), ("-1/2", "must be K/N"),
])
def test_a_shard_out_of_range_is_a_clear_error(text, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_shard(text)


def test_shard_parsing():
    assert parse_shard(None) is None and parse_shard("2/4") == (2, 4) and parse_shard(" 1 / 1 ") == (1, 1)
