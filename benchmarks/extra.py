"""
Real-data rows beyond one teacher and one student kind (`make bench-extra`), on the full
corpora, reusing the teachers and disk caches of `benchmarks/run.py ner|dep`:

- `case1b`: dependency parsing as sequence labelling (`distilled_dependency_tagger`, the
  relative-POS encoding) with no KD and with structural KD from the MiniLM biaffine parser of
  `run.py dep` (Wang et al. case 1b, through the `dependency_labels` adapter), next to the
  biaffine students of `results/dep.json`. Writes `results/dep_tagger.{json,md}`.
- `ensemble`: structural KD of the NER student from an ensemble of two teachers — the MiniLM
  CRF teacher of `run.py ner` and a BiLSTM-CRF teacher (`ner_teacher`) trained here on the
  full training set — against each teacher alone. Writes `results/ner_ensemble.{json,md}`.

Every run is an `allennlp train` in its own process, one thread, `--workers` at a time
(finished runs are reused: rerunning finishes what an interrupted invocation could not).

    python benchmarks/extra.py case1b|ensemble [--seeds 3] [--workers 2]
"""
import argparse
import concurrent.futures
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import mean_std  # noqa: E402
from run import ROOT, fill_cache, gather, git_commit, machine, main_or_exit, record, train, write_subsets  # noqa: E402

logger = logging.getLogger("bench")


def run_all(jobs: Dict, workers: int) -> Dict:
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(train, *job) for key, job in jobs.items()}
        results = gather([(str(job[1]), futures[key]) for key, job in jobs.items()])
    return dict(zip(futures, results))


def teacher_and_data(task: str, runs: Path, data_dir: str) -> Tuple[Path, Dict, Dict]:
    """The task's teacher archive from `run.py` (which must have trained it), the full data
    splits and the data-path overrides."""
    archive = runs / "teacher" / "model.tar.gz"
    if not archive.exists():
        raise SystemExit(f"{archive} is missing: run `python benchmarks/run.py {task} --only-teacher` first")
    data = write_subsets(task, Path(data_dir), runs / "data", {"train": None, "dev": None, "test": None})
    paths = {"train_data_path": data["train"]["path"], "validation_data_path": data["dev"]["path"],
             "test_data_path": data["test"]["path"]}
    return archive, data, paths


def case1b(args, runs: Path, seeds: List[int]) -> Dict:
    dep = runs / "dep"
    archive, data, paths = teacher_and_data("dep", dep, args.data_dir)
    cache = dep / "teacher_cache"
    fill_cache(str(archive), data["train"]["path"], cache, dep / "fill_cache.log", 1)
    spec = {"metrics": ["UAS", "LAS"]}
    jobs = {}
    for seed in seeds:
        seeded = {**paths, "random_seed": seed, "numpy_seed": seed, "pytorch_seed": seed,
                  "trainer.num_epochs": args.epochs}
        jobs[("tagger, no KD", "dep_tagger", seed)] = (
            "dep_tagger", dep / f"dep_tagger_s{seed}", seeded, dep / f"dep_tagger_s{seed}.log")
        jobs[("tagger, structural (case 1b)", "dep_tagger_struct_kd", seed)] = (
            "dep_tagger_struct_kd", dep / f"dep_tagger_struct_kd_s{seed}",
            {**seeded, "model.teacher.archive": str(archive), "model.teacher.cache": {"dir": str(cache)}},
            dep / f"dep_tagger_struct_kd_s{seed}.log")
    results = run_all(jobs, args.workers)
    commit = git_commit()
    records = [record("dep_tagger", m, c, s, True, r, spec, data, args.epochs, commit)
               for (m, c, s), r in results.items()]
    biaffine = json.loads((ROOT / "benchmarks" / "results" / "dep.json").read_text())["runs"]
    compare = [r for r in biaffine if r["method"] == "teacher" or (
        r["cache"] and r["method"] in ("no KD", "structural") and r["config"] in ("dep_baseline", "dep_struct_kd"))]
    return {"records": records, "compare": compare, "data": data}


def ensemble(args, runs: Path, seeds: List[int]) -> Dict:
    ner = runs / "ner"
    transformer, data, paths = teacher_and_data("ner", ner, args.data_dir)
    spec = {"metrics": ["f1-measure-overall"]}
    bilstm_dir = ner / "teacher_bilstm_crf"
    bilstm = train("ner_teacher", bilstm_dir, {**paths, "trainer.num_epochs": args.teacher_epochs,
                                               "random_seed": 13, "numpy_seed": 13, "pytorch_seed": 13},
                   ner / "teacher_bilstm_crf.log", threads=2)
    cache = ner / "teacher_cache"  # one directory: entries are keyed on each archive's digest
    for archive in (transformer, bilstm_dir / "model.tar.gz"):
        fill_cache(str(archive), data["train"]["path"], cache, ner / "fill_cache.log", 2)
    teachers = {
        "structural, BiLSTM-CRF teacher alone": [str(bilstm_dir / "model.tar.gz")],
        "structural, ensemble (MiniLM + BiLSTM-CRF, equal weights)": [str(transformer), str(bilstm_dir / "model.tar.gz")],
    }
    jobs = {}
    for seed in seeds:
        seeded = {**paths, "random_seed": seed, "numpy_seed": seed, "pytorch_seed": seed,
                  "trainer.num_epochs": args.epochs}
        for method, archives in teachers.items():
            name = "bilstm" if len(archives) == 1 else "ensemble"
            out = ner / f"ner_struct_kd_{name}_s{seed}"
            jobs[(method, "ner_struct_kd", seed)] = (
                "ner_struct_kd", out,
                {**seeded, "model.teacher": {"archive": archives, "cache": {"dir": str(cache)}}},
                ner / f"{out.name}.log")
    results = run_all(jobs, args.workers)
    commit = git_commit()
    records = [record("ner_ensemble", m, c, s, True, r, spec, data, args.epochs, commit)
               for (m, c, s), r in results.items()]
    records.append(record("ner_ensemble", "BiLSTM-CRF teacher", "ner_teacher", 13, False, bilstm, spec, data,
                          args.teacher_epochs, commit))
    single = json.loads((ROOT / "benchmarks" / "results" / "ner.json").read_text())["runs"]
    compare = [r for r in single if r["method"] == "teacher" or (r["cache"] and r["method"] in ("no KD", "structural"))]
    return {"records": records, "compare": compare, "data": data}


def table(suite: str, result: Dict, metric: str, meta: Dict) -> str:
    rows = {}
    for r in result["compare"]:
        label = {"teacher": "MiniLM teacher" if suite == "ensemble" else "MiniLM biaffine teacher",
                 "no KD": "biaffine student, no KD" if suite == "case1b" else "no KD",
                 "structural": "biaffine student, structural" if suite == "case1b"
                 else "structural, MiniLM teacher alone"}[r["method"]]
        rows.setdefault(label, []).append(r)
    for r in result["records"]:
        rows.setdefault(r["method"], []).append(r)
    # the teachers first, then the plain student, then the KD students
    rows = dict(sorted(rows.items(), key=lambda item: (not item[0].endswith("teacher"), "no KD" not in item[0])))
    metrics = [metric] if suite == "ensemble" else ["UAS", "LAS"]
    shown = {"f1-measure-overall": "F1"}
    head = "| model | " + " | ".join(f"test {shown.get(m, m)}" for m in metrics) + " | " + \
        " | ".join(f"dev {shown.get(m, m)}" for m in metrics) + " | seeds | s/epoch |"
    lines = [head, "|" + "---|" * (len(metrics) * 2 + 3)]
    for label, runs in rows.items():
        tests = [mean_std([r["test"][m] for r in runs]) for m in metrics]
        devs = [mean_std([r["dev"][m] for r in runs]) for m in metrics]
        seconds = statistics.mean(r["epoch_seconds_mean"] for r in runs)
        lines.append(f"| {label} | " + " | ".join(tests) + " | " + " | ".join(devs) +
                     f" | {len(runs)} | {seconds:.1f} |")
    lines.append("")
    lines.append(f"Full data ({result['data']['train']['sentences']} training sentences); "
                 f"students {meta['epochs']} epochs, one thread each, {meta['workers']} at a time; "
                 f"mean ± std over seeds. Machine: {meta['machine'].get('cpu', '?')}, commit "
                 f"{meta['git_commit']}, {meta['date']}, {meta['wall_seconds'] / 60:.0f} min.")
    lines.append("")
    lines.append(f"Command: `{meta['command']}`")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("suite", choices=["case1b", "ensemble"])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="student epochs (dep 8, ner 10)")
    parser.add_argument("--teacher-epochs", type=int, default=8, help="the BiLSTM-CRF teacher's epochs")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args.epochs = args.epochs or (8 if args.suite == "case1b" else 10)
    started = time.perf_counter()
    seeds = [13 + 10 * i for i in range(args.seeds)]
    result = (case1b if args.suite == "case1b" else ensemble)(args, Path(args.runs_dir), seeds)
    meta = {"command": " ".join(["python", "benchmarks/extra.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started, "workers": args.workers, "seeds": seeds,
            "epochs": args.epochs, "machine": machine(), "git_commit": git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    name = "dep_tagger" if args.suite == "case1b" else "ner_ensemble"
    out = ROOT / "benchmarks" / "results"
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, **result}, indent=1))
    metric = "f1-measure-overall"
    (out / f"{name}.md").write_text(table(args.suite, result, metric, meta))
    logger.info("wrote %s (%.0f min)", out / f"{name}.md", meta["wall_seconds"] / 60)


if __name__ == "__main__":
    main_or_exit(main, "extra.py")
