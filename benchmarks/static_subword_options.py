"""
The static-subword student's table options, chosen on dev: frozen or trainable, and an optional
projection of the 384-d all-MiniLM-L6-v2 subword table to a smaller size.

Trains `training_configs/ner_static_subword_baseline.jsonnet` (no KD: the options are the
student's own) on the shipped 1,000-sentence UNER-EWT sample, once per variant (seed 13,
`--epochs` epochs, one process at a time, `--threads` torch threads), and reports the best dev F1
on the full EWT dev set (the choice), the test F1 at that epoch on the full EWT test set, the
trainable parameters and the epoch time. Writes `benchmarks/results/static_subword_options.{json,md}`;
finished runs are reused.

    python benchmarks/static_subword_options.py [--epochs 12] [--threads 1]
"""
import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import static_options_markdown  # noqa: E402
from run import ROOT, git_commit, machine, main_or_exit, train  # noqa: E402

# name -> (trainable, projection_dim)
VARIANTS = {
    "frozen, 384-d (the preset)": (False, None),
    "trainable, 384-d": (True, None),
    "frozen, projected to 128": (False, 128),
    "frozen, projected to 64": (False, 64),
    "trainable, projected to 128": (True, 128),
}
CHARS = 32  # the preset's character CNN filters, beside the table in the BiLSTM's input


def overrides_for(trainable: bool, projection: int, data_dir: Path, epochs: int) -> dict:
    embedder = "model.text_field_embedder.token_embedders.subwords"
    return {
        "train_data_path": str(ROOT / "fixtures" / "data" / "uner_ewt" / "train.conll"),
        "validation_data_path": str(data_dir / "uner_ewt" / "en_ewt-uner-dev.conll"),
        "test_data_path": str(data_dir / "uner_ewt" / "en_ewt-uner-test.conll"),
        "trainer.num_epochs": epochs,
        f"{embedder}.trainable": trainable,
        f"{embedder}.projection_dim": projection,
        "model.encoder.input_size": (projection or 384) + CHARS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "static_subword_options"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    runs = Path(args.runs_dir)
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    for index, (name, (trainable, projection)) in enumerate(VARIANTS.items()):
        out = runs / f"v{index}"
        overrides = overrides_for(trainable, projection, Path(args.data_dir).resolve(), args.epochs)
        result = train("ner_static_subword_baseline", out, overrides, runs / f"v{index}.log", threads=args.threads)
        metrics = result["metrics"]
        later = result["train_seconds"][1:] or result["train_seconds"]
        records.append({"variant": name, "trainable": trainable, "projection_dim": projection,
                        "dev_f1": metrics["best_validation_f1-measure-overall"],
                        "test_f1": metrics.get("test_f1-measure-overall"), "best_epoch": metrics["best_epoch"],
                        "trainable_parameters": trainable_parameters(out),
                        "epoch_seconds_mean": sum(later) / len(later)})
    meta = {"command": " ".join(["python", "benchmarks/static_subword_options.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started, "epochs": args.epochs, "threads": args.threads,
            "machine": machine(), "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results = Path(args.results_dir)
    result = {"meta": meta, "runs": records}
    (results / "static_subword_options.json").write_text(json.dumps(result, indent=1) + "\n")
    text = static_options_markdown(result)
    (results / "static_subword_options.md").write_text(text)
    print(text)  # noqa: T201 (a report script)


def trainable_parameters(run: Path) -> int:
    """Parameters that train (the frozen table excluded), from the run's archived weights."""
    from allennlp.models.archival import load_archive

    import allennlp_subkd  # noqa: F401

    model = load_archive(str(run / "model.tar.gz")).model
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":
    main_or_exit(main, "static_subword_options.py")
