"""
How well each student imitates its teacher (`make bench-agreement`): the first-seed student of
every method of `benchmarks/results/{ner,dep}.json` evaluated on the test set with
`allennlp evaluate` and the teacher diagnostics on (`teacher: {diagnostics: true}`): agreement
with the teacher's decoded output, KL to its marginals, and the student's calibration error
against gold (`allennlp_subkd.distillation.tasks.diagnostics`). The teacher runs once per test
sentence (its disk cache of `run.py` holds the training sentences; the test sentences are added to it).
Writes `benchmarks/results/{task}_agreement.{json,md}`.

    python benchmarks/agreement.py ner|dep [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import AGREEMENT_METRICS as METRICS, agreement_markdown  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def evaluate(archive: str, test: str, teacher: str, cache: str, out: Path, threads: int) -> dict:
    if not out.exists():
        overrides = {"model.teacher": {"archive": teacher, "diagnostics": True, "cache": {"dir": cache}},
                     "model.distillation": None, "model.teacher_archive": None, "model.teacher_cache_dir": None}
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, "-m", "allennlp", "evaluate", archive, test, "-o", json.dumps(overrides),
                        "--output-file", str(out), "--include-package", "allennlp_subkd"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("task", choices=list(METRICS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs"))
    args = parser.parse_args()
    started = time.perf_counter()
    runs = Path(args.runs_dir) / args.task
    results = json.loads((ROOT / "benchmarks" / "results" / f"{args.task}.json").read_text())["runs"]
    test = str(runs / "data" / ("test.conll" if args.task == "ner" else "test.conllu"))
    teacher, cache = str(runs / "teacher" / "model.tar.gz"), str(runs / "teacher_cache")
    rows = []
    for record in results:
        if record["method"] == "teacher" or record["seed"] != 13 or not record["cache"]:
            continue
        archive = record.get("archive") or str(runs / f"{record['config']}_s13" / "model.tar.gz")
        if not Path(archive).exists() or any(r["archive"] == archive for r in rows):
            continue
        out = runs / f"agreement_{Path(archive).parent.name}.json"
        metrics = evaluate(archive, test, teacher, cache, out, args.threads)
        rows.append({"method": record["method"], "archive": archive, "metrics": metrics})
        print(record["method"], {k: round(metrics.get(k, float("nan")), 4) for _, k in METRICS[args.task]}, flush=True)
    meta = {"command": " ".join(["python", "benchmarks/agreement.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = ROOT / "benchmarks" / "results" / f"{args.task}_agreement"
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    out.with_suffix(".md").write_text(agreement_markdown(args.task, {"meta": meta, "rows": rows}))
    print("wrote", out.with_suffix(".md"))


if __name__ == "__main__":
    main()
