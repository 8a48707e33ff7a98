"""
How many characters of a word the character CNN reads: accuracy and CPU speed of archived NER
models with their `characters` indexer swapped for `capped_characters` at load time.

    python benchmarks/char_cap.py [--archives LABEL=PATH ...] [--caps 0 50 20 10]
        [--throughput-caps 0 50 20] [--no-throughput] [--reuse] [--retrain [RUN_DIR ...]]

A batch's character tensor is as wide as its longest word: the UNER-EWT test set holds a
473-character token, so every word of its batch goes through the CNN 473 characters wide. Each
archive (default: the full-data NER teacher and the first-seed structural-KD students of
`frontier.py --tag minilm`, in `benchmarks/runs/transfer/full/ner`) is loaded once per cap with
`--overrides '{"dataset_reader.token_indexers.token_characters": {"type": "capped_characters",
"max_characters": N}}'` (what a user passes to `allennlp predict`; cap 0 = the archive as
trained) and evaluated on the EWT dev set (the choice), the EWT test set and UNER-PUD, in batches
of 32 in file order (as `allennlp predict`: a sentence's batch mates set the padding); then, for
`--throughput-caps`, it is timed on the test set as `throughput.py` times a model (batch 32,
`forward_on_instances`, 1 thread, after one warm-up batch), one fresh process per archive that
loads it once per cap and runs the caps' passes in turn (cap A, cap B, cap A, ...), `--repeats`
rounds, the median pass per cap: on a machine whose speed drifts between processes, the ratio of
two caps is then taken under the same conditions. Run the timing with nothing else on the
machine. Writes `benchmarks/results/char_cap.json`; `report.py` renders it. `--reuse` keeps the
scores already measured for the same archive and cap (the timings are taken again).

`--retrain` trains finished runs again (default: the static-subword student's seed-13 runs, no KD
and structural KD + transfer set) from their own `config.json` with the configs' default cap
as the only change (one thread each, `benchmarks/runs/char_cap/`, finished runs reused), and
compares their best dev F1 and test F1 with the originals': what the cap does to training, not
only to prediction.
"""
import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # noqa: E402
from run import ROOT, git_commit, machine, main_or_exit, train  # noqa: E402

logger = logging.getLogger("char_cap")
RUNS = Path("benchmarks") / "runs" / "transfer" / "full" / "ner"
DEFAULT_ARCHIVES = {
    "teacher (MiniLM-L6 + char CNN + CRF)": RUNS / "teacher" / "model.tar.gz",
    "static_subword, structural KD + transfer set": RUNS / "static_subword" / "s13" / "ner_static_subword_struct_kd_transfer"
    / "model.tar.gz",
    "minilm_l1, structural KD + transfer set": RUNS / "frontier" / "minilm_l1" / "s13" / "kd_transfer" / "model.tar.gz",
}
RETRAIN = [RUNS / "static_subword" / "s13" / "no_kd",
           RUNS / "static_subword" / "s13" / "ner_static_subword_struct_kd_transfer"]
#: the configs' default (`common.libsonnet`'s `max_token_characters`)
SHIPPED_CAP = 50
SPLITS = {"dev": "uner_ewt/en_ewt-uner-dev.conll", "test": "uner_ewt/en_ewt-uner-test.conll",
          "ood": "uner_pud/en_pud-uner-test.conll"}
INDEXER = "dataset_reader.token_indexers.token_characters"


def overrides(cap: int) -> str:
    """The `--overrides` JSON that caps the archive's `token_characters` indexer ("" for cap 0)."""
    if cap == 0:
        return ""
    return json.dumps({INDEXER: {"type": "capped_characters", "max_characters": cap}})


def score(archive: str, cap: int, paths: Dict[str, str], batch_size: int = 32) -> Dict[str, float]:
    """The archive's F1 (or LAS) on each split, loaded with `overrides(cap)`, batches in file order."""
    import torch
    from allennlp.data import Batch

    model, reader = throughput.load(archive, overrides(cap))
    scores = {}
    for split, path in paths.items():
        _, batches = throughput.indexed_batches(model, reader, path, batch_size)
        model.get_metrics(reset=True)
        with torch.no_grad():
            for batch in batches:
                model(**Batch(batch).as_tensor_dict())
        metrics = model.get_metrics(reset=True)
        scores[split] = metrics["f1-measure-overall"] if "f1-measure-overall" in metrics else metrics["LAS"]
    return scores


def paired_timing(archive: str, caps: List[int], data: str, batch_size: int = 32, repeats: int = 3) -> Dict[int, Dict]:
    """In this process: the archive loaded once per cap, one pass over `data` per cap in turn for
    `repeats` rounds; per cap its passes and the median pass's speed."""
    import statistics

    import torch

    loaded = {}
    for cap in caps:
        model, reader = throughput.load(archive, overrides(cap))
        instances, batches = throughput.indexed_batches(model, reader, data, batch_size)
        loaded[cap] = (model, batches)
    words = sum(len(instance["metadata"]["words"]) for instance in instances)
    passes: Dict[int, List[float]] = {cap: [] for cap in caps}
    with torch.no_grad():
        for model, batches in loaded.values():
            model.forward_on_instances(batches[0])  # warm-up
        for _ in range(repeats):
            for cap, (model, batches) in loaded.items():
                start = time.perf_counter()
                for batch in batches:
                    model.forward_on_instances(batch)
                passes[cap].append(time.perf_counter() - start)
    return {cap: {"pass_seconds": seconds, "seconds": statistics.median(seconds), "tokens": words,
                  "tokens_per_second": words / statistics.median(seconds), "threads": torch.get_num_threads(),
                  "batch_size": batch_size, "rounds": repeats}
            for cap, seconds in passes.items()}


def timed_in_child(archive: str, caps: List[int], data: str, repeats: int) -> Dict[int, Dict]:
    """`paired_timing` in a fresh one-thread process (as `throughput.py` runs each model)."""
    done = subprocess.run([sys.executable, __file__, "--time-one", archive, "--caps", *map(str, caps),
                           "--throughput-caps", *map(str, caps), "--data-file", data, "--repeats", str(repeats)],
                          env=throughput.child_env(1), capture_output=True, text=True, check=True)
    return {int(cap): value for cap, value in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def retrain(run: Path, cap: int, out: Path) -> Dict:
    """Train `run`'s own config again with its character indexer capped at `cap`; the best dev F1
    and the test F1 of both runs."""
    config = json.loads((run / "config.json").read_text())
    indexer = dict(config["dataset_reader"]["token_indexers"]["token_characters"],
                   type="capped_characters", max_characters=cap)
    changes = {INDEXER: indexer}
    if "validation_dataset_reader" in config:
        changes["validation_" + INDEXER] = indexer
    out.parent.mkdir(parents=True, exist_ok=True)
    result = train(str(run / "config.json"), out, changes, out.parent / f"{out.name}.log", threads=1)
    original = json.loads((run / "metrics.json").read_text())

    def scores(metrics: Dict) -> Dict[str, float]:
        return {"dev": metrics["best_validation_f1-measure-overall"], "test": metrics["test_f1-measure-overall"],
                "best_epoch": metrics["best_epoch"]}

    return {"run": str(run), "cap": cap, "original": scores(original), "capped": scores(result["metrics"]),
            "epoch_seconds_original": json.loads((run / "epoch_times.json").read_text())["train_seconds"],
            "epoch_seconds_capped": result["train_seconds"]}


def longest_word(path: str) -> int:
    """The longest token of a CoNLL file (its first column)."""
    longest = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip() and not line.startswith("-DOCSTART-") and not line.startswith("#"):
                longest = max(longest, len(line.split()[0]))
    return longest


def parse_archives(values: Optional[List[str]]) -> Dict[str, str]:
    if not values:
        return {label: str(ROOT / path) for label, path in DEFAULT_ARCHIVES.items()}
    archives = {}
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"--archives takes LABEL=PATH, got {value!r}")
        archives[label] = path
    return archives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--archives", nargs="+", default=None, help="LABEL=PATH of each archive (default: see above)")
    parser.add_argument("--caps", type=int, nargs="+", default=[0, 50, 30, 20, 10],
                        help="characters kept per word; 0 = the archive as trained")
    parser.add_argument("--throughput-caps", type=int, nargs="+", default=[0, 50, 20])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the scoring (not the timing)")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds (each: one pass per cap)")
    parser.add_argument("--time-one", default=None, help=argparse.SUPPRESS)  # the timing child: ARCHIVE
    parser.add_argument("--data-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reuse", action="store_true", help="keep the scores of a previous result")
    parser.add_argument("--retrain", nargs="*", default=None, metavar="RUN_DIR",
                        help="finished runs to train again with the configs' cap (no value: the default runs)")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "char_cap"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    if args.time_one:
        import torch

        torch.set_num_threads(1)
        timings = paired_timing(args.time_one, args.throughput_caps, args.data_file, repeats=args.repeats)
        print(json.dumps(timings))  # noqa: T201
        return
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if any(cap < 0 for cap in args.caps + args.throughput_caps):
        parser.error("a cap is a number of characters >= 1, or 0 for none")
    if not set(args.throughput_caps) <= set(args.caps):
        parser.error("--throughput-caps must be among --caps")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import torch

    torch.set_num_threads(args.threads)
    archives = parse_archives(args.archives)
    for label, path in archives.items():
        if not Path(path).is_file():
            parser.error(f"{label}: no archive at {path}")
    retrain_runs = [Path(r) for r in (args.retrain or [str(ROOT / r) for r in RETRAIN])] \
        if args.retrain is not None else []
    for run in retrain_runs:
        if not (run / "config.json").is_file() or not (run / "metrics.json").is_file():
            parser.error(f"--retrain: {run} is not a finished training run (config.json, metrics.json)")
    data = Path(args.data_dir).resolve()
    paths = {split: str(data / name) for split, name in SPLITS.items()}
    out = Path(args.results_dir) / "char_cap.json"
    previous = {}
    if args.reuse and out.exists():
        previous = {(r["archive"], r["cap"]): r for r in json.loads(out.read_text())["runs"]}

    started = time.perf_counter()
    records = []
    for label, archive in archives.items():
        for cap in args.caps:
            old = previous.get((archive, cap))
            scores = {split: old[split] for split in SPLITS} if old else score(archive, cap, paths)
            logger.info("%s, cap %s: %s", label, cap or "none",
                        ", ".join(f"{split} {100 * value:.2f}" for split, value in scores.items()))
            records.append({"label": label, "archive": archive, "cap": cap, **scores})
    if not args.no_throughput:
        for archive in archives.values():
            timings = timed_in_child(archive, args.throughput_caps, paths["test"], args.repeats)
            for record in records:
                if record["archive"] == archive and record["cap"] in timings:
                    record["throughput"] = timings[record["cap"]]
    retrained = [retrain(run, SHIPPED_CAP, Path(args.runs_dir) / f"{run.parent.name}_{run.name}")
                 for run in retrain_runs]
    if not retrained and args.reuse and out.exists():
        retrained = json.loads(out.read_text()).get("retrained", [])
    meta = {"command": shlex.join(["python", "benchmarks/char_cap.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started, "machine": machine(), "git_commit": git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "longest_word": {split: longest_word(path) for split, path in paths.items()},
            "timed": not args.no_throughput, "repeats": args.repeats}
    result = {"meta": meta, "runs": records, "retrained": retrained}
    out.write_text(json.dumps(result, indent=1) + "\n")
    from report import char_cap_markdown

    (out.parent / "char_cap.md").write_text(char_cap_markdown(result))
    logger.info("wrote %s", out)


if __name__ == "__main__":
    main_or_exit(main, "char_cap.py")
