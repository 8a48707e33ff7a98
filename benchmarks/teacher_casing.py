"""
Which casing signal to give the uncased all-MiniLM-L6-v2 NER teacher: none, the `casing`
embedding (one id per word: lower / Title / UPPER / ...) or a character CNN.

Trains `training_configs/ner_teacher_transformer.jsonnet` three times on the shipped
1,000-sentence UNER sample (the demo's setting: 4 epochs, seed 13, one process at a time,
`--threads` torch threads), changing only the casing inputs, and reports best dev F1 (the
choice is made on dev) and the test F1 at that epoch. Writes
`benchmarks/results/ner_teacher_casing.{json,md}`; finished runs are reused.

    python benchmarks/teacher_casing.py [--epochs 4] [--threads 1]
"""
import argparse
import json
import logging
import sys
import time
from pathlib import Path

from allennlp.common import Params

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import casing_markdown  # noqa: E402
from run import ROOT, git_commit, machine, main_or_exit, train  # noqa: E402

import allennlp_subkd  # noqa: F401,E402

VARIANTS = {
    "none": ({}, {}, 0),
    "casing embedding (16)": ({"casing": {"type": "casing"}},
                              {"casing": {"type": "embedding", "embedding_dim": 16, "num_embeddings": 8,
                                          "vocab_namespace": None}}, 16),
    "character CNN (16 → 32 filters)": (
        {"token_characters": {"type": "characters", "min_padding_length": 3}},
        {"token_characters": {"type": "character_encoding",
                              "embedding": {"embedding_dim": 16, "vocab_namespace": "token_characters"},
                              "encoder": {"type": "cnn", "embedding_dim": 16, "num_filters": 32,
                                          "ngram_filter_sizes": [3]}}}, 32),
}


def config_for(indexers, embedders, extra_dim, epochs: int) -> dict:
    params = Params.from_file(str(ROOT / "training_configs" / "ner_teacher_transformer.jsonnet")).as_dict()
    reader = params["dataset_reader"]
    reader["token_indexers"] = {"transformer": reader["token_indexers"]["transformer"], **indexers}
    model = params["model"]
    token_embedders = model["text_field_embedder"]["token_embedders"]
    model["text_field_embedder"]["token_embedders"] = {"transformer": token_embedders["transformer"], **embedders}
    model["encoder"]["input_dim"] = 384 + extra_dim
    params["trainer"]["num_epochs"] = epochs
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "ner_casing"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    runs = Path(args.runs_dir)
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    for name, (indexers, embedders, dim) in VARIANTS.items():
        slug = name.split(" ")[0]
        config = runs / f"{slug}.json"
        config.write_text(json.dumps(config_for(indexers, embedders, dim, args.epochs), indent=1))
        result = train(str(config.resolve()), runs / slug, {}, runs / f"{slug}.log", threads=args.threads)
        metrics = result["metrics"]
        records.append({"variant": name, "dev_f1": metrics["best_validation_f1-measure-overall"],
                        "test_f1": metrics.get("test_f1-measure-overall"), "best_epoch": metrics["best_epoch"],
                        "epoch_seconds_mean": sum(result["train_seconds"]) / len(result["train_seconds"])})
    meta = {"command": " ".join(["python", "benchmarks/teacher_casing.py", *sys.argv[1:]]),
            "wall_seconds": time.perf_counter() - started, "epochs": args.epochs, "threads": args.threads,
            "machine": machine(), "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results = Path(args.results_dir)
    (results / "ner_teacher_casing.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    text = casing_markdown({"meta": meta, "runs": records})
    (results / "ner_teacher_casing.md").write_text(text)
    print(text)  # noqa: T201 (a report script)


if __name__ == "__main__":
    main_or_exit(main, "teacher_casing.py")
