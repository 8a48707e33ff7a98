"""Which student to ship for which CPU budget: the accuracy-vs-speed frontier (`make bench-frontier`).

    python benchmarks/frontier.py {ner,dep} [--regime full] [--objective structural] [--seeds 3]

Students, all of the same task and data: `tiny` (random word embeddings), `static_subword` (the
teacher's frozen subword table), and `minilm_l1`, `minilm_l2`, `minilm_l3` (the first k of
all-MiniLM-L6-v2's layers fine-tuned: the `minilm_l3` preset's configs with `layers: k`). Each is
trained with no KD and with `--objective` (choose it on dev from `transfer.py`'s suites) plus the
transfer set, for every seed. The teacher, its store and the data are `transfer.py`'s for the
regime (the same folder: a teacher trained there is reused, `--teacher` gives one); the tiny and
static-subword runs are `transfer.py`'s own (not trained again when its suites ran), the
transformer students' go to `frontier/{student}/s{seed}/`. Finished runs are always kept, and a
run stopped after an epoch (a session's end) resumes from its checkpoint (`transfer.student`).

Then, with no student training left, each model alone and one after the other: CPU inference
throughput (`throughput.py`: a fresh process per model and thread count, 1 and 2 threads, batch
32, the median of 3 passes over the in-domain test file) of the teacher and of each student's
first-seed KD archive. Run it with nothing else on the machine: the figures are published.

`--merge` keeps the published rows of students not run now (only with a teacher of the same
scores; each row stays a multiple of the teacher timed with it); `--tag minilm` writes a table of
its own, `frontier_{regime}_{task}_minilm.json` (another teacher, another machine).

`--no-kd-only` trains the no-KD runs alone: they need no teacher, so none is trained, filled or
timed (hours on a CPU for a transformer teacher), and writes their scores to
`frontier_{regime}_{task}[_{tag}]_no_kd.json`, beside the scores of the published frontier's teacher
(another invocation, named in the table) for reference. A later invocation without the flag
reuses the finished runs.

One JSON, `benchmarks/results/frontier_{regime}_{task}[_{tag}].json`; `benchmarks/report.py` renders the
table (parameters, sentences/s and words/s at 1 and 2 threads and as multiples of the teacher's,
test and out-of-domain scores with and without KD, the fraction of the teacher kept, the share of
the student's gap KD closes) and the plot of score against words/s with the Pareto frontier.
"""
import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # noqa: E402
import transfer  # noqa: E402
from run import git_commit, machine, warmup_override  # noqa: E402

logger = logging.getLogger("frontier")
ROOT = Path(__file__).resolve().parent.parent

#: (label, preset of common.libsonnet, transformer layers kept or None, epochs or None for the
#: regime's / `--student-epochs` / `--transformer-epochs`)
STUDENTS: Tuple[Tuple[str, str, Optional[int], Optional[int]], ...] = (
    ("tiny", "tiny", None, None),
    ("static_subword", "static_subword", None, None),
    # the static-subword parser's dev LAS still rose after 10 epochs (seed 13, structural KD +
    # transfer set: 86.58 at epoch 10, 87.23 at epoch 15): the same student trained 20 epochs
    ("static_subword_e20", "static_subword", None, 20),
    ("minilm_l1", "minilm_l3", 1, None),
    ("minilm_l2", "minilm_l3", 2, None),
    ("minilm_l3", "minilm_l3", 3, None),
)


#: `--tag`s: results files of their own beside `frontier_{regime}_{task}.json`
TAGS = ("minilm",)
#: what to do when some student runs failed (the others are finished and kept)
RETRY = ("rerun the same command: it keeps every finished run and resumes the failed ones from their last "
         "checkpoint; `--students` without the failed ones measures the rest")


def result_name(regime: str, task: str, tag: Optional[str] = None, no_kd: bool = False) -> str:
    """`frontier_{regime}_{task}[_{tag}][_no_kd].json` (`_no_kd`: `--no-kd-only`'s scores)."""
    return f"frontier_{regime}_{task}{'_' + tag if tag else ''}{'_no_kd' if no_kd else ''}.json"


def reference_teacher(published: Path) -> Optional[Dict]:
    """The scores of the teacher of a published frontier result (`--no-kd-only`'s reference: its
    students are compared to a teacher trained and scored by another invocation), or None."""
    if not published.exists():
        return None
    result = json.loads(published.read_text())
    meta = result["meta"]
    return {"file": published.name, **{split: result["teacher"].get(split) for split in ("dev", "test", "ood")},
            "git_commit": meta["git_commit"], "date": meta["date"], "cpu": meta["machine"]["cpu"]}


def pareto(points: Sequence[Tuple[float, float]]) -> List[int]:
    """The indices of the points no other point dominates (at least as fast and as accurate, and
    better in one), fastest first. `points`: (speed, score)."""
    keep = []
    for i, (speed, score) in enumerate(points):
        dominated = any(s >= speed and a >= score and (s > speed or a > score)
                        for j, (s, a) in enumerate(points) if j != i)
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: -points[i][0])


def run_folders(out: Path, label: str, preset: str, layers: Optional[int], seed: int, kd_config: str,
                epochs: Optional[int] = None) -> Tuple[Path, Path]:
    """`(no KD run, KD + transfer set run)` of a student and seed. The tiny and static-subword
    students' runs are `transfer.py`'s own (same configs, overrides and folders: a suite already
    run is not trained again); the transformer students' and those with their own `epochs` go to
    `frontier/{label}/`."""
    if layers is None and epochs is None:
        runs = out if preset == "tiny" else out / preset
        return runs / f"s{seed}" / "no_kd", runs / f"s{seed}" / f"{kd_config}_transfer"
    folder = out / "frontier" / label / f"s{seed}"
    return folder / "no_kd", folder / "kd_transfer"


def student_overrides(layers: Optional[int], train_sentences: int, epochs: int) -> Dict:
    """A transformer student's depth, and its warm-up sized from the data (the presets' is the
    1,000-sentence sample's)."""
    if layers is None:
        return {}
    return {"model.text_field_embedder.token_embedders.transformer.layers": layers,
            **warmup_override(train_sentences, epochs)}


def student_seeds(seeds: List[int], layers: Optional[int], transformer_seeds: Optional[int]) -> List[int]:
    """The seeds a student is trained with: all of them, but only the first `transformer_seeds`
    for a transformer student (`layers` set) when that is given."""
    return seeds[:transformer_seeds] if layers and transformer_seeds else seeds


def carry_over(published: Dict, teacher: Dict, running: Sequence[str]) -> List[Dict]:
    """The students of an earlier `frontier.py` result (`published`) that this invocation does not
    run (`running`: labels), kept as they are with, once, where and beside which teacher speed they
    were measured (`measured`: commit, date, command, the teacher's throughput of that invocation),
    so that their × teacher stays a ratio of one invocation. `teacher`: this invocation's teacher
    record; the earlier one must have the same scores (the same teacher, retrained or not), or the
    rows would not be comparable: a clear error then."""
    old = published["teacher"]
    differs = [split for split in ("dev", "test", "ood") if old.get(split) != teacher.get(split)]
    if differs:
        raise SystemExit(f"--merge: the published result's teacher is not this one ({', '.join(differs)}: "
                         + ", ".join(f"{old.get(s)} vs {teacher.get(s)}" for s in differs)
                         + "); re-run its students with this teacher instead")
    kept = []
    for student in published["students"]:
        if student["label"] in running:
            continue
        measured = student.get("measured") or {
            "git_commit": published["meta"]["git_commit"], "date": published["meta"]["date"],
            "command": published["meta"]["command"], "teacher_throughput": old.get("throughput", [])}
        kept.append({**student, "measured": measured})
    return kept


def student_jobs(args, spec: Dict, data: Dict, out: Path, chosen, seeds: List[int],
                 kd: Optional[Dict]) -> List[Tuple[Dict, str, Path, Dict]]:
    """`transfer.run_all`'s jobs: per chosen student and seed, its no-KD run and, unless `kd` (the
    teacher's overrides) is None, its KD + transfer set run."""
    regime = transfer.REGIMES[args.regime]
    names = {name: config for name, config, _ in spec["objectives"]}
    base = {"train_data_path": data["train"], "validation_data_path": data["dev"], "test_data_path": data["test"]}
    jobs = []
    for label, preset, layers, own_epochs in chosen:
        epochs = own_epochs or (args.transformer_epochs if layers else (args.student_epochs or regime["student_epochs"]))
        extra = {**base, "trainer.num_epochs": epochs,
                 **student_overrides(layers, data["train_sentences"], epochs)}
        for seed in student_seeds(seeds, layers, args.transformer_seeds):
            config = transfer.preset_config(names[args.objective], preset)
            plain_run, kd_run = run_folders(out, label, preset, layers, seed, config, own_epochs)
            jobs.append(({"student": label, "kd": False, "seed": seed},
                         transfer.preset_config(spec["plain"], preset), plain_run,
                         {**extra, **transfer.seeded(seed)}))
            if kd is not None:
                jobs.append(({"student": label, "kd": True, "seed": seed}, config, kd_run,
                             {**extra, **transfer.seeded(seed), **kd}))
    return jobs


def common_meta(args, data: Dict, seeds: List[int], started: float) -> Dict:
    """The meta fields of both results (`--no-kd-only`'s and the full frontier's)."""
    spec, regime = transfer.TASKS[args.task], transfer.REGIMES[args.regime]
    return {
        "command": " ".join(["python", "benchmarks/frontier.py", *sys.argv[1:]]),
        "task": args.task, "regime": args.regime, "metric": spec["metric"][0],
        "ood_name": data["ood"]["name"], "train_sentences": data["train_sentences"], "seeds": seeds,
        "student_epochs": args.student_epochs or regime["student_epochs"],
        "transformer_epochs": args.transformer_epochs, "machine": machine(), "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_seconds": time.perf_counter() - started,
    }


def write_result(path: Path, result: Dict) -> None:
    """Write one result's JSON and render its table (and plot) with `report.py`."""
    import subprocess

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    logger.info("wrote %s", path)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(path)], check=True)


def no_kd_only(args, spec: Dict, data: Dict, out: Path, chosen, seeds: List[int], published: Path,
               started: float) -> None:
    """`--no-kd-only`: the chosen students' no-KD runs (no teacher), their scores written to
    `frontier_{regime}_{task}[_{tag}]_no_kd.json` with the published teacher's for reference."""
    records = transfer.run_all(student_jobs(args, spec, data, out, chosen, seeds, None), args.workers, data,
                               spec["metric"][1], RETRY)
    result = {
        "meta": common_meta(args, data, seeds, started),
        "reference_teacher": reference_teacher(published),
        "students": [{"label": label, "preset": preset, "layers": layers, "epochs": own_epochs,
                      "seeds": student_seeds(seeds, layers, args.transformer_seeds),
                      "no_kd": [r for r in records if r["student"] == label]}
                     for label, preset, layers, own_epochs in chosen],
    }
    write_result(Path(args.results_dir) / result_name(args.regime, args.task, args.tag, no_kd=True), result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("task", choices=["ner", "dep"])
    parser.add_argument("--regime", choices=list(transfer.REGIMES), default="full")
    parser.add_argument("--objective", default="structural", help="the KD objective (a name of transfer.TASKS)")
    parser.add_argument("--students", nargs="+", default=[s[0] for s in STUDENTS],
                        choices=[s[0] for s in STUDENTS])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="student runs at a time (one thread each)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the teacher's training and fill")
    parser.add_argument("--student-epochs", type=int, default=None, help="default: the regime's")
    parser.add_argument("--transformer-epochs", type=int, default=4, help="epochs of the minilm_l* students")
    parser.add_argument("--transformer-seeds", type=int, default=None,
                        help="seeds of the minilm_l* students (the first N of --seeds; default: all): their "
                             "runs take hours each on a CPU")
    parser.add_argument("--teacher", default=None, help="an archived teacher instead of transfer.py's")
    parser.add_argument("--no-throughput", action="store_true", help="skip the speed measurement")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of the published result (same teacher) for the students not run now, "
                             "with the teacher speed they were measured beside")
    parser.add_argument("--tag", default=None,
                        help="write frontier_{regime}_{task}_{tag}.json instead: a table of its own (another teacher)")
    parser.add_argument("--no-kd-only", action="store_true",
                        help="train only the no-KD runs (no teacher is trained, filled or timed) and write "
                             "frontier_{regime}_{task}[_{tag}]_no_kd.json; a later invocation reuses them")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "transfer"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    if args.no_kd_only and (args.merge or args.teacher):
        parser.error("--no-kd-only trains no teacher and times nothing: --merge and --teacher do not apply")
    if args.tag is not None and args.tag not in TAGS:
        parser.error(f"--tag must be one of {list(TAGS)} (report.py renders those)")
    if args.transformer_seeds is not None and not 1 <= args.transformer_seeds <= args.seeds:
        parser.error(f"--transformer-seeds must be between 1 and --seeds ({args.seeds})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    spec, regime = transfer.TASKS[args.task], transfer.REGIMES[args.regime]
    names = {name: config for name, config, _ in spec["objectives"]}
    if args.objective not in names:
        parser.error(f"--objective must be one of {sorted(names)}")
    started = time.perf_counter()
    out = Path(args.runs_dir) / args.regime / args.task
    data = transfer.prepare_data(args.task, args.regime, Path(args.data_dir).resolve(), out / "data")
    key = spec["metric"][1]
    chosen = [s for s in STUDENTS if s[0] in args.students]
    published = Path(args.results_dir) / result_name(args.regime, args.task, args.tag)
    seeds = [13 + 10 * i for i in range(args.seeds)]
    if args.no_kd_only:
        no_kd_only(args, spec, data, out, chosen, seeds, published, started)
        return
    if args.teacher:
        teacher = transfer.given_teacher(args.teacher, data, out, args.threads)
    else:
        teacher = transfer.train_teacher(args.task, data, out, regime["teacher_epochs"], args.threads)
    cache = out / "teacher_store"
    transfer.fill(teacher["archive"], data, cache, out, args.threads)
    kept = []  # checked before any student trains
    if args.merge and published.exists():
        kept = carry_over(json.loads(published.read_text()), transfer.record(teacher, key, model="teacher"),
                          [label for label, *_ in chosen])

    kd = {"model.teacher.archive": teacher["archive"], "model.teacher.cache": {"dir": str(cache)},
          "data_loader.type": "transfer_set",
          "data_loader.transfer_set": {"path": data["transfer"]["path"], "format": data["transfer"]["format"]}}
    records = transfer.run_all(student_jobs(args, spec, data, out, chosen, seeds, kd), args.workers, data, key, RETRY)

    speeds: Dict[str, List[Dict]] = {}
    if not args.no_throughput:
        archives = [("teacher", teacher["archive"])] + [
            (label, str(run_folders(out, label, preset, layers, seeds[0],
                                    transfer.preset_config(names[args.objective], preset), own_epochs)[1] / "model.tar.gz"))
            for label, preset, layers, own_epochs in chosen]
        for label, archive in archives:  # one process per model and thread count, one after the other
            speeds[label] = throughput.run([archive], data["test"], [1, 2], batch_size=32, repeats=3)

    result = {
        "meta": {**common_meta(args, data, seeds, started), "objective": args.objective,
                 "transfer_sentences": data["transfer"]["sentences"], "teacher": args.teacher or spec["teacher"]},
        "teacher": {**transfer.record(teacher, key, model="teacher"), "throughput": speeds.get("teacher", [])},
        "students": [{"label": label, "preset": preset, "layers": layers, "epochs": own_epochs,
                      "seeds": student_seeds(seeds, layers, args.transformer_seeds),
                      "no_kd": [r for r in records if r["student"] == label and not r["kd"]],
                      "kd": [r for r in records if r["student"] == label and r["kd"]],
                      "throughput": speeds.get(label, [])} for label, preset, layers, own_epochs in chosen],
    }
    path = Path(args.results_dir) / result_name(args.regime, args.task, args.tag)
    if kept:
        order = [label for label, *_ in STUDENTS]
        result["students"] = sorted(result["students"] + kept, key=lambda student: order.index(student["label"]))
    write_result(path, result)


if __name__ == "__main__":
    transfer.main_or_exit(main, "frontier.py")
