"""
Choose the KD objectives' defaults on **dev** data (`make bench-ner-sweep`).

Needs the teacher and its disk cache of `benchmarks/run.py ner` (run
`python benchmarks/run.py ner --only-teacher` first, or the whole benchmark). Trains, on the
full UNER-EWT training set with one seed, the plain student and each candidate setting of the
tagging objectives, every run selecting its best epoch on the dev set, and reports the best
dev F1 of each: never a test score (the test set is read only by `run.py`, with the chosen
defaults). Writes `benchmarks/results/ner_sweep.{json,md}`; finished runs are reused.

    python benchmarks/sweep.py [--workers 2] [--seed 13] [--epochs 10]
"""
import argparse
import concurrent.futures
import json
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, TASKS, git_commit, machine, train, write_subsets  # noqa: E402

logger = logging.getLogger("sweep")

#: (objective, config, distillation settings) — each a candidate default
CANDIDATES: List[Tuple[str, str, Dict]] = [
    ("no KD", "ner_baseline", {}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "mean", "alpha": 0.5}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "mean", "alpha": 0.9}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "mean", "alpha": 0.99}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "mean", "alpha": 0.999}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "mean", "alpha": 0.9, "centre": True}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "token_mean", "alpha": 0.9}),
    ("sub_structure (emission)", "ner_sub_kd", {"reduction": "sum", "alpha": 0.01}),
    ("sub_structure (bigram)", "ner_sub_kd_bigram", {"reduction": "mean", "alpha": 0.9}),
    ("sub_structure (bigram)", "ner_sub_kd_bigram", {"reduction": "mean", "alpha": 0.99}),
]


def run_name(config: str, settings: Dict) -> str:
    parts = [config] + [f"{k}-{v}" for k, v in sorted(settings.items())]
    return "_".join(parts).replace(".", "p")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--epochs", type=int, default=TASKS["ner"]["epochs"]["student"])
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    spec = TASKS["ner"]
    runs = Path(args.runs_dir) / "ner"
    archive, cache_dir = runs / "teacher" / "model.tar.gz", runs / "teacher_cache"
    if not archive.exists() or not cache_dir.is_dir():
        sys.exit("no teacher yet: run `python benchmarks/run.py ner --only-teacher` first")
    data = write_subsets("ner", Path(args.data_dir), runs / "data", spec["sizes"])
    base = {"train_data_path": data["train"]["path"], "validation_data_path": data["dev"]["path"],
            "test_data_path": None, "evaluate_on_test": False,
            "trainer.num_epochs": args.epochs,
            "random_seed": args.seed, "numpy_seed": args.seed, "pytorch_seed": args.seed}
    sweep_dir = runs / "sweep"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        jobs = {}
        for method, config, settings in CANDIDATES:
            overrides = dict(base)
            if settings:
                overrides.update({"model.teacher_archive": str(archive), "model.teacher_cache_dir": str(cache_dir)})
                overrides.update({f"model.distillation.{k}": v for k, v in settings.items()})
            out = sweep_dir / run_name(config, settings)
            jobs[(method, config, json.dumps(settings, sort_keys=True))] = pool.submit(
                train, config, out, overrides, sweep_dir / f"{out.name}.log")
        for (method, config, settings), job in jobs.items():
            result = job.result()
            records.append({
                "method": method, "config": config, "settings": json.loads(settings),
                "dev_f1": result["metrics"].get("best_validation_f1-measure-overall"),
                "best_epoch": result["metrics"].get("best_epoch"),
                "epoch_seconds_mean": sum(result["train_seconds"]) / len(result["train_seconds"]),
            })
    plain = next(r["dev_f1"] for r in records if r["method"] == "no KD")
    for r in records:
        r["dev_delta"] = r["dev_f1"] - plain
    meta = {"command": " ".join(["python", "benchmarks/sweep.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started, "seed": args.seed, "epochs": args.epochs,
            "data": {k: {"sentences": v["sentences"]} for k, v in data.items() if k != "test"},
            "machine": machine(), "git_commit": git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    (results / "ner_sweep.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    (results / "ner_sweep.md").write_text(render(meta, records))
    print((results / "ner_sweep.md").read_text())  # noqa: T201 (a report script)


def render(meta: Dict, records: List[Dict]) -> str:
    best = {}
    for r in records:
        if r["method"] != "no KD" and (r["method"] not in best or r["dev_f1"] > best[r["method"]]["dev_f1"]):
            best[r["method"]] = r
    lines = ["| objective | settings | dev F1 | Δ vs no KD | best epoch | s/epoch |", "|---|---|---|---|---|---|"]
    for r in records:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "—"
        mark = " **(best)**" if best.get(r["method"]) is r else ""
        delta = "" if r["method"] == "no KD" else f"{100 * r['dev_delta']:+.2f}"
        lines.append(f"| {r['method']} | {settings}{mark} | {100 * r['dev_f1']:.2f} | {delta} | "
                     f"{r['best_epoch']} | {r['epoch_seconds_mean']:.1f} |")
    notes = (f"Dev F1 in % (best epoch of {meta['epochs']}), one seed ({meta['seed']}), full UNER-EWT "
             f"training set ({meta['data']['train']['sentences']} sentences), dev "
             f"{meta['data']['dev']['sentences']} sentences; teacher: the benchmark's MiniLM-CRF, outputs "
             f"from its disk cache. Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, "
             f"{meta['date']}, {meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")
    return "### NER: choosing the KD defaults on dev\n\n" + "\n".join(lines) + "\n\n" + notes


if __name__ == "__main__":
    main()
