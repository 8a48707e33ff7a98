"""
Load check (not a test): predict N sentences (default 50,000) with a student archive through its
predictor in one process, batch by batch, and report sentences/s and memory: the resident set
size sampled after every batch, its peak, and its growth over the second half of the run (memory
that grows with the number of batches would show there). The sentences cycle through a data
file's sentences (each line of a CoNLL file's first column / a CoNLL-U file's words), so every
batch is real text.

    python scripts/load_check.py ARCHIVE DATA [--sentences 50000] [--batch-size 64] [--threads 1]
        [--json benchmarks/results/load_check.json]
"""
import argparse
import itertools
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """The process's current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def read_sentences(path: str):
    """[(words, pos or None)] of a CoNLL-2003 (.conll) or CoNLL-U (.conllu) file."""
    sentences, words, tags = [], [], []
    conllu = path.endswith(".conllu")
    for line in Path(path).read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append((words, tags if conllu else None))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        columns = line.split("\t") if conllu else line.split()
        if conllu:
            if not columns[0].isdigit():
                continue
            words.append(columns[1])
            tags.append(columns[3])
        else:
            words.append(columns[0])
    return sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("archive")
    parser.add_argument("data")
    parser.add_argument("--sentences", type=int, default=50000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    import allennlp_subkd  # noqa: F401
    from allennlp.models.archival import load_archive
    from allennlp.predictors import Predictor

    archive = load_archive(args.archive)
    model = archive.model
    parser = hasattr(model, "arc_attention") or getattr(model, "reads_pos_tags", False)
    predictor = Predictor.from_archive(archive, "pretokenized_parser" if parser else "pretokenized_tagger")
    source = read_sentences(args.data)
    inputs = ({"tokens": w, **({"pos": p} if p else {})} for w, p in itertools.cycle(source))
    samples, done, words = [], 0, 0
    start_rss = rss_mb()
    start = time.perf_counter()
    while done < args.sentences:
        batch = [next(inputs) for _ in range(min(args.batch_size, args.sentences - done))]
        outputs = predictor.predict_batch_json(batch)
        assert len(outputs) == len(batch)
        done += len(batch)
        words += sum(len(b["tokens"]) for b in batch)
        samples.append((done, time.perf_counter() - start, rss_mb()))
    seconds = time.perf_counter() - start
    half = [rss for n, _, rss in samples if n >= args.sentences // 2]
    result = {
        "archive": args.archive, "model": type(predictor._model).__name__, "data": args.data,
        "sentences": done, "words": words, "batch_size": args.batch_size, "threads": args.threads,
        "seconds": seconds, "sentences_per_second": done / seconds, "words_per_second": words / seconds,
        "rss_mb_after_load": start_rss, "rss_mb_after_first_batch": samples[0][2],
        "rss_mb_at_half": half[0], "rss_mb_at_end": samples[-1][2],
        "growth_mb_second_half": samples[-1][2] - half[0],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_mb_every_10_percent": [samples[min(len(samples) - 1, i * len(samples) // 10)][2] for i in range(11)],
        "command": " ".join(["python", "scripts/load_check.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
