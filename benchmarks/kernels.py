"""Kernel benchmark: ``allennlp_subkd.structures`` vs pytorch-struct (torch-struct).

Compares, on identical inputs (same scores, same lengths, layouts converted):

* ``linear_chain.marginals``  vs ``torch_struct.LinearChainCRF``;
* ``tree.matrix_tree``        vs ``torch_struct.NonProjectiveDependencyCRF``;
* ``tree.eisner``             vs ``torch_struct.DependencyCRF``;

(trees in the single-root and the multi-root variants), first for correctness
(``log Z`` and marginals must agree: the maximum differences are printed and
asserted), then for speed: ``forward`` (``log Z`` and the marginals, as each
library exposes them) and ``forward+backward`` (the same, then
``log_z.sum().backward()``), median of ``--repeats`` runs after ``--warmup``
runs, the two libraries interleaved in one process so that they see the same
machine load.  Inputs are float32 leaves with ``requires_grad=True`` (a
training step: pytorch-struct needs gradients enabled for its marginals
anyway).  The layout conversion is done once, outside the timed region: each
library is timed from its own native input.

It prints a table of milliseconds and the ratio ours / theirs (< 1: ours is
faster).  This is a benchmark, not a test: the numbers are from one run on
one machine.  ``--json`` / ``--markdown`` write the numbers and the machine
description (CPU model, threads, load average, versions, git commit).

    python benchmarks/kernels.py --json benchmarks/results/kernels.json \
        --markdown benchmarks/results/kernels.md

Needs the ``bench`` extra (``pip install -e ".[bench]"``).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from importlib import metadata
from typing import Callable, Dict, List, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from allennlp_subkd.structures import linear_chain, tree  # noqa: E402

try:
    from torch_struct import DependencyCRF, LinearChainCRF, NonProjectiveDependencyCRF
    from torch_struct.deptree import deptree_nonproj, deptree_part
except ImportError:  # pragma: no cover
    sys.exit('pytorch-struct is missing: pip install -c constraints.txt -e ".[bench]"')

# torch.distributions complains that torch-struct's classes define no arg_constraints.
warnings.filterwarnings("ignore", message=".*does not define `arg_constraints`.*")

TIMING_MODES = ("forward", "forward+backward")


# --------------------------------------------------------------------------- #
# Inputs and layout conversions
# --------------------------------------------------------------------------- #
def chain_to_torch_struct(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    lengths: torch.Tensor,
) -> torch.Tensor:
    """AllenNLP's CRF parametrisation -> pytorch-struct's edge potentials.

    ``pot[b, t-1, j, i]`` (``[b, n, z_{n+1}, z_n]``) scores label ``i`` at
    token ``t-1`` followed by ``j`` at token ``t``:
    ``transitions[i, j] + emissions[b, t, j]``, plus
    ``start[i] + emissions[b, 0, i]`` on the first edge and ``end[j]`` on the
    last valid edge of each sentence (all lengths must be >= 2).
    """
    batch, seq_len, _ = emissions.shape
    pot = emissions[:, 1:, :, None] + transitions.t()  # [B, T-1, C(next), C(prev)]
    first = (emissions[:, 0] + start)[:, None, None, :]
    pot = torch.cat([pot[:, :1] + first, pot[:, 1:]], 1)
    last = torch.nn.functional.one_hot(lengths - 2, seq_len - 1).to(emissions.dtype)
    return pot + last[:, :, None, None] * end[None, None, :, None]


def pairwise_from_torch_struct(marginals: torch.Tensor) -> torch.Tensor:
    """``[b, t-1, z_t, z_{t-1}]`` -> ours ``[b, t-1, z_{t-1}, z_t]``."""
    return marginals.transpose(-1, -2)


def tree_to_torch_struct(scores: torch.Tensor) -> torch.Tensor:
    """Ours ``scores[b, d, h]`` (ROOT = index 0, ``[B, N+1, N+1]``) -> pytorch-struct's
    ``x[b, h-1, d-1]`` (head, child over the ``N`` words; ``x[b, d-1, d-1]`` is
    ROOT -> d)."""
    x = scores[:, 1:, 1:].transpose(1, 2).clone()
    idx = torch.arange(x.size(1))
    x[:, idx, idx] = scores[:, 1:, 0]
    return x


def tree_from_torch_struct(marginals: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`tree_to_torch_struct` (diagonal / ROOT row / padding -> 0)."""
    batch, n, _ = marginals.shape
    idx = torch.arange(n)
    out = marginals.new_zeros(batch, n + 1, n + 1)
    out[:, 1:, 0] = marginals[:, idx, idx]
    off = marginals.clone()
    off[:, idx, idx] = 0
    out[:, 1:, 1:] = off.transpose(1, 2)
    return out


def make_inputs(batch: int, length: int, labels: int, seed: int) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=gen)
    lengths[0] = length  # torch-struct's LinearChain wants max(lengths) == N
    mask = torch.arange(length)[None] < lengths[:, None]
    return {
        "lengths": lengths,
        "mask": mask,
        "tree_mask": torch.cat([torch.ones(batch, 1, dtype=torch.bool), mask], 1),
        "emissions": torch.randn(batch, length, labels, generator=gen),
        "transitions": torch.randn(labels, labels, generator=gen),
        "start": torch.randn(labels, generator=gen),
        "end": torch.randn(labels, generator=gen),
        "arc_scores": torch.randn(batch, length + 1, length + 1, generator=gen),
    }


def leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().clone().requires_grad_(True)


# --------------------------------------------------------------------------- #
# The kernels, as each library exposes them
# --------------------------------------------------------------------------- #
class Case:
    """One row: ``ours()`` / ``theirs()`` return ``(log_z, marginals-for-comparison)``."""

    def __init__(self, name: str, ours: Callable, theirs: Callable, leaves_ours, leaves_theirs):
        self.name = name
        self.ours = ours
        self.theirs = theirs
        self.leaves = {"ours": leaves_ours, "theirs": leaves_theirs}

    def run(self, who: str, backward: bool):
        fn = self.ours if who == "ours" else self.theirs
        for x in self.leaves[who]:
            x.grad = None
        log_z, marginals = fn()
        if backward:
            log_z.sum().backward()
        return log_z, marginals


def build_cases(inp: Dict[str, torch.Tensor]) -> List[Case]:
    lengths, mask, tree_mask = inp["lengths"], inp["mask"], inp["tree_mask"]
    cases = []

    em, tr, st, en = (leaf(inp[k]) for k in ("emissions", "transitions", "start", "end"))
    pot = leaf(chain_to_torch_struct(em, tr, st, en, lengths))

    def ours_chain():
        log_z, unary, pairwise = linear_chain.marginals(em, tr, mask, st, en)
        return log_z, pairwise

    def theirs_chain():
        dist = LinearChainCRF(pot, lengths=lengths)
        return dist.partition, pairwise_from_torch_struct(dist.marginals)

    cases.append(Case("linear_chain", ours_chain, theirs_chain, [em, tr, st, en], [pot]))

    for name, ours_fn, theirs_cls in [
        ("matrix_tree", tree.matrix_tree, NonProjectiveDependencyCRF),
        ("eisner", tree.eisner, DependencyCRF),
    ]:
        for multiroot in (False, True):
            suffix = "multi-root" if multiroot else "single-root"
            scores = leaf(inp["arc_scores"])
            x = leaf(tree_to_torch_struct(inp["arc_scores"]))

            def ours(scores=scores, multiroot=multiroot, ours_fn=ours_fn):
                return ours_fn(scores, tree_mask, multiroot=multiroot)

            def theirs(x=x, multiroot=multiroot, theirs_cls=theirs_cls):
                # DependencyCRF stores ``multiroot`` on the (shared) DepTree class:
                # read both properties right after construction.
                dist = theirs_cls(x, lengths=lengths, multiroot=multiroot)
                return dist.partition, tree_from_torch_struct(dist.marginals)

            cases.append(Case(f"{name} {suffix}", ours, theirs, [scores], [x]))
    return cases


# --------------------------------------------------------------------------- #
# Correctness
# --------------------------------------------------------------------------- #
def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.detach().double() - b.detach().double()).abs().max().item()


def check(cases: List[Case], inp: Dict[str, torch.Tensor]) -> Dict[str, Dict[str, float]]:
    """Both libraries on the float32 benchmark input; for the Matrix-Tree rows also
    pytorch-struct's formula with its ``eps`` (1e-5 added to every ``exp(score)``)
    set to 0, in float64, which isolates the effect of that ``eps``."""
    out = {}
    print("Correctness on the benchmark input (max |ours - theirs|):")
    for case in cases:
        lz_o, m_o = case.run("ours", backward=False)
        lz_t, m_t = case.run("theirs", backward=False)
        rec = {"log_z": max_diff(lz_o, lz_t), "marginals": max_diff(m_o, m_t)}
        line = f"  {case.name:<24} float32: log Z {rec['log_z']:.2e}  marginals {rec['marginals']:.2e}"
        if case.name.startswith("matrix_tree"):
            # pytorch-struct adds eps=1e-5 to every arc weight: a bias, not noise.
            multiroot = "multi" in case.name
            s64 = inp["arc_scores"].double()
            x64 = tree_to_torch_struct(s64)
            lz64, m64 = tree.matrix_tree(s64, inp["tree_mask"], multiroot=multiroot)
            for eps in (1e-5, 0.0):
                p = deptree_part(x64, multiroot, inp["lengths"], eps=eps)
                m = tree_from_torch_struct(deptree_nonproj(x64, multiroot, inp["lengths"], eps=eps))
                key = "float64_eps0" if eps == 0 else "float64_eps1e-5"
                rec[key] = {"log_z": max_diff(lz64, p), "marginals": max_diff(m64, m)}
                line += f"\n  {'':<24} float64, their eps={eps:g}: log Z {rec[key]['log_z']:.2e}  marginals {rec[key]['marginals']:.2e}"
            # The eps-free formula must agree to round-off; the library as
            # shipped differs by its eps bias (~1e-2 in log Z at n = 40).
            assert rec["float64_eps0"]["log_z"] < 1e-9 and rec["float64_eps0"]["marginals"] < 1e-9, rec
            assert rec["log_z"] < 5e-2 and rec["marginals"] < 1e-3, rec
        else:
            assert torch.allclose(lz_o, lz_t, rtol=1e-5, atol=1e-4), rec
            assert torch.allclose(m_o, m_t, rtol=1e-4, atol=1e-4), rec
        print(line)
        out[case.name] = rec
    return out


# --------------------------------------------------------------------------- #
# Timing
# --------------------------------------------------------------------------- #
def quartiles(samples: List[float]) -> List[float]:
    q = statistics.quantiles(samples, n=4)
    return [q[0], q[2]]


def time_cases(cases: List[Case], repeats: int, warmup: int) -> List[Dict]:
    rows = []
    for case in cases:
        for mode in TIMING_MODES:
            backward = mode != "forward"
            for _ in range(warmup):
                case.run("ours", backward)
                case.run("theirs", backward)
            samples = {"ours": [], "theirs": []}
            for rep in range(repeats):
                # Interleaved, alternating order: both see the same load.
                order = ("ours", "theirs") if rep % 2 == 0 else ("theirs", "ours")
                for who in order:
                    t0 = time.perf_counter()
                    case.run(who, backward)
                    samples[who].append((time.perf_counter() - t0) * 1e3)
            ours = statistics.median(samples["ours"])
            theirs = statistics.median(samples["theirs"])
            row = {
                "kernel": case.name,
                "mode": mode,
                "ours_ms": ours,
                "theirs_ms": theirs,
                "ratio": ours / theirs,
                "ours_quartiles_ms": quartiles(samples["ours"]),
                "theirs_quartiles_ms": quartiles(samples["theirs"]),
                "ours_samples_ms": samples["ours"],
                "theirs_samples_ms": samples["theirs"],
            }
            print(f"  {case.name:<24} {mode:<17} ours {ours:9.2f} ms  theirs {theirs:9.2f} ms  ratio {ours / theirs:6.3f}")
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- #
# Machine description and reports
# --------------------------------------------------------------------------- #
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=root, text=True).strip()
        dirty = subprocess.check_output(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, text=True
        ).strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> Tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def machine_info(threads: int) -> Dict:
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_struct": metadata.version("torch-struct"),
        "platform": platform.platform(),
        "git_commit": git_commit(),
    }


def markdown(report: Dict) -> str:
    cfg, mach = report["config"], report["machine"]
    lines = [
        "# Kernel benchmark: allennlp_subkd.structures vs pytorch-struct",
        "",
        f"Command: `{report['command']}` (what `make bench-kernels` runs, after installing the "
        "`bench` extra)",
        "",
        f"Date (UTC): {report['date_utc']}  ",
        f"Machine: {mach['cpu_model']}, {mach['logical_cpus']} logical CPUs, "
        f"torch threads = {mach['torch_threads']}, {mach['platform']}  ",
        f"Load average (1/5/15 min) at start: {' / '.join(f'{x:.2f}' for x in report['load_average_start'])}, "
        f"at end: {' / '.join(f'{x:.2f}' for x in report['load_average_end'])}  ",
        f"Versions: Python {mach['python']}, torch {mach['torch']}, torch-struct {mach['torch_struct']}, "
        f"commit {mach['git_commit']}",
        "",
        f"float32, B = {cfg['batch']}, n = {cfg['length']} words / tokens, C = {cfg['labels']} labels, "
        f"lengths uniform in [{cfg['length'] // 2}, {cfg['length']}] (the same for both libraries), "
        f"seed {cfg['seed']}; median of {cfg['repeats']} runs after {cfg['warmup']} warm-up runs, "
        "the two libraries interleaved. *forward*: log Z and the marginals as each library exposes "
        "them (pytorch-struct: `dist.partition` and `dist.marginals`); *forward+backward*: the same, "
        "then `log_z.sum().backward()`. Ratio < 1: ours is faster.",
        "",
        "| kernel | pytorch-struct | mode | ours (ms) | theirs (ms) | ours / theirs | ours q1-q3 (ms) | theirs q1-q3 (ms) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    theirs_name = {
        "linear_chain": "LinearChainCRF",
        "matrix_tree": "NonProjectiveDependencyCRF",
        "eisner": "DependencyCRF",
    }
    for row in report["timings"]:
        base = row["kernel"].split()[0]
        lines.append(
            f"| `{row['kernel']}` | `{theirs_name[base]}` | {row['mode']} | {row['ours_ms']:.2f} "
            f"| {row['theirs_ms']:.2f} | {row['ratio']:.3f} "
            f"| {row['ours_quartiles_ms'][0]:.2f}-{row['ours_quartiles_ms'][1]:.2f} "
            f"| {row['theirs_quartiles_ms'][0]:.2f}-{row['theirs_quartiles_ms'][1]:.2f} |"
        )
    lines += [
        "",
        "Correctness on the same input (max absolute difference, ours vs pytorch-struct):",
        "",
        "| kernel | log Z | marginals |",
        "| --- | ---: | ---: |",
    ]
    for name, rec in report["correctness"].items():
        lines.append(f"| `{name}` float32 | {rec['log_z']:.1e} | {rec['marginals']:.1e} |")
        for key, label in (("float64_eps1e-5", "float64, their eps = 1e-5 (as shipped)"),
                           ("float64_eps0", "float64, their formula with eps = 0")):
            if key in rec:
                lines.append(
                    f"| `{name}` {label} | {rec[key]['log_z']:.1e} | {rec[key]['marginals']:.1e} |"
                )
    lines += [
        "",
        "pytorch-struct's Matrix-Tree code (`deptree_part` / `deptree_nonproj`) adds `eps = 1e-5` "
        "to every `exp(score)`, padding arcs included: its log Z and marginals are biased by that "
        "much. With `eps = 0` its formula agrees with ours to round-off (ours is checked against "
        "brute-force enumeration in `tests/structures/test_tree.py`).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--labels", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="run only the kernels whose name contains this")
    parser.add_argument("--json", default=None, help="write the numbers and machine info here")
    parser.add_argument("--markdown", default=None, help="write the table here")
    args = parser.parse_args()
    if args.repeats < 20:
        parser.error("--repeats must be >= 20")
    if args.length < 4:
        parser.error("--length must be >= 4 (pytorch-struct's linear chain needs 2 tokens a sentence)")

    torch.set_num_threads(args.threads)
    load_start = load_average()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    mach = machine_info(torch.get_num_threads())
    print(
        f"{mach['cpu_model']} | {mach['logical_cpus']} CPUs | torch {mach['torch']} "
        f"({mach['torch_threads']} thread(s)) | torch-struct {mach['torch_struct']} | "
        f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}"
    )

    inp = make_inputs(args.batch, args.length, args.labels, args.seed)
    cases = build_cases(inp)
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    correctness = check(cases, inp)
    print(
        f"Timing (float32, B={args.batch}, n={args.length}, C={args.labels}, "
        f"median of {args.repeats}):"
    )
    timings = time_cases(cases, args.repeats, args.warmup)
    load_end = load_average()

    report = {
        "command": " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable)] + sys.argv),
        "date_utc": date,
        "load_average_start": list(load_start),
        "load_average_end": list(load_end),
        "machine": mach,
        "config": {
            "batch": args.batch,
            "length": args.length,
            "labels": args.labels,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "seed": args.seed,
            "dtype": "float32",
            "lengths": inp["lengths"].tolist(),
        },
        "correctness": correctness,
        "timings": timings,
    }
    print()
    print("| kernel | mode | ours (ms) | theirs (ms) | ours / theirs |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in timings:
        print(
            f"| {row['kernel']} | {row['mode']} | {row['ours_ms']:.2f} | {row['theirs_ms']:.2f} "
            f"| {row['ratio']:.3f} |"
        )
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w") as f:
            f.write(markdown(report))


if __name__ == "__main__":
    main()
