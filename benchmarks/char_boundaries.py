"""
Word-boundary symbols for the character CNN, chosen on dev: do words of one or two characters need
a character vector?

AllenNLP's `cnn` encoder masks every window that reaches past a word's last character, so with the
configs' filters of width 3 a word of one or two characters ("I", "US", "UK", ",") gets an
all-zero character vector (`character_encoding` in allennlp-models' configs does the same). For
the static-subword and transformer students and the transformer teacher that vector is the only
casing signal (all-MiniLM-L6-v2 is uncased): "US" and "us" look the same to them. The usual
remedy is a start and an end symbol around each word (`<w>US</w>`: four characters, two windows),
a `character_tokenizer` of the `capped_characters` indexer (`common.libsonnet`'s `word_boundaries`).

Trains `training_configs/{--config}.jsonnet` (default: the NER static-subword student with no KD) on
the full UNER-EWT training set once without and once with the symbols per seed (`--epochs`,
one thread per run, `--workers` runs at a time: epoch times are a cost, not a speed), and reports
the best dev F1 (the choice), the test F1 and the UNER-PUD F1 of that epoch (`allennlp evaluate`
with the checked reader), and how many words are that short. Finished runs are reused. Writes
`benchmarks/results/char_boundaries.{json,md}`.

    python benchmarks/char_boundaries.py [--seeds 3] [--epochs 10] [--workers 2]
"""
import argparse
import concurrent.futures
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transfer  # noqa: E402
from run import ROOT, gather, git_commit, machine, main_or_exit, train  # noqa: E402

logger = logging.getLogger("char_boundaries")

INDEXER = "dataset_reader.token_indexers.token_characters.character_tokenizer"
#: variant -> the character tokenizer of the `token_characters` indexer (None: the configs' own)
VARIANTS = {
    "no boundary symbols (the configs)": None,
    "<w> … </w> around each word": {"start_tokens": ["<w>"], "end_tokens": ["</w>"]},
}
FILES = {"train": "uner_ewt/en_ewt-uner-train.conll", "dev": "uner_ewt/en_ewt-uner-dev.conll",
         "test": "uner_ewt/en_ewt-uner-test.conll", "ood": "uner_pud/en_pud-uner-test.conll"}
WIDTH = 3  # the configs' character filters


def short_words(path: Path) -> Dict[str, float]:
    """Of a CoNLL file's words: the share shorter than a filter, and of the words inside an entity
    the share shorter than a filter that hold an upper-case letter ("US", "EU")."""
    words = entity = short = short_entity_cased = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if not columns or line.startswith("#"):
            continue
        word, tag = columns[0], columns[-1]
        words += 1
        short += len(word) < WIDTH
        if tag != "O":
            entity += 1
            short_entity_cased += len(word) < WIDTH and any(c.isupper() for c in word)
    return {"words": words, "short": short / max(words, 1), "entity_words": entity,
            "short_cased_of_entity": short_entity_cased / max(entity, 1)}


def one_run(config: str, variant: str, seed: int, epochs: int, data: Path, runs: Path) -> Dict:
    out = runs / f"v{list(VARIANTS).index(variant)}_s{seed}"
    overrides = {"train_data_path": str(data / FILES["train"]), "validation_data_path": str(data / FILES["dev"]),
                 "test_data_path": str(data / FILES["test"]), "trainer.num_epochs": epochs,
                 **transfer.seeded(seed)}
    if VARIANTS[variant] is not None:
        overrides[INDEXER] = VARIANTS[variant]
    train(config, out, overrides, runs / f"{out.name}.log", threads=1)
    # its scores and epoch times, the out-of-domain file evaluated once, as the transfer suites' runs
    result = transfer.finished(out, {"ood": {"path": str(data / FILES["ood"])}, "checked_reader": "checked_conll2003"}, 1)
    metrics, later = result["metrics"], result["epoch_seconds"][1:] or result["epoch_seconds"]
    return {"variant": variant, "seed": seed, "dev": 100 * metrics["best_validation_f1-measure-overall"],
            "test": 100 * metrics["test_f1-measure-overall"], "ood": 100 * result["ood"]["f1-measure-overall"],
            "best_epoch": metrics["best_epoch"], "epoch_seconds_mean": statistics.mean(later)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--config", default="ner_static_subword_baseline")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "char_boundaries"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    data = Path(args.data_dir).resolve()
    for name in FILES.values():
        if not (data / name).is_file():
            parser.error(f"no {data / name}: --data-dir names the folder of ../shared/data")
    if not (ROOT / "training_configs" / f"{args.config}.jsonnet").is_file():
        parser.error(f"no training_configs/{args.config}.jsonnet")
    runs = Path(args.runs_dir) / args.config
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seeds = [13 + 10 * i for i in range(args.seeds)]
    jobs = [(variant, seed) for seed in seeds for variant in VARIANTS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(one_run, args.config, variant, seed, args.epochs, data, runs) for variant, seed in jobs]
        records: List[Dict] = gather([(f"{variant} seed {seed}", future) for (variant, seed), future in zip(jobs, futures)])
    meta = {"command": " ".join(["python", "benchmarks/char_boundaries.py", *sys.argv[1:]]), "config": args.config,
            "epochs": args.epochs, "seeds": seeds, "workers": args.workers, "width": WIDTH,
            "short_words": {split: short_words(data / name) for split, name in FILES.items()},
            "wall_seconds": time.perf_counter() - started, "machine": machine(), "git_commit": git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    result = {"meta": meta, "runs": records}
    out = Path(args.results_dir) / "char_boundaries.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    from report import char_boundaries_markdown

    (out.parent / "char_boundaries.md").write_text(char_boundaries_markdown(result))
    logger.info("wrote %s", out)


if __name__ == "__main__":
    main_or_exit(main, "char_boundaries.py")
