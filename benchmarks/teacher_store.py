"""The teacher's disk stores at transfer-set scale: write rate, bytes on disk and read rate of
`TeacherSqliteStore` (`store: "sqlite"`) and `TeacherDiskCache` (`store: "files"`) for N
sentences' entries (not a test; run it with nothing else running).

The entries have the real shapes of a NER tagger's (emissions `[n, 9]`) and a parser's
(`relation_heads: 2`: arc scores `[n+1, n+1]`, its 2 best heads `[n+1, 2]` and their relation
scores `[n+1, 2, 51]`), n drawn from the sentence lengths of the shipped UD English-EWT sample;
keys are the sample's sentences made distinct by a number (repeated text, as the issue allows).
The teacher's own forward pass is not measured here (it is the throughput benchmark's): this is
what the store adds. Before the reads every entry is dated back an hour, so each read also
refreshes its last-used time as a read of an old entry does (files: `os.utime` on every read;
SQLite: queued, written 256 at a time). Writes JSON, and a Markdown table rendered from it.

    python benchmarks/teacher_store.py --sentences 100000 [--kinds ner dep] [--store files sqlite] [--dir /tmp/store]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from allennlp_subkd.distillation.teacher import sqlite_store  # noqa: E402
from allennlp_subkd.distillation.teacher.store import STORES, cache_entries, make_store  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "ud_ewt" / "train.conllu"
DIGEST = "0" * 64


def sentences() -> List[List[str]]:
    blocks = [b for b in SAMPLE.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    return [[line.split("\t")[1] for line in b.splitlines() if line and line[0].isdigit() and line.split("\t")[0].isdigit()]
            for b in blocks]


def entry(kind: str, n: int, g: torch.Generator):
    if kind == "ner":
        return (torch.randn(n, 9, generator=g),)
    m = n + 1
    return (torch.randn(m, m, generator=g), torch.randint(0, m, (m, 2), generator=g), torch.randn(m, 2, 51, generator=g))


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in directory.rglob("*") if p.is_file())


def backdate(store: str, directory: Path, seconds: float) -> None:
    """Every entry last used `seconds` ago (a read then refreshes it)."""
    then = time.time() - seconds
    if store == "files":
        for path in directory.glob("*/*/*.skd"):
            os.utime(path, (then, then))
    else:
        connection = sqlite_store.connect(sqlite_store.database_path(directory, DIGEST))
        connection.execute("UPDATE entries SET used = ?", (then,))
        connection.close()


def first_write_setup(store: str, directory: Path) -> float:
    """Seconds a new process's writer spends before its first entry on what the store needs for
    its size bound: the file store scans the teacher's folder once; the SQLite store opens the
    database and reads the total (a row)."""
    start = time.perf_counter()
    writer = make_store(store, str(directory), max_mb=1 << 20)
    if store == "files":
        writer._folder_sizes(DIGEST)
    else:
        writer._database(DIGEST).connection.execute("SELECT bytes FROM total").fetchone()
    seconds = time.perf_counter() - start
    writer.close()
    return seconds


def measure(kind: str, store: str, count: int, directory: Path) -> Dict:
    shutil.rmtree(directory, ignore_errors=True)
    corpus = sentences()
    g = torch.Generator().manual_seed(0)
    keys = [(tuple(corpus[i % len(corpus)]), i) for i in range(count)]
    values = [entry(kind, len(key[0]), g) for key in keys]
    writer = make_store(store, str(directory), max_mb=1 << 20)
    start = time.perf_counter()
    for key, value in zip(keys, values):
        writer.put(DIGEST, key, value)
    writer.close()  # SQLite: the write-ahead log folded into the database
    write_seconds = time.perf_counter() - start
    entries = cache_entries(directory, store)
    assert len(entries) == count
    entry_bytes = sum(len(data) for data in entries.values())
    del entries
    on_disk = disk_bytes(directory)
    files = sum(1 for p in directory.rglob("*") if p.is_file())
    backdate(store, directory, 3600)
    subprocess.run(["sync"], check=False)
    order = torch.randperm(count, generator=g).tolist()
    reader = make_store(store, str(directory), max_mb=1 << 20)  # a new process's view
    start = time.perf_counter()
    for i in order:
        assert reader.get(DIGEST, keys[i]) is not None
    reader.close()  # SQLite: the last queued refreshes written
    read_seconds = time.perf_counter() - start
    setup_seconds = first_write_setup(store, directory)
    shutil.rmtree(directory, ignore_errors=True)
    return {
        "kind": kind, "store": store, "sentences": count, "files": files,
        "entry_bytes": entry_bytes, "disk_bytes": on_disk,
        "write_per_second": count / write_seconds, "read_per_second": count / read_seconds,
        "first_write_scan_seconds": setup_seconds,
    }


def render(results: Dict) -> str:
    lines = [f"Measured by `{results['command']}` ({results['machine']}); rendered from "
             f"`benchmarks/results/{results.get('name', 'teacher_store')}.json`.", "",
             "| entries | store | sentences | files | entry MB | on disk MB | disk / entries | writes/s | random reads/s | "
             "a writer's first scan or open (s) | projected on disk, 1M | 10M |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        per = r["disk_bytes"] / r["sentences"]
        lines.append(
            f"| {r['kind']} | {r.get('store', 'files')} | {r['sentences']:,} | {r['files']:,} | "
            f"{r['entry_bytes'] / 1e6:.1f} | {r['disk_bytes'] / 1e6:.1f} | {r['disk_bytes'] / r['entry_bytes']:.2f} | "
            f"{r['write_per_second']:,.0f} | {r['read_per_second']:,.0f} | {r['first_write_scan_seconds']:.2f} | "
            f"{per * 1e6 / 1e9:.1f} GB | {per * 1e7 / 1e9:.0f} GB |")
    lines += ["", "`files`: one file per sentence (`<dir>/<digest>/<2 hex>/<sha256>.skd`); `sqlite`: one "
              "database per teacher (`<dir>/<digest>.sqlite3`, measured after its writer closed it). "
              "`on disk` counts the file-system blocks; projections scale the measured bytes a sentence "
              "linearly. Reads are of entries last used an hour before (each read refreshes the time)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100000)
    parser.add_argument("--kinds", nargs="+", default=["ner", "dep"])
    parser.add_argument("--store", nargs="+", choices=sorted(STORES), default=["files", "sqlite"])
    parser.add_argument("--dir", default="/tmp/teacher_store_benchmark")
    parser.add_argument("--name", default="teacher_store")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [measure(kind, store, args.sentences, Path(args.dir)) for kind in args.kinds for store in args.store]
    results = {"command": "python benchmarks/teacher_store.py " + " ".join(sys.argv[1:]), "name": args.name,
               "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
