"""
Where an archived tagger spends its CPU time at inference: batching (padding and tensors), each
token embedder, the encoder, the tag projection and the CRF's Viterbi decoding.

    python benchmarks/profile_student.py [--archives LABEL=PATH ...] [--caps 0 50] [--data TEST.conll]

For each archive (default: `char_cap.py`'s students) and each character cap (0 = the archive as trained,
N = `capped_characters` put in at load time as `char_cap.py` does), one process with one thread
reads the test file and runs the model over it in batches of 32 in file order after one warm-up
batch, with a timer around each part (`time.perf_counter` around each module's `forward`, the
CRF's `viterbi_tags` and the batching); the pass is repeated `--repeats` times and the median
pass is kept. The parts do not add up to the whole: what is left is the rest of the model's
`forward` (masks, dropout in eval mode, the output dictionary). Run it with nothing else on the
machine. Writes `benchmarks/results/student_profile.json`; `report.py` renders it.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
import char_cap  # noqa: E402
import throughput  # noqa: E402
from run import ROOT, git_commit, machine  # noqa: E402


def timed(record: Dict[str, float], name: str, function: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            record[name] += time.perf_counter() - start
    return wrapper


def profile(archive: str, cap: int, data: str, batch_size: int = 32, repeats: int = 3) -> Dict:
    """Seconds per part of one pass over `data` (the median pass), in this process."""
    import torch
    from allennlp.data import Batch

    model, reader = throughput.load(archive, char_cap.overrides(cap))
    instances, batches = throughput.indexed_batches(model, reader, data, batch_size)
    parts: Dict[str, float] = defaultdict(float)
    for name, embedder in model.text_field_embedder._token_embedders.items():
        embedder.forward = timed(parts, f"embedder: {name}", embedder.forward)
    for name in ("encoder", "tag_projection_layer"):
        module = getattr(model, name, None)
        if module is not None:
            module.forward = timed(parts, name, module.forward)
    if hasattr(model, "crf"):
        model.crf.viterbi_tags = timed(parts, "Viterbi decoding", model.crf.viterbi_tags)

    def one_pass(batches):
        for batch in batches:
            start = time.perf_counter()
            tensors = Batch(batch).as_tensor_dict()
            parts["batching"] += time.perf_counter() - start
            start = time.perf_counter()
            output = model(**tensors)
            parts["model forward"] += time.perf_counter() - start
            model.make_output_human_readable(output)

    passes = []
    with torch.no_grad():
        one_pass(batches[:1])  # warm-up
        for _ in range(repeats):
            parts.clear()
            start = time.perf_counter()
            one_pass(batches)
            passes.append((time.perf_counter() - start, dict(parts)))
    total, kept = sorted(passes, key=lambda p: p[0])[len(passes) // 2]
    widths = [Batch(b).get_padding_lengths() for b in batches]
    return {"archive": archive, "cap": cap, "seconds": total, "parts": kept, "pass_seconds": [p[0] for p in passes],
            "words": sum(len(i["metadata"]["words"]) for i in instances), "threads": torch.get_num_threads(),
            "mean_character_width": statistics.mean(
                w["tokens"].get("token_characters___num_token_characters", 0) for w in widths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--archives", nargs="+", default=None, help="LABEL=PATH of each archive")
    parser.add_argument("--caps", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / char_cap.SPLITS["test"]))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)  # the child: ARCHIVE CAP
    args = parser.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(1)
        print(json.dumps(profile(args.one[0], int(args.one[1]), args.data, repeats=args.repeats)))  # noqa: T201
        return
    if args.repeats < 1 or any(cap < 0 for cap in args.caps):
        parser.error("--repeats must be >= 1 and a cap >= 0 (0: none)")
    archives = char_cap.parse_archives(args.archives)
    if not args.archives:  # char_cap.py's students: the teacher's time is its transformer's
        archives = {label: path for label, path in archives.items() if not label.startswith("teacher")}
    for label, path in archives.items():
        if not Path(path).is_file():
            parser.error(f"{label}: no archive at {path}")
    started = time.perf_counter()
    records = []
    for label, archive in archives.items():
        for cap in args.caps:
            done = subprocess.run([sys.executable, __file__, "--one", archive, str(cap), "--data", args.data,
                                   "--repeats", str(args.repeats)], env=throughput.child_env(1), capture_output=True, text=True, check=True)
            record = {"label": label, **json.loads(done.stdout.strip().splitlines()[-1])}
            print(f"{label}, cap {cap or 'none'}: {record['words'] / record['seconds']:,.0f} words/s")  # noqa: T201
            records.append(record)
    meta = {"command": shlex.join(["python", "benchmarks/profile_student.py", *sys.argv[1:]]), "data": args.data,
            "repeats": args.repeats, "wall_seconds": time.perf_counter() - started, "machine": machine(),
            "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    result = {"meta": meta, "runs": records}
    out = Path(args.results_dir) / "student_profile.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    from report import profile_markdown

    (out.parent / "student_profile.md").write_text(profile_markdown(result))


if __name__ == "__main__":
    main()
