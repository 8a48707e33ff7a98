"""`make demo`: distil a small NER tagger and a small dependency parser on the shipped sample.

For each task: train the teacher, then the plain student (no KD) and the sub-structure and
structural KD students (same architecture, data and seed), print one table of their dev/test
scores and training-epoch times, then move the teacher's archive away and predict with a
student. Everything goes through the stock `allennlp train` / `allennlp predict` commands, so
AllenNLP's progress bars show what is happening. Outputs land in `demo_out/`.

    python scripts/demo.py [--out demo_out] [--tasks ner dep] [--epochs N]
"""
import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

logger = logging.getLogger("demo")

TASKS = {
    "ner": {
        "teacher": "ner_teacher",
        "students": [("plain student (no KD)", "ner_baseline"),
                     ("sub-structure KD", "ner_sub_kd"),
                     ("structural KD", "ner_struct_kd")],
        "metrics": [("F1", "f1-measure-overall")],
        "predict_input": "fixtures/data/uner_ewt/test.conll",
        "json_lines": [{"sentence": "Barack Obama met Angela Merkel in Berlin ."},
                       {"tokens": ["Google", "hired", "John", "Smith", "in", "Zurich"]}],
        "epochs": {"teacher": 12, "student": 12},
    },
    "dep": {
        "teacher": "dep_teacher",
        "students": [("plain student (no KD)", "dep_baseline"),
                     ("sub-structure KD", "dep_sub_kd"),
                     ("structural KD", "dep_struct_kd")],
        "metrics": [("UAS", "UAS"), ("LAS", "LAS")],
        "predict_input": "fixtures/data/ud_ewt/test.conllu",
        "json_lines": [{"tokens": ["The", "cat", "sat", "on", "the", "mat", "."],
                        "pos": ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]}],
        "epochs": {"teacher": 8, "student": 8},
    },
}


def allennlp(*args: str) -> None:
    command = [sys.executable, "-m", "allennlp", *args, "--include-package", "allennlp_subkd"]
    logger.info("$ %s", " ".join(command[2:]))
    subprocess.run(command, check=True)


def train(config: str, out: Path, overrides: Dict) -> Dict:
    if (out / "model.tar.gz").exists():
        logger.info("%s already trained in %s: reusing it (delete the folder to retrain)", config, out)
    else:
        shutil.rmtree(out, ignore_errors=True)
        allennlp("train", f"training_configs/{config}.jsonnet", "-s", str(out), "-o", json.dumps(overrides))
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["epoch_seconds"] = json.loads((out / "epoch_times.json").read_text())["train_seconds"]
    return metrics


def run_task(name: str, out: Path, epochs: Dict[str, int]) -> None:
    task = TASKS[name]
    out = out / name
    teacher_dir = out / "teacher"
    rows = [("teacher", train(task["teacher"], teacher_dir, {"trainer.num_epochs": epochs["teacher"]}))]
    archive = teacher_dir / "model.tar.gz"
    for label, config in task["students"]:
        overrides = {"trainer.num_epochs": epochs["student"]}
        if "kd" in config:
            overrides["model.teacher_archive"] = str(archive)
        rows.append((label, train(config, out / config, overrides)))
    print_table(name, task, rows)

    # Predict with a student after the teacher's archive has been moved away.
    moved = out / "teacher_archive_moved_away.tar.gz"
    shutil.move(str(archive), moved)
    try:
        student = out / task["students"][-1][1] / "model.tar.gz"
        predictions = out / "predictions.jsonl"
        allennlp("predict", str(student), task["predict_input"], "--use-dataset-reader",
                 "--output-file", str(predictions), "--silent")
        json_in, json_out = out / "sentences.jsonl", out / "sentences.predicted.jsonl"
        json_in.write_text("".join(json.dumps(line) + "\n" for line in task["json_lines"]))
        allennlp("predict", str(student), str(json_in), "--output-file", str(json_out), "--silent")
        count = sum(1 for _ in open(predictions))
        print(f"\n{name}: the structural-KD student predicted {count} test sentences "
              f"(teacher archive moved to {moved.name}) -> {predictions}")
        for line in open(json_out):
            result = json.loads(line)
            labels = result.get("tags") or list(zip(result.get("predicted_heads", []),
                                                    result.get("predicted_dependencies", [])))
            print("  " + " ".join(f"{w}/{t}" for w, t in zip(result["words"], labels)))
    finally:
        shutil.move(str(moved), archive)


def print_table(name: str, task: Dict, rows: List) -> None:
    plain = statistics.mean(rows[1][1]["epoch_seconds"])
    header = ["model"]
    for label, _ in task["metrics"]:
        header += [f"dev {label}", f"test {label}"]
    header += ["s/epoch", "x plain"]
    lines = [header]
    for label, metrics in rows:
        line = [label]
        for _, key in task["metrics"]:
            line += [f"{100 * metrics[f'best_validation_{key}']:.2f}",
                     f"{100 * metrics.get(f'test_{key}', float('nan')):.2f}"]
        seconds = statistics.mean(metrics["epoch_seconds"])
        line += [f"{seconds:.1f}", f"{seconds / plain:.2f}"]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    print(f"\n{name.upper()} on the shipped sample (dev = best epoch, test at that epoch; "
          "s/epoch = mean training-epoch seconds, validation excluded)")
    for i, row in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("Everything here is trained from scratch on the 1,000-sentence sample in minutes: the "
          "table shows the pipeline at work, not what KD achieves (a from-scratch teacher is "
          "not reliably stronger than the student on this little data). Real-data results: "
          "README, 'Results' (make bench-ner, make bench-dep).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # One thread per run: on a busy 2-core machine torch's spinning OpenMP threads slow small
    # models down by an order of magnitude, and timings stay comparable.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in args.tasks:
        epochs = dict(TASKS[name]["epochs"])
        if args.epochs:
            epochs = {k: args.epochs for k in epochs}
        run_task(name, Path(args.out), epochs)


if __name__ == "__main__":
    main()
