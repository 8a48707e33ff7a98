"""Wang et al.'s scenarios side by side (`make bench-scenarios` ends with it): one row per teacher
structure ⇒ student and objective, gathered from the `transfer.py` suites of a regime.

    python benchmarks/scenarios.py [--regime full]

Reads `benchmarks/results/transfer_{regime}_{task}.json` of the tasks `ner` (CRF teacher, case 1a),
`ner_softmax_student` (the same teacher, a softmax student: case 2a), `ner_softmax_teacher` (a
softmax teacher, the CRF student: case 3), `ner_span` (span teacher, scenario 4), `dep` (first-order
parser teacher) and `dep_second_order` (second-order teacher, case 2b); a suite not yet run is listed as missing with the command that
runs it. Writes `benchmarks/results/scenarios_{regime}.json` (the numbers, nothing recomputed but
means over seeds) and renders it (`report.py`: `scenarios_{regime}.md` and the `wang-scenarios-*`
blocks of the docs).
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402
from run import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: (case, transfer.py task, objective as the suite names it, teacher, student, the teacher's
#: marginals over the student's sub-structures)
SCENARIOS = (
    ("1a", "ner", "structural", "linear-chain CRF", "CRF tagger", "exact"),
    ("2a", "ner_softmax_student", "posterior, softmax student", "linear-chain CRF", "softmax tagger", "exact"),
    ("3", "ner_softmax_teacher", "structural, softmax teacher", "softmax tagger", "CRF tagger", "exact"),
    ("4", "ner_span", "structural, CRF student", "span (biaffine)", "CRF tagger", "exact"),
    ("4", "ner_span", "posterior, softmax student", "span (biaffine)", "softmax tagger", "exact"),
    ("1", "dep", "structural", "first-order biaffine", "biaffine parser", "exact"),
    ("2b", "dep_second_order", "structural", "second-order (siblings)", "biaffine parser", "approximate (MFVI)"),
    ("2b", "dep_second_order", "local", "second-order (siblings)", "biaffine parser", "approximate (MFVI)"),
    ("2b", "dep_second_order", "structural, dependency tagger (case 2b)", "second-order (siblings)",
     "dependency tagger", "approximate (MFVI)"),
)


def _mean(rows: Dict[str, Dict[str, List[float]]], model: str, split: str) -> Optional[float]:
    values = [v for v in rows.get(model, {}).get(split, []) if v is not None]
    return statistics.mean(values) if values else None


def gather(results: Path, regime: str) -> Dict:
    """The rows of every scenario whose suite has a results file, and the missing ones."""
    rows, missing, sources = [], [], {}
    for case, task, objective, teacher, student, marginals in SCENARIOS:
        path = results / f"transfer_{regime}_{task}.json"
        if not path.exists():
            missing.append({"case": case, "task": task, "objective": objective, "teacher": teacher, "student": student,
                            "command": f"python benchmarks/transfer.py {task} --regime {regime} --reuse"})
            continue
        suite = json.loads(path.read_text())
        meta, runs = suite["meta"], dict(report.transfer_rows(suite))
        if objective not in runs:
            raise ValueError(f"{path.name} has no runs of the objective {objective!r}")
        sources[task] = path.name
        plain = report.plain_model(objective, meta)
        rows.append({
            "case": case, "task": task, "objective": objective, "teacher": teacher, "student": student,
            "marginals": marginals, "metric": meta["metric"], "ood_name": meta["ood_name"],
            "teacher_config": meta["teacher_config"], "seeds": meta["seeds"],
            "teacher_test": suite["teacher"]["test"], "teacher_ood": suite["teacher"]["ood"],
            "plain": plain, "plain_test": _mean(runs, plain, "test"), "plain_ood": _mean(runs, plain, "ood"),
            "kd_test": _mean(runs, objective, "test"), "kd_ood": _mean(runs, objective, "ood"),
            "transfer_test": _mean(runs, f"{objective} + transfer set", "test"),
            "transfer_ood": _mean(runs, f"{objective} + transfer set", "ood"),
        })
    meta = {"command": " ".join(["python", "benchmarks/scenarios.py", *sys.argv[1:]]), "regime": regime,
            "sources": sources, "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    return {"meta": meta, "rows": rows, "missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--regime", choices=["low", "full"], default="full")
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    results = Path(args.results_dir)
    result = gather(results, args.regime)
    out = results / f"scenarios_{args.regime}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    report.render(out)


if __name__ == "__main__":
    main()
