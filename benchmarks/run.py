"""
Real-data accuracy and training-cost benchmark of the KD objectives (`make bench-ner`,
`make bench-dep`).

One invocation trains, on a fixed subset of the real corpus (UNER English-EWT for NER, UD
English-EWT for parsing; read from `../shared/data` or `--data-dir`):

1. the teacher (the task's `*_teacher` config), alone,
2. for every seed: the plain student (no KD) and one student per KD objective — the same
   student architecture, data and seed, the teacher cache on (the default),
3. for the first seed: every KD objective again with the teacher cache off (for timing),

each through the stock `allennlp train` command in its own process (students: one thread per
process, `--workers` processes at a time, plain and KD students mixed so they run under the
same conditions), and writes one record per run to
`benchmarks/results/{task}.json`. `benchmarks/report.py` renders the Markdown table and the
plot from that file (this script calls it at the end).

Every epoch time is the training phase of the epoch (validation excluded) measured by the
`epoch_timer` callback inside the run; ratios divide a KD run's mean epoch time by the plain
student's of the same seed, both from this invocation.

    python benchmarks/run.py ner [--quick] [--data-dir ../shared/data] [--seeds 3] [--workers 2]
"""
import argparse
import concurrent.futures
import contextlib
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parent.parent

TASKS = {
    "ner": {
        "files": ("uner_ewt", "en_ewt-uner-{}.conll", True),
        # the casing-embedding variant: the full-data teacher was trained before the casing
        # measurement (results/ner_teacher_casing.md) chose the character CNN for the default
        "teacher": "ner_teacher_transformer_casing",
        "methods": [  # (method, config)
            ("no KD", "ner_baseline"),
            ("token", "ner_token_kd"),
            ("posterior", "ner_posterior_kd"),
            ("top_k", "ner_topk_kd"),
            ("structural", "ner_struct_kd"),
            ("sub_structure (emission)", "ner_sub_kd"),
            ("sub_structure (bigram)", "ner_sub_kd_bigram"),
        ],
        # the weights this benchmark measured where a config's default changed since: ner_sub_kd's
        # alpha 0.99, the best on this full-data dev set (results/ner_sweep.md), is no longer its
        # default (0.5: 0.99 hurts on 1,000 sentences, see training_configs/ner_sub_kd.jsonnet)
        "method_overrides": {"ner_sub_kd": {"model.distillation.alpha": 0.99}},
        "metrics": ["f1-measure-overall", "precision-overall", "recall-overall"],
        "sizes": {"train": None, "dev": None, "test": None},
        # teacher: 2 epochs of MiniLM fine-tuning ≈ 55 min on one CPU thread (the budget)
        "epochs": {"teacher": 2, "student": 10, "timing": 1},
        # cold-cache timing runs (the teacher runs on every batch): these objectives only,
        # since the teacher's forward pass, which dominates, is the same for all
        "timing_methods": ["structural", "sub_structure (emission)"],
    },
    "dep": {
        "files": ("ud_ewt", "en_ewt-ud-{}.conllu", False),
        "teacher": "dep_teacher_transformer",
        "methods": [
            ("no KD", "dep_baseline"),
            ("local", "dep_local_kd"),
            ("structural", "dep_struct_kd"),
            ("sub_structure", "dep_sub_kd"),
        ],
        # once, first seed: the projective tree CRF (Eisner) for structural KD, and the plain
        # student with torch.nn.Bilinear as its relation scorer (the cost before FastBilinear)
        "once": [("structural (projective)", "dep_struct_kd_projective", {}),
                 ("no KD, torch.nn.Bilinear scorer", "dep_baseline", {"model.fast_relation_scorer": False}),
                 # the relation terms at every pair (dense), for the cost before the sparse ones:
                 # its teacher entries are not in the filled cache, so read its later epochs
                 ("structural, dense relation terms", "dep_struct_kd", {"model.distillation.relation_heads": None})],
        "metrics": ["UAS", "LAS"],
        "sizes": {"train": None, "dev": None, "test": None},
        # teacher: 2 epochs of MiniLM fine-tuning ≈ 65 min on one CPU thread (the budget);
        # students: 8 epochs (16 runs, 2 at a time, must fit the rest of the 150-minute suite)
        "epochs": {"teacher": 2, "student": 8, "timing": 1},
        # cold-cache timing: structural only (the teacher's forward pass, which dominates, is
        # the same for every objective; one more 12-minute run did not fit the session)
        "timing_methods": ["structural"],
    },
}
QUICK = {"sizes": {"train": 200, "dev": 50, "test": 100},
         "epochs": {"teacher": 2, "student": 2, "timing": 2}}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def write_subsets(task: str, data_dir: Path, out: Path, sizes: Dict[str, Optional[int]], seed: int = 1) -> Dict:
    """A fixed random subset (file order kept) of each split; `None` keeps the whole split."""
    folder, pattern, conll2003 = TASKS[task]["files"]
    out.mkdir(parents=True, exist_ok=True)
    info = {}
    for split, size in sizes.items():
        text = (data_dir / folder / pattern.format(split)).read_text(encoding="utf-8")
        blocks = [b.strip("\n") for b in text.split("\n\n") if b.strip()]
        if conll2003:
            blocks = [b for b in blocks if not b.lstrip().startswith("-DOCSTART-")]
        if size is not None and size < len(blocks):
            keep = sorted(random.Random(seed).sample(range(len(blocks)), size))
            blocks = [blocks[i] for i in keep]
        path = out / f"{split}{'.conll' if conll2003 else '.conllu'}"
        path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
        info[split] = {"path": str(path), "sentences": len(blocks),
                       "tokens": sum(len([l for l in b.splitlines() if not l.startswith("#")]) for b in blocks)}
    return info


class RunInUse(RuntimeError):
    """A run another live process is training."""


class RunFailed(RuntimeError):
    """A training, evaluation or fill process that exited with an error (its log says why)."""


def logged(command: List[str], log: Path, threads: int, mode: str = "w") -> None:
    """Run `command` (a `python -m allennlp ...` line) in the repository with `threads` torch
    threads, its output into `log`; a process that fails raises `RunFailed` naming the log."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, mode) as handle:
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    if code:
        ended = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise RunFailed(f"`{' '.join(command[2:5])}` {ended}: see {log}")


#: what to do when some runs of a script that reuses every finished run failed
RERUN = "rerun the same command: it reuses every finished run"


def gather(jobs: Sequence[Tuple[str, concurrent.futures.Future]], advice: str = RERUN) -> List:
    """The results of `jobs` (a name and a future each), in order, once every one has ended. Runs
    that failed (`RunFailed`) end it with one error naming each and its log, and `advice`, after the
    others finished (they are kept); any other error is raised as it is."""
    concurrent.futures.wait([future for _, future in jobs])
    failed = [(name, future.exception()) for name, future in jobs if isinstance(future.exception(), RunFailed)]
    if failed:
        lines = "\n".join(f"  {name}: {error}" for name, error in failed)
        raise RunFailed(f"{len(failed)} of {len(jobs)} runs failed; the {len(jobs) - len(failed)} others finished "
                        f"and are kept ({advice}):\n{lines}")
    return [future.result() for _, future in jobs]


def live_holder(lock: Path) -> Optional[int]:
    """The id of the live process that holds `lock`, or None (no lock, or its process is gone)."""
    try:
        text = lock.read_text().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # someone else's process: alive
        pass
    return int(text)


def live_locks(folder: Path) -> List[Path]:
    """The locks under `folder` whose processes live: runs that must not be deleted now."""
    return [lock for lock in folder.rglob("*.lock") if live_holder(lock) is not None] if folder.exists() else []


def main_or_exit(main: Callable[[], None], script: str) -> None:
    """Run a benchmark script's `main`; a run another live invocation is training (`RunInUse`), or
    runs whose processes failed (`RunFailed`), end the script with what happened and where its log
    is (exit status 1), not a traceback."""
    try:
        main()
    except (RunInUse, RunFailed) as error:
        sys.exit(f"{script}: {error}")


@contextlib.contextmanager
def claimed(run: Path):
    """Hold `{run}.lock` (this process's id) while `run` is trained or resumed, so that a second
    invocation (another suite, the frontier) reaching a run a live process is training stops with
    a clear error instead of deleting it or resuming it under that process; a lock left by a
    process that is gone is taken over."""
    lock = run.parent / f"{run.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = live_holder(lock)
            if holder is not None:
                raise RunInUse(f"{run} is being trained by process {holder} ({lock}): wait for it to finish, "
                               "or stop it (a run stopped after an epoch resumes from its checkpoint)") from None
            lock.unlink(missing_ok=True)  # its process is gone
    with os.fdopen(handle, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def warmup_override(train_sentences: int, epochs: int) -> Dict[str, int]:
    """A transformer's linear warm-up sized from the data: 10 % of its optimiser steps at batch 32
    (the configs size it for the 1,000-sentence sample), as a `-o` override."""
    return {"trainer.learning_rate_scheduler.warmup_steps": max(1, -(-train_sentences // 32) * epochs // 10)}


def train(config: str, out: Path, overrides: Dict, log: Path, threads: int = 1) -> Dict:
    """One `allennlp train` in its own process with `threads` torch threads; returns what it
    measured. A finished run in `out` is reused; an unfinished one is trained again from scratch
    while this process holds `{out}.lock`, so that another benchmark reaching a run a live process
    is training stops with `RunInUse` instead of deleting it."""
    if (out / "metrics.json").exists() and (out / "epoch_times.json").exists():
        logger.info("reusing finished run %s", out)
    else:
        with claimed(out):
            _train(config, out, overrides, log, threads)
    metrics = json.loads((out / "metrics.json").read_text())
    timing = json.loads((out / "epoch_times.json").read_text())
    return {"metrics": metrics, "archive": str(out / "model.tar.gz"), **timing}


def _train(config: str, out: Path, overrides: Dict, log: Path, threads: int) -> None:
    """Train `out` from scratch (an unfinished run there is deleted: the caller holds its lock)."""
    shutil.rmtree(out, ignore_errors=True)
    path = config if config.endswith((".json", ".jsonnet")) else f"training_configs/{config}.jsonnet"
    command = [sys.executable, "-m", "allennlp", "train", path,
               "-s", str(out), "-o", json.dumps(overrides), "--include-package", "allennlp_subkd"]
    start = time.perf_counter()
    logged(command, log, threads)
    logger.info("%-28s %6.0f s  %s", config, time.perf_counter() - start, out.name)


def record(task: str, method: str, config: str, seed: int, cache: bool, result: Dict, spec: Dict,
           data: Dict, epochs: int, commit: str) -> Dict:
    seconds = result["train_seconds"]
    later = seconds[1:] or seconds
    return {
        "task": task, "method": method, "config": config, "seed": seed, "archive": result.get("archive"),
        "cache": cache, "epochs": epochs,
        "test": {m: result["metrics"].get(f"test_{m}") for m in spec["metrics"]},
        "dev": {m: result["metrics"].get(f"best_validation_{m}") for m in spec["metrics"]},
        "best_epoch": result["metrics"].get("best_epoch"),
        "epoch_seconds": seconds,
        "epoch_seconds_mean": statistics.mean(seconds),
        "first_epoch_seconds": seconds[0],
        "later_epoch_seconds_mean": statistics.mean(later),
        "peak_rss_mb": result["peak_rss_mb"],
        "train_sentences": data["train"]["sentences"],
        "test_sentences": data["test"]["sentences"],
        "git_commit": commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("task", choices=list(TASKS))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="student runs at a time")
    parser.add_argument("--teacher-threads", type=int, default=1)
    parser.add_argument("--only-teacher", action="store_true",
                        help="train (or reuse) the teacher and fill its disk cache, then stop")
    parser.add_argument("--fresh", action="store_true",
                        help="delete this task's earlier runs (teacher and disk cache included) first; "
                             "by default finished runs, the teacher and its cache are reused; refused while a live "
                             "process is training one of them")
    parser.add_argument("--no-throughput", action="store_true", help="skip the inference-speed measurement")
    parser.add_argument("--quick", action="store_true", help="tiny subsets, 2 epochs, 1 seed: a smoke run")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    spec = dict(TASKS[args.task])
    if args.quick:
        spec.update(QUICK)
        args.seeds = 1
    suffix = "_quick" if args.quick else ""
    runs = Path(args.runs_dir) / f"{args.task}{suffix}"
    if args.fresh:
        busy = live_locks(runs)
        if busy:
            parser.error(f"--fresh would delete runs live processes are training: {', '.join(map(str, busy))}")
        shutil.rmtree(runs, ignore_errors=True)
    data = write_subsets(args.task, Path(args.data_dir), runs / "data", spec["sizes"])
    data_overrides = {"train_data_path": data["train"]["path"],
                      "validation_data_path": data["dev"]["path"],
                      "test_data_path": data["test"]["path"]}
    commit = git_commit()
    epochs = spec["epochs"]
    seeds = [13 + 10 * i for i in range(args.seeds)]
    started = time.perf_counter()

    def seeded(seed: int) -> Dict:
        return {"random_seed": seed, "numpy_seed": seed, "pytorch_seed": seed}

    records: List[Dict] = []
    plain_config = spec["methods"][0][1]
    # 1. the teacher, alone (one thread too: spinning OpenMP threads make a busy machine slower)
    teacher_dir = runs / "teacher"
    teacher_overrides = {**data_overrides, **seeded(seeds[0]), "trainer.num_epochs": epochs["teacher"]}
    if "transformer" in spec["teacher"]:
        teacher_overrides.update(warmup_override(data["train"]["sentences"], epochs["teacher"]))
    teacher = train(spec["teacher"], teacher_dir, teacher_overrides, runs / "teacher.log",
                    threads=args.teacher_threads)
    archive = str(teacher_dir / "model.tar.gz")
    # 2. the teacher's outputs on the training set, once, into the disk cache every KD
    #    student reads (`allennlp fill-teacher-cache`; resumable: cached sentences are skipped)
    cache_dir = runs / "teacher_cache"
    fill_seconds = fill_cache(archive, data["train"]["path"], cache_dir, runs / "fill_cache.log",
                              args.teacher_threads)
    if args.only_teacher:
        return
    records.append(record(args.task, "teacher", spec["teacher"], seeds[0], False, teacher, spec, data,
                          epochs["teacher"], commit))
    # 3. every student, plain ones among the KD ones so that all share the same conditions
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        jobs = {}
        for seed in seeds:
            out = runs / f"{plain_config}_s{seed}"
            jobs[(spec["methods"][0][0], plain_config, seed, True)] = pool.submit(
                train, plain_config, out, {**data_overrides, **seeded(seed), "trainer.num_epochs": epochs["student"]},
                runs / f"{out.name}.log")
            for method, config in spec["methods"][1:]:
                out = runs / f"{config}_s{seed}"
                overrides = {**data_overrides, **seeded(seed), "trainer.num_epochs": epochs["student"],
                             "model.teacher.archive": archive, "model.teacher.cache": {"dir": str(cache_dir)},
                             **spec.get("method_overrides", {}).get(config, {})}
                jobs[(method, config, seed, True)] = pool.submit(train, config, out, overrides, runs / f"{out.name}.log")
        for method, config, extra in spec.get("once", []):
            out = runs / f"{config}{'_' + '_'.join(k.split('.')[-1] for k in extra) if extra else ''}_s{seeds[0]}"
            overrides = {**data_overrides, **seeded(seeds[0]), "trainer.num_epochs": epochs["student"], **extra}
            if "kd" in config:
                overrides.update({"model.teacher.archive": archive, "model.teacher.cache": {"dir": str(cache_dir)}})
            jobs[(method, config, seeds[0], True)] = pool.submit(train, config, out, overrides, runs / f"{out.name}.log")
        # 4. the teacher cache off (memory and disk), first seed, for the timing comparison
        for method, config in spec["methods"][1:]:
            if method not in spec.get("timing_methods", [method]):
                continue
            out = runs / f"{config}_nocache_s{seeds[0]}"
            overrides = {**data_overrides, **seeded(seeds[0]), "trainer.num_epochs": epochs["timing"],
                         "model.teacher.archive": archive, "model.teacher.cache": {"memory_mb": 0},
                         **spec.get("method_overrides", {}).get(config, {})}
            jobs[(method, config, seeds[0], False)] = pool.submit(train, config, out, overrides, runs / f"{out.name}.log")
        results = gather([(f"{config} seed {seed}{'' if cache else ' (no cache)'}", job)
                          for (_, config, seed, cache), job in jobs.items()])
        for ((method, config, seed, cache), _), result in zip(jobs.items(), results):
            n = epochs["student"] if cache else epochs["timing"]
            records.append(record(args.task, method, config, seed, cache, result, spec, data, n, commit))

    # 5. size and CPU inference throughput of the teacher and each method's first-seed student,
    #    on the test set, batch 32, one thread and all threads, nothing else running
    if not args.no_throughput:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import throughput

        firsts = [r for r in records if r["seed"] == seeds[0] and (r["cache"] or r["method"] == "teacher")]
        firsts = [r for r in firsts if r.get("archive")]
        archives = [r["archive"] for r in firsts]
        cached = runs / "throughput.json"
        measured = json.loads(cached.read_text()) if cached.exists() else []
        if sorted({m["archive"] for m in measured}) != sorted(set(archives)):
            measured = throughput.run(archives, data["test"]["path"], sorted({1, os.cpu_count() or 1}))
            cached.write_text(json.dumps(measured, indent=1))
        for r, archive in zip(firsts, archives):
            mine = [m for m in measured if m["archive"] == archive]
            r["parameters"] = mine[0]["parameters"]
            r["throughput"] = {str(m["threads"]): {k: m[k] for k in ("sentences_per_second", "tokens_per_second")}
                               for m in mine}

    plain = {r["seed"]: r for r in records if r["method"] == "no KD"}
    for r in records:
        if r["method"] != "teacher":
            base = plain[r["seed"]]
            r["ratio_to_plain"] = r["epoch_seconds_mean"] / base["epoch_seconds_mean"]
            r["later_ratio_to_plain"] = r["later_epoch_seconds_mean"] / base["later_epoch_seconds_mean"]
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    result_file = results_dir / f"{args.task}{suffix}.json"
    meta = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "wall_seconds": time.perf_counter() - started,
        "workers": args.workers, "threads_per_run": 1, "seeds": seeds, "epochs": epochs,
        "teacher_config": spec["teacher"], "cache_fill_seconds": fill_seconds,
        "data_full": all(size is None for split, size in spec["sizes"].items() if split == "train"),
        "cache_dir_mb": du_mb(cache_dir), "cache_entries": count_entries(cache_dir),
        "data": {k: {"sentences": v["sentences"], "tokens": v["tokens"]} for k, v in data.items()},
        "machine": machine(), "git_commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    result_file.write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    logger.info("wrote %s (%.0f min)", result_file, meta["wall_seconds"] / 60)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(result_file)], check=True)


def fill_cache(archive: str, data: str, cache_dir: Path, log: Path, threads: int) -> float:
    """`allennlp fill-teacher-cache` over the training file; returns its wall seconds (the
    first, filling run's, kept in `cache_dir/fill_seconds.json`; a rerun only checks)."""
    record_file = cache_dir / "fill_seconds.json"
    command = [sys.executable, "-m", "allennlp", "fill-teacher-cache", archive, data,
               "--cache-dir", str(cache_dir), "--include-package", "allennlp_subkd"]
    start = time.perf_counter()
    logged(command, log, threads, mode="a")
    seconds = time.perf_counter() - start
    if not record_file.exists():
        record_file.write_text(json.dumps({"seconds": seconds}))
    logger.info("teacher cache %s filled (%.0f s)", cache_dir, seconds)
    return json.loads(record_file.read_text())["seconds"]


def cache_entries(directory: Path) -> Dict:
    """The entries of a teacher cache directory, either store (`store.cache_entries`)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from allennlp_subkd.distillation.teacher.store import cache_entries as entries

    return entries(directory)


def count_entries(directory: Path) -> int:
    return len(cache_entries(directory))


def du_mb(directory: Path) -> Dict[str, float]:
    """Entry bytes and on-disk (block-rounded) size of a cache directory (either store: entry
    files, SQLite databases and their logs), in MB."""
    apparent = sum(len(data) for data in cache_entries(directory).values())
    files = [*directory.glob("*/*/*.skd"), *directory.glob("*.sqlite3*")]
    blocks = sum(f.stat().st_blocks * 512 for f in files)
    return {"entries_mb": apparent / 1e6, "on_disk_mb": blocks / 1e6}


def machine() -> Dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "python": sys.version.split()[0]}


if __name__ == "__main__":
    main_or_exit(main, "run.py")
