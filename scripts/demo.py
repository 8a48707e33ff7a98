"""`make demo`: distil a small NER tagger and a small dependency parser on the shipped sample.

For each task: train the teacher (NER: all-MiniLM-L6-v2 fine-tuned with a CRF, read offline
from its PyPI package; parsing: a BiLSTM biaffine parser over MiniLM's frozen subword table), fill the teacher's disk cache once
(`allennlp fill-teacher-cache`, the labeled sentences and the shipped transfer set), then train
the plain student (no KD), the sub-structure and structural KD students and a structural KD
student that also learns from 4,000 unlabeled EWT training sentences the teacher labels (a
transfer set: `fixtures/data/*/transfer.*`) — same architecture, data and seed: for NER the tiny
students (word embeddings learned from scratch), for parsing the `static_subword` preset's (MiniLM's
frozen subword table + character CNN + a 1-layer BiLSTM), each the one measured to gain from KD
with the demo's teacher — print one
table of their dev/test scores and training-epoch times with a sentence on each row, then move
the teacher's archive away and predict with a student (and, on the example sentences, with the
teacher beside it).
Everything goes through the stock `allennlp train` / `fill-teacher-cache` / `predict` commands,
so AllenNLP's progress bars show what is happening; AllenNLP's INFO logging, third-party
warnings and nltk's failed data downloads are kept out of the way. Outputs land in `demo_out/`.

    python scripts/demo.py [--out demo_out] [--tasks ner dep] [--epochs N] [--student PRESET]

`--student tiny` or `--student static_subword` trains that preset's students in every task
against the same teachers (reused from `--out` when trained there) and writes, where it is not
the task's own, `summary_{PRESET}.json` beside `summary.json` (benchmarks/README.md, the demo
section: the NER static_subword students beat the demo's 4-epoch teacher without KD, so KD pulls
them down there).
"""
import argparse
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Optional

logger = logging.getLogger("demo")

TASKS = {
    "ner": {
        "teacher": "ner_teacher_transformer",
        "teacher_threads": 2,  # the runs go one at a time: the transformer gets both cores
        "students": [("plain student (no KD)", "ner_baseline", {}),
                     ("sub-structure KD", "ner_sub_kd", {}),
                     ("structural KD", "ner_struct_kd", {}),
                     ("structural KD + transfer set", "ner_struct_kd", {"transfer": True})],
        "transfer_set": {"path": "fixtures/data/uner_ewt/transfer.conll", "format": "conll"},
        "test": "fixtures/data/uner_ewt/test_full.conll",
        "metrics": [("F1", "f1-measure-overall")],
        "predict_input": "fixtures/data/uner_ewt/test.conll",
        "json_lines": [{"sentence": "Barack Obama met Angela Merkel in Berlin ."},
                       {"tokens": ["Google", "hired", "John", "Smith", "in", "Zurich"]}],
        "epochs": {"teacher": 4, "student": 12},
        # the tiny students: the static_subword ones beat this 4-epoch teacher without KD (62.0 test
        # F1 against 52.2), so every KD row pulled them down (-0.6 / -0.5 / -7.0; one seed,
        # benchmarks/README.md, the demo section)
        "student": "tiny",
        "notes": {
            "tiny": ("The teacher is a pretrained transformer fine-tuned on the 1,000-sentence sample; "
                     "the students learn word embeddings from scratch on the same 1,000 sentences (and "
                     "the transfer rows on 4,000 unlabeled ones the teacher labels, whose words they "
                     "then know): one seed, one small sample."),
            "static_subword": ("The teacher is a pretrained transformer fine-tuned on the 1,000-sentence sample "
                               "for 4 epochs; the students (the static_subword preset) read MiniLM's frozen "
                               "subword table, so they know words the sample never showed them: one seed, one "
                               "small sample."),
        },
    },
    "dep": {
        "teacher": "dep_teacher_static_subword",
        "students": [("plain student (no KD)", "dep_baseline", {}),
                     ("sub-structure KD", "dep_sub_kd", {}),
                     ("structural KD", "dep_struct_kd", {}),
                     ("structural KD + transfer set", "dep_struct_kd", {"transfer": True})],
        "transfer_set": {"path": "fixtures/data/ud_ewt/transfer.conllu", "format": "conllu"},
        "test": "fixtures/data/ud_ewt/test_full.conllu",
        "metrics": [("UAS", "UAS"), ("LAS", "LAS")],
        "predict_input": "fixtures/data/ud_ewt/test.conllu",
        "json_lines": [{"tokens": ["The", "cat", "sat", "on", "the", "mat", "."],
                        "pos": ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]}],
        # the teacher of `dep_teacher` (random word embeddings, 3 layers) led the plain student by
        # only 3.7 LAS after 8 epochs and both KD rows fell below it (-3.3 / -2.4); over the
        # frozen MiniLM subword table with 2 layers and 12 epochs it leads by 13 and they rise
        # (+0.7 / +1.2, one seed, students 10 epochs; benchmarks/README.md, the demo section)
        "epochs": {"teacher": 12, "student": 10},
        # the static_subword students: above the tiny ones in every row (plain 66.6 against 61.8
        # test LAS) and every KD row above their plain student (+0.5 / +1.3 / +7.3, one seed;
        # benchmarks/README.md, the demo section)
        "student": "static_subword",
        "notes": {
            "tiny": ("The teacher is a 2-layer BiLSTM parser over the frozen all-MiniLM-L6-v2 subword table, "
                     "the students the small parser with word embeddings learned from scratch, all trained on "
                     "the 1,000-sentence sample in minutes (the transfer rows also on 4,000 unlabeled sentences "
                     "the teacher parses): one seed, one small sample."),
            "static_subword": ("The teacher is a 2-layer BiLSTM parser over the frozen all-MiniLM-L6-v2 subword "
                               "table, the students (the static_subword preset) a 1-layer BiLSTM over the same "
                               "table, all trained on the 1,000-sentence sample in minutes (the transfer rows also "
                               "on 4,000 unlabeled sentences the teacher parses): one seed, one small sample."),
        },
    },
}

#: the student presets `--student` can pick (common.libsonnet's, but for the transformer one, whose
#: fine-tuning does not fit the demo's minutes); each task trains its own "student" by default
STUDENTS = ("tiny", "static_subword")


def preset_config(config: str, student: str) -> str:
    """The config of `student`'s preset for a tiny student's config (ner_struct_kd ->
    ner_static_subword_struct_kd); benchmarks/transfer.py names its runs' configs with it too."""
    if student == "tiny":
        return config
    task, rest = config.split("_", 1)
    return f"{task}_{student}_{rest}"


#: what each row of the table is (the measured outcome is appended)
ROW_TEXT = {
    "teacher": "the big model",
    "plain student (no KD)": "the small model on gold labels alone",
    "sub-structure KD": "+ matching the teacher's local scores (Lin et al.)",
    "structural KD": "+ the teacher's whole-structure distribution (Wang et al.)",
    "structural KD + transfer set": "structural KD + 4,000 unlabeled sentences the teacher labels",
}


def what_happened(label: str, test: float, teacher: float, plain: float, metric: str) -> str:
    """One sentence: the row's role and what it measured against the others (test scores)."""
    role = ROW_TEXT.get(label, label)
    if label == "teacher":
        return f"{role}: {test - plain:+.1f} {metric} over the plain student"
    if label.startswith("plain"):
        return f"{role}: the baseline ({test - teacher:+.1f} {metric} vs the teacher)"
    gap = teacher - plain
    closed = f", {100 * (test - plain) / gap:.0f} % of the gap closed" if gap > 0 else ""
    return f"{role}: {test - plain:+.1f} {metric} vs the plain student{closed}"

#: output of third-party code that says nothing about the demo
NOISE = re.compile(r"^\[nltk_data\]|Warning:|warnings\.warn\(|^\s*$"
                   r"|label namespace was 'pos'|patience was set to None")
QUIET = {"ALLENNLP_LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore"}


def allennlp(*args: str, threads: int = 1) -> None:
    """One `allennlp` command; its progress bars pass through, noise does not."""
    command = [sys.executable, "-m", "allennlp", *args, "--include-package", "allennlp_subkd"]
    logger.info("$ %s", " ".join(command[2:]))
    env = dict(os.environ, **QUIET, OMP_NUM_THREADS=str(threads))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pump = threading.Thread(target=_filter, args=(process.stdout,), daemon=True)
    pump.start()
    code = process.wait()
    pump.join()
    if code != 0:
        raise subprocess.CalledProcessError(code, command)


def _filter(stream) -> None:
    """Copy a child's output to ours segment by segment (tqdm redraws with carriage
    returns), leaving out the segments `NOISE` matches."""
    pending = b""
    for chunk in iter(lambda: stream.read1(4096), b""):
        pending += chunk
        *segments, pending = re.split(rb"(?<=[\r\n])", pending)
        for segment in segments:
            if not NOISE.search(segment.decode("utf-8", "replace")):
                sys.stderr.write(segment.decode("utf-8", "replace"))
        sys.stderr.flush()
    if pending and not NOISE.search(pending.decode("utf-8", "replace")):
        sys.stderr.write(pending.decode("utf-8", "replace"))


def train(config: str, out: Path, overrides: Dict, threads: int = 1) -> Dict:
    if (out / "model.tar.gz").exists():
        logger.info("%s already trained in %s: reusing it (delete the folder to retrain)", config, out)
    else:
        shutil.rmtree(out, ignore_errors=True)
        allennlp("train", f"training_configs/{config}.jsonnet", "-s", str(out), "-o", json.dumps(overrides),
                 threads=threads)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["epoch_seconds"] = json.loads((out / "epoch_times.json").read_text())["train_seconds"]
    return metrics


def run_task(name: str, out: Path, epochs: Dict[str, int], student: Optional[str] = None) -> None:
    """Train the task's teacher and students (`student`'s preset; None: the task's own), print the
    table, write the summary and predict."""
    task = TASKS[name]
    student = student or task["student"]
    out = out / name
    teacher_dir = out / "teacher"
    # every model is scored on the full EWT test set (the sample's 250 sentences are too few)
    teacher_overrides = {"trainer.num_epochs": epochs["teacher"], "test_data_path": task["test"]}
    threads = task.get("teacher_threads", 1)
    rows = [("teacher", train(task["teacher"], teacher_dir, teacher_overrides, threads))]
    archive = teacher_dir / "model.tar.gz"
    # the teacher's outputs on the training sentences, once, for both KD students
    cache = out / "teacher_cache"
    train_file = json.loads((teacher_dir / "config.json").read_text())["train_data_path"]
    allennlp("fill-teacher-cache", str(archive), train_file, "--cache-dir", str(cache), threads=threads)
    transfer = task["transfer_set"]
    allennlp("fill-teacher-cache", str(archive), transfer["path"], "--format", transfer["format"],
             "--cache-dir", str(cache), threads=threads)
    for label, config, options in task["students"]:
        config = preset_config(config, student)
        overrides = {"trainer.num_epochs": epochs["student"], "test_data_path": task["test"],
                     **task.get("student_overrides", {}).get(config, {})}
        if "kd" in config:
            overrides["model.teacher.archive"] = str(archive)
            overrides["model.teacher.cache"] = {"dir": str(cache)}
        if options.get("transfer"):
            # dotted keys keep the config's batch sampler (an object with "type" would replace it)
            overrides["data_loader.type"] = "transfer_set"
            overrides["data_loader.transfer_set"] = dict(transfer)
        rows.append((label, train(config, out / run_name(config, options), overrides)))
    print_table(name, task, rows, student)
    summary_file = out / ("summary.json" if student == task["student"] else f"summary_{student}.json")
    summary_file.write_text(json.dumps({**summary(name, task, rows), "student": student}, indent=2) + "\n")

    # Predict with a student after the teacher's archive has been moved away.
    moved = out / "teacher_archive_moved_away.tar.gz"
    shutil.move(str(archive), moved)
    try:
        _, config, options = task["students"][-1]
        student_archive = out / run_name(preset_config(config, student), options) / "model.tar.gz"
        predictions = out / "predictions.jsonl"
        allennlp("predict", str(student_archive), task["predict_input"], "--use-dataset-reader",
                 "--output-file", str(predictions), "--silent")
        json_in, json_out = out / "sentences.jsonl", out / "sentences.predicted.jsonl"
        json_in.write_text("".join(json.dumps(line) + "\n" for line in task["json_lines"]))
        allennlp("predict", str(student_archive), str(json_in), "--output-file", str(json_out), "--silent")
        count = sum(1 for _ in open(predictions))
        print(f"\n{name}: the {task['students'][-1][0]} student predicted {count} test sentences "
              f"(teacher archive moved to {moved.name}) -> {predictions}")
    finally:
        shutil.move(str(moved), archive)
    teacher_out = out / "sentences.teacher.jsonl"
    allennlp("predict", str(archive), str(json_in), "--output-file", str(teacher_out), "--silent",
             "--predictor", "pretokenized_tagger" if name == "ner" else "pretokenized_parser")
    print("Example sentences, student / teacher:")
    for student_line, teacher_line in zip(open(json_out), open(teacher_out)):
        for who, line in (("student", student_line), ("teacher", teacher_line)):
            result = json.loads(line)
            labels = result.get("tags") or [f"{head}:{relation}" for head, relation in zip(
                result.get("predicted_heads", []), result.get("predicted_dependencies", []))]
            print(f"  {who}: " + " ".join(f"{w}/{t}" for w, t in zip(result["words"], labels)))


def summary(name: str, task: Dict, rows: List) -> Dict:
    """The task's table as JSON (`demo_out/<task>/summary.json`; `benchmarks/report.py` renders a
    committed copy, `benchmarks/results/demo.json`)."""
    metric, key = task["metrics"][-1]
    return {
        "task": name, "metric": metric, "test_file": task["test"],
        "rows": [{"model": label,
                  "dev": 100 * metrics[f"best_validation_{key}"],
                  "test": 100 * metrics.get(f"test_{key}", float("nan")),
                  "epoch_seconds": statistics.mean(metrics["epoch_seconds"])} for label, metrics in rows],
    }


def run_name(config: str, options: Dict) -> str:
    """The folder of a student's run: its config's name, `_transfer` with a transfer set."""
    return f"{config}_transfer" if options.get("transfer") else config


def print_table(name: str, task: Dict, rows: List, student: str) -> None:
    plain = statistics.mean(rows[1][1]["epoch_seconds"])
    header = ["model"]
    for label, _ in task["metrics"]:
        header += [f"dev {label}", f"test {label}"]
    header += ["s/epoch", "x plain", "what happened (test)"]
    lines = [header]
    metric, key = task["metrics"][-1]
    teacher_score = 100 * rows[0][1].get(f"test_{key}", float("nan"))
    plain_score = 100 * rows[1][1].get(f"test_{key}", float("nan"))
    for label, metrics in rows:
        line = [label]
        for _, key in task["metrics"]:
            line += [f"{100 * metrics[f'best_validation_{key}']:.2f}",
                     f"{100 * metrics.get(f'test_{key}', float('nan')):.2f}"]
        seconds = statistics.mean(metrics["epoch_seconds"])
        line += [f"{seconds:.1f}", f"{seconds / plain:.2f}",
                 what_happened(label, 100 * metrics.get(f"test_{key}", float("nan")), teacher_score,
                               plain_score, metric)]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    who = "" if student == "tiny" else f", the {student} students,"
    print(f"\n{name.upper()}{who} trained on the shipped 1,000-sentence sample (dev = the sample's dev at the "
          f"best epoch; test = the full EWT test set, {task['test']}, at that epoch; s/epoch = mean "
          "training-epoch seconds, validation excluded)")
    for i, row in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(task["notes"][student] + " Real-data results (full training sets, 3 seeds): README, 'Results' "
          "(make bench-ner, make bench-dep).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every model")
    parser.add_argument("--student", choices=STUDENTS, default=None,
                        help="the students' preset for every task (default: each task's own, as measured: NER "
                             "the tiny students, parsing the static_subword ones)")
    parser.add_argument("--sequential", action="store_true",
                        help="one task after the other (default: with 2+ cores, parsing runs beside NER)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # One thread per run: on a busy 2-core machine torch's spinning OpenMP threads slow small
    # models down by an order of magnitude, and timings stay comparable.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = Path(args.out)
    tasks = list(args.tasks)
    background = None
    if len(tasks) > 1 and not args.sequential and (os.cpu_count() or 1) >= 2:
        # the later tasks run in a second process on the other core, quietly (their progress
        # goes to a log); their tables are printed when the first task is done
        later = tasks[1:]
        tasks = tasks[:1]
        for name in tasks:
            TASKS[name]["teacher_threads"] = 1  # the other core is busy
        (out / "background").mkdir(parents=True, exist_ok=True)
        command = [sys.executable, __file__, "--out", str(out), "--sequential", "--tasks", *later]
        if args.student:
            command += ["--student", args.student]
        if args.epochs:
            command += ["--epochs", str(args.epochs)]
        logger.info("%s runs beside %s on the other core (progress: %s)", " and ".join(later),
                    tasks[0], out / "background" / "progress.log")
        background = subprocess.Popen(
            command, stdout=open(out / "background" / "summary.txt", "w"),
            stderr=open(out / "background" / "progress.log", "w"))
    for name in tasks:
        epochs = dict(TASKS[name]["epochs"])
        if args.epochs:
            epochs = {k: args.epochs for k in epochs}
        run_task(name, out, epochs, args.student)
    if background is not None:
        logger.info("waiting for the task running beside it ...")
        code = background.wait()
        print((out / "background" / "summary.txt").read_text(), end="")
        if code != 0:
            sys.exit(f"the background task failed (exit {code}): see {out / 'background' / 'progress.log'}")


if __name__ == "__main__":
    main()
