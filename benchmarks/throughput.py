"""
CPU inference throughput and size of archived models, measured the same way for all.

For each archive and each thread count, a fresh process loads the archive, reads the data file
with the archive's own dataset reader, and times `model.forward_on_instances` (the network,
decoding and the human-readable output, as `allennlp predict` runs them) over the whole file in
batches of `--batch-size` in file order, after one warm-up batch, `--repeats` times (the median
pass counts; every pass is kept). Prints and writes (`--json`) sentences/s, tokens/s and the
parameter count.

    python benchmarks/throughput.py A.tar.gz [B.tar.gz ...] --data test.conll [--threads 1 2]
        [--labels teacher student ...] [--overrides JSON] [--json out.json]

`--json` writes `{"meta": {command, machine, commit, date, ...}, "runs": [...]}`, each run with its
`--labels` name; `benchmarks/report.py` renders it (`speed_markdown`). Measure on a quiet machine:
nothing else may run beside it.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Tuple


def child_env(threads: int) -> Dict[str, str]:
    """The environment of a timing child process: `threads` OpenMP / MKL threads, no warnings, no
    AllenNLP info logging on its stdout."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                PYTHONWARNINGS="ignore", ALLENNLP_LOG_LEVEL="WARNING")


def load(archive: str, overrides: str = ""):
    """The archive's model (eval mode) and dataset reader, loaded on the CPU with `overrides` (JSON,
    as `allennlp predict --overrides`)."""
    from allennlp.models.archival import load_archive

    import allennlp_subkd  # noqa: F401

    loaded = load_archive(archive, cuda_device=-1, overrides=overrides)
    return loaded.model.eval(), loaded.dataset_reader


def indexed_batches(model, reader, data: str, batch_size: int) -> Tuple[List, List[List]]:
    """`data` read by `reader` and indexed with the model's vocabulary (outside any timing): the
    instances, and them in batches of `batch_size` in file order."""
    instances = list(reader.read(data))
    for instance in instances:
        instance.index_fields(model.vocab)
    return instances, [instances[i:i + batch_size] for i in range(0, len(instances), batch_size)]


def measure(archive: str, data: str, batch_size: int, repeats: int = 1, overrides: str = "") -> Dict:
    import statistics

    import torch

    model, reader = load(archive, overrides)
    instances, batches = indexed_batches(model, reader, data, batch_size)
    passes = []
    with torch.no_grad():
        model.forward_on_instances(batches[0])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for batch in batches:
                model.forward_on_instances(batch)
            passes.append(time.perf_counter() - start)
    seconds = statistics.median(passes)
    tokens = sum(len(instance["metadata"]["words"]) for instance in instances)
    return {
        "archive": archive, "threads": torch.get_num_threads(), "batch_size": batch_size,
        "sentences": len(instances), "tokens": tokens, "seconds": seconds, "pass_seconds": passes,
        "sentences_per_second": len(instances) / seconds, "tokens_per_second": tokens / seconds,
        "parameters": sum(p.numel() for p in model.parameters()), "overrides": overrides,
    }


def run(archives: List[str], data: str, threads: List[int], batch_size: int = 32, repeats: int = 1,
        overrides: str = "") -> List[Dict]:
    """Each (archive, threads) in its own process, one after the other; `overrides` (JSON, as
    `allennlp predict --overrides`) applies to every archive's config."""
    results = []
    for archive in archives:
        for count in threads:
            out = subprocess.run(
                [sys.executable, __file__, "--one", archive, "--data", data, "--batch-size", str(batch_size),
                 "--repeats", str(repeats), "--overrides", overrides],
                env=child_env(count), capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{archive}: {count} thread(s): {result['sentences_per_second']:.1f} sentences/s, "  # noqa: T201
                  f"{result['tokens_per_second']:.0f} tokens/s, {result['parameters']:,} parameters")
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("archives", nargs="*")
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the file (the median counts)")
    parser.add_argument("--overrides", default="",
                        help="JSON overrides of every archive's config, as `allennlp predict --overrides`")
    parser.add_argument("--json", default=None)
    parser.add_argument("--labels", nargs="+", default=None, help="a name per archive (default: the paths)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        print(json.dumps(measure(args.one, args.data, args.batch_size, args.repeats, args.overrides)))  # noqa: T201
        return
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    labels = args.labels or args.archives
    if len(labels) != len(args.archives):
        parser.error(f"{len(labels)} --labels for {len(args.archives)} archives")
    started = time.perf_counter()
    results = run(args.archives, args.data, args.threads, args.batch_size, args.repeats, args.overrides)
    for index, result in enumerate(results):  # run() goes archive by archive, each over every thread count
        result["label"] = labels[index // len(args.threads)]
    if args.json:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from run import git_commit, machine

        meta = {"command": shlex.join(["python", "benchmarks/throughput.py", *sys.argv[1:]]), "data": args.data,
                "batch_size": args.batch_size, "repeats": args.repeats, "threads": args.threads,
                "wall_seconds": time.perf_counter() - started, "machine": machine(), "git_commit": git_commit(),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        with open(args.json, "w") as out:
            json.dump({"meta": meta, "runs": results}, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
