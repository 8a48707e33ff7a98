"""
Choose the KD objectives' defaults on **dev** data (`make bench-ner-sweep`, `make bench-dep-sweep`).

NER needs the teacher and its disk cache of `benchmarks/run.py ner` (run
`python benchmarks/run.py ner --only-teacher` first, or the whole benchmark) and trains on the
full UNER-EWT training set. Parsing (`dep`) trains on the shipped sample
(`fixtures/data/ud_ewt`, 1,000 training sentences) with the teacher given by `--teacher` (by
default the demo's BiLSTM parser, `demo_out/dep/teacher/model.tar.gz`, made by `make demo`):
cheap enough to compare many settings. Each task trains, with one seed, the plain student and
each candidate setting of its objectives, every run selecting its best epoch on the dev set,
and reports the best dev score of each: never a test score (the test set is read only by
`run.py`, with the chosen defaults). Writes `benchmarks/results/{task}_sweep.{json,md}`;
finished runs are reused.

    python benchmarks/sweep.py [ner|dep] [--workers 2] [--seed 13] [--epochs 10] [--teacher ARCHIVE]
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
from run import ROOT, TASKS, gather, git_commit, machine, main_or_exit, train, write_subsets  # noqa: E402

logger = logging.getLogger("sweep")

#: (objective, config, distillation settings) — each a candidate default
CANDIDATES: Dict[str, List[Tuple[str, str, Dict]]] = {
    "ner": [
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
    ],
    "dep": [
        ("no KD", "dep_baseline", {}),
        # what "sub-structure KD for parsers" should match: every arc's raw score (the old
        # definition) or normalised scores, at every head or the teacher's best ones, with the
        # relation scores at the teacher's best head (label_pairs "teacher_heads", relation_heads 1)
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "raw", "arc_pairs": "all", "reduction": "sum", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "raw", "arc_pairs": "all", "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "centred", "arc_pairs": "all", "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "all", "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "raw", "arc_pairs": "teacher_heads", "arc_heads": 2, "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "centred", "arc_pairs": "teacher_heads", "arc_heads": 2, "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 2, "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 2, "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 4, "reduction": "mean", "alpha": 0.9}),
        # second round (after the first showed every setting above far below no KD at α 0.9):
        # smaller weights, and relation log-probabilities instead of raw relation scores
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "reduction": "mean", "alpha": 0.1}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_scores": "log_softmax", "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_scores": "log_softmax", "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_scores": "log_softmax", "reduction": "mean", "alpha": 0.1}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "all", "label_scores": "log_softmax", "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "centred", "arc_pairs": "all", "label_scores": "log_softmax", "reduction": "mean", "alpha": 0.1}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "raw", "arc_pairs": "all", "reduction": "sum", "alpha": 0.001}),
        # third round: is the relation term the harm? arcs only
        ("sub_structure", "dep_sub_kd", {"arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_pairs": "none", "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"arc_scores": "raw", "arc_pairs": "all", "label_pairs": "none", "reduction": "mean", "alpha": 0.5}),
        ("sub_structure", "dep_sub_kd", {"arc_scores": "centred", "arc_pairs": "all", "label_pairs": "none", "reduction": "mean", "alpha": 0.5}),
        # fourth round: arcs only (the relation term was the harm), weight and heads
        ("sub_structure", "dep_sub_kd", {"arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_pairs": "none", "reduction": "mean", "alpha": 0.9}),
        ("sub_structure", "dep_sub_kd", {"arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_pairs": "none", "reduction": "mean", "alpha": 0.7}),
        ("sub_structure", "dep_sub_kd", {"arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "label_pairs": "none", "reduction": "mean", "alpha": 0.3}),
        ("sub_structure", "dep_sub_kd", {"arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 2, "label_pairs": "none", "reduction": "mean", "alpha": 0.5}),
        # the student's scores without dropout noise (a second, dropout-free forward pass)
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "log_softmax", "arc_pairs": "teacher_heads", "arc_heads": 1, "reduction": "mean", "alpha": 0.5, "dropout_free_student": True}),
        ("sub_structure", "dep_sub_kd", {"label_pairs": "teacher_heads", "arc_scores": "raw", "arc_pairs": "all", "reduction": "mean", "alpha": 0.5, "dropout_free_student": True}),
        # the sparse relation terms of the probabilistic objectives: how many heads
        ("structural", "dep_struct_kd", {"relation_heads": None}),
        ("structural", "dep_struct_kd", {"relation_heads": 1}),
        ("structural", "dep_struct_kd", {"relation_heads": 2}),
        ("local", "dep_local_kd", {"relation_heads": None}),
        ("local", "dep_local_kd", {"relation_heads": 2}),
    ],
}
METRIC = {"ner": "f1-measure-overall", "dep": "LAS"}


def run_name(config: str, settings: Dict) -> str:
    parts = [config] + [f"{k}-{v}" for k, v in sorted(settings.items())]
    return "_".join(parts).replace(".", "p")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("task", nargs="?", default="ner", choices=list(CANDIDATES))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: the benchmark's student epochs (ner), 8 (dep, the sample)")
    parser.add_argument("--teacher", default=None,
                        help="dep: the teacher archive (default: make demo's demo_out/dep/teacher/model.tar.gz)")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    task = args.task
    runs = Path(args.runs_dir) / task
    if task == "ner":
        archive, cache_dir = runs / "teacher" / "model.tar.gz", runs / "teacher_cache"
        if not archive.exists() or not cache_dir.is_dir():
            sys.exit("no teacher yet: run `python benchmarks/run.py ner --only-teacher` first")
        data = write_subsets("ner", Path(args.data_dir), runs / "data", TASKS["ner"]["sizes"])
        epochs = args.epochs or TASKS["ner"]["epochs"]["student"]
        data_note = "full UNER-EWT training set"
        teacher_note = "the benchmark's MiniLM-CRF, outputs from its disk cache"
    else:
        archive = Path(args.teacher or ROOT / "demo_out" / "dep" / "teacher" / "model.tar.gz").resolve()
        if not archive.exists():
            sys.exit(f"no teacher archive {archive}: run `make demo` first or pass --teacher")
        cache_dir = runs / "sweep_teacher_cache"
        sample = ROOT / "fixtures" / "data" / "ud_ewt"
        data = {split: {"path": str(sample / f"{split}.conllu"),
                        "sentences": (sample / f"{split}.conllu").read_text().count("\n\n")}
                for split in ("train", "dev")}
        epochs = args.epochs or 8
        data_note = "the shipped UD-EWT sample"
        teacher_note = f"`{archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive}`"
    base = {"train_data_path": data["train"]["path"], "validation_data_path": data["dev"]["path"],
            "test_data_path": None, "evaluate_on_test": False,
            "trainer.num_epochs": epochs,
            "random_seed": args.seed, "numpy_seed": args.seed, "pytorch_seed": args.seed}
    if task == "dep":
        # the config's test file stays for the vocabulary only (the teacher's relation set was
        # built from train, dev and test); it is never evaluated
        del base["test_data_path"]
    sweep_dir = runs / "sweep"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        jobs = {}
        for method, config, settings in CANDIDATES[task]:
            overrides = dict(base)
            if method != "no KD":
                overrides.update({"model.teacher.archive": str(archive), "model.teacher.cache": {"dir": str(cache_dir)}})
                overrides.update({f"model.distillation.{k}": v for k, v in settings.items()})
            out = sweep_dir / run_name(config, settings)
            jobs[(method, config, json.dumps(settings, sort_keys=True))] = pool.submit(
                train, config, out, overrides, sweep_dir / f"{out.name}.log")
        results = gather([(f"{config} {settings}", job) for (_, config, settings), job in jobs.items()])
        for (method, config, settings), result in zip(jobs, results):
            records.append({
                "method": method, "config": config, "settings": json.loads(settings),
                "dev_f1": result["metrics"].get(f"best_validation_{METRIC[task]}"),
                "best_epoch": result["metrics"].get("best_epoch"),
                "epoch_seconds_mean": sum(result["train_seconds"]) / len(result["train_seconds"]),
            })
    plain = next(r["dev_f1"] for r in records if r["method"] == "no KD")
    for r in records:
        r["dev_delta"] = r["dev_f1"] - plain
    meta = {"command": " ".join(["python", "benchmarks/sweep.py", *sys.argv[1:]]),
            "task": task, "metric": METRIC[task], "data_note": data_note, "teacher_note": teacher_note,
            "wall_seconds": time.perf_counter() - started, "seed": args.seed, "epochs": epochs,
            "data": {k: {"sentences": v["sentences"]} for k, v in data.items() if k != "test"},
            "machine": machine(), "git_commit": git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{task}_sweep.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    (results / f"{task}_sweep.md").write_text(render(meta, records))
    print((results / f"{task}_sweep.md").read_text())  # noqa: T201 (a report script)


def render(meta: Dict, records: List[Dict]) -> str:
    task = meta.get("task", "ner")
    metric = "dev F1" if task == "ner" else "dev LAS"
    best = {}
    for r in records:
        if r["method"] != "no KD" and (r["method"] not in best or r["dev_f1"] > best[r["method"]]["dev_f1"]):
            best[r["method"]] = r
    lines = [f"| objective | settings | {metric} | Δ vs no KD | best epoch | s/epoch |", "|---|---|---|---|---|---|"]
    for r in records:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "—"
        mark = " **(best)**" if best.get(r["method"]) is r else ""
        delta = "" if r["method"] == "no KD" else f"{100 * r['dev_delta']:+.2f}"
        lines.append(f"| {r['method']} | {settings}{mark} | {100 * r['dev_f1']:.2f} | {delta} | "
                     f"{r['best_epoch']} | {r['epoch_seconds_mean']:.1f} |")
    notes = (f"{metric} in % (best epoch of {meta['epochs']}), one seed ({meta['seed']}), "
             f"{meta.get('data_note', 'full UNER-EWT training set')} "
             f"({meta['data']['train']['sentences']} training sentences), dev "
             f"{meta['data']['dev']['sentences']} sentences; teacher: "
             f"{meta.get('teacher_note', 'the benchmark MiniLM-CRF, outputs from its disk cache')}. "
             f"Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, "
             f"{meta['date']}, {meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")
    if task == "dep":
        notes += ("\nThe candidates were run in rounds (each round's settings chosen after reading the "
                  "previous ones, the comments in `CANDIDATES` say why); `s/epoch` is each run's own, "
                  "taken beside other jobs on the machine and partly before the sparse relation terms "
                  "were made fast: not a timing comparison (that is `dep.md`).\n")
    title = "NER" if task == "ner" else "Parsing"
    return f"### {title}: choosing the KD defaults on dev\n\n" + "\n".join(lines) + "\n\n" + notes


if __name__ == "__main__":
    main_or_exit(main, "sweep.py")
