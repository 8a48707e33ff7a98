"""Render a benchmark result file (`benchmarks/results/{task}.json`) as a Markdown table
(`{task}.md`) and a plot of test accuracy against the epoch-time ratio (`{task}.png`).

    python benchmarks/report.py benchmarks/results/ner.json
"""
import json
import statistics
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List

MAIN_METRIC = {"ner": ("f1-measure-overall", "F1"), "dep": ("LAS", "LAS")}
EXTRA_METRIC = {"dep": ("UAS", "UAS")}


def mean_std(values: List[float]) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def summarise(runs: List[Dict], task: str) -> "OrderedDict[str, Dict]":
    key, _ = MAIN_METRIC[task]
    rows: "OrderedDict[str, Dict]" = OrderedDict()
    for run in runs:
        row = rows.setdefault(run["method"], {"cached": [], "uncached": []})
        row["cached" if run["cache"] or run["method"] == "teacher" else "uncached"].append(run)
    for method, row in rows.items():
        cached = row["cached"]
        row["main"] = [r["test"][key] for r in cached]
        if task in EXTRA_METRIC:
            row["extra"] = [r["test"][EXTRA_METRIC[task][0]] for r in cached]
    return rows


def render(path: Path) -> None:
    result = json.loads(path.read_text())
    meta, runs = result["meta"], result["runs"]
    task = runs[0]["task"]
    key, label = MAIN_METRIC[task]
    rows = summarise(runs, task)
    teacher = statistics.mean(rows["teacher"]["main"])
    plain = statistics.mean(rows["no KD"]["main"])
    gap = teacher - plain
    extra = EXTRA_METRIC.get(task)

    header = ["method", f"test {label}"] + ([f"test {extra[1]}"] if extra else []) + [
        f"Δ {label} vs no KD", "gap closed", "s/epoch (cache warm)", "× no KD", "later epochs × no KD",
        "s/epoch (cache cold)", "× no KD (cache cold)", "peak RSS MB"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, row in rows.items():
        cached, uncached = row["cached"], row["uncached"]
        cells = [method, mean_std(row["main"])]
        if extra:
            cells.append(mean_std(row["extra"]))
        if method == "teacher":
            cells += [f"{100 * (teacher - plain):+.2f}", "", f"{cached[0]['epoch_seconds_mean']:.1f}", "", "", "", "", f"{cached[0]['peak_rss_mb']:.0f}"]
        else:
            delta = statistics.mean(row["main"]) - plain
            closed = f"{100 * delta / gap:.0f} %" if method != "no KD" and gap > 0 else ""
            cells += [f"{100 * delta:+.2f}" if method != "no KD" else "", closed,
                      f"{statistics.mean(r['epoch_seconds_mean'] for r in cached):.1f}",
                      f"{statistics.mean(r['ratio_to_plain'] for r in cached):.2f}",
                      f"{statistics.mean(r['later_ratio_to_plain'] for r in cached):.2f}",
                      f"{uncached[0]['epoch_seconds_mean']:.1f}" if uncached else "",
                      f"{uncached[0]['ratio_to_plain']:.2f}" if uncached else "",
                      f"{max(r['peak_rss_mb'] for r in cached):.0f}"]
        lines.append("| " + " | ".join(cells) + " |")

    data = meta["data"]
    seeds = meta["seeds"]
    cache_note = ""
    if meta.get("cache_fill_seconds") is not None:
        size = meta.get("cache_dir_mb", {})
        entries = meta.get("cache_entries") or 1
        cache_note = (
            f" Cache warm: the teacher's outputs were computed once into the disk cache by "
            f"`allennlp fill-teacher-cache` ({meta['cache_fill_seconds'] / 60:.1f} min for the training set, "
            f"{entries} entries, {size.get('entries_mb', 0):.1f} MB of entries = "
            f"{10000 * size.get('entries_mb', 0) / entries:.1f} MB per 10k sentences, "
            f"{size.get('on_disk_mb', 0):.1f} MB on disk); every KD student reads it. Cache cold: no cache, "
            f"the teacher runs on every batch (the first epoch of a run with an empty cache).")
    subset = "the full training set" if meta.get("data_full") else "a fixed random subset"
    notes = [
        f"Test {label} in % (mean ± std over seeds {seeds}); teacher ({meta.get('teacher_config', 'teacher')}): one run. "
        f"Data: {data['train']['sentences']} training sentences ({subset}), "
        f"{data['dev']['sentences']} dev (model selection), {data['test']['sentences']} test sentences. "
        f"Teacher: {meta['epochs']['teacher']} epochs "
        f"({sum(rows['teacher']['cached'][0]['epoch_seconds']) / 60:.0f} min of training epochs, validation excluded); "
        f"students: {meta['epochs']['student']} epochs; "
        f"cache-cold timing runs: {meta['epochs']['timing']} epoch(s), first seed.",
        "`gap closed` = (KD − no KD) / (teacher − no KD). `s/epoch` = mean training-phase seconds of an epoch "
        "(validation excluded, measured inside each run); `× no KD` divides by the plain student's of the same seed "
        "from the same invocation; `later epochs` leaves out epoch 1, where the memory cache is filled."
        + cache_note,
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, {meta['workers']} runs at a time, "
        f"1 thread each; torch {meta['machine']['torch']}; commit {meta['git_commit']}; {meta['date']}; "
        f"whole suite {meta['wall_seconds'] / 60:.0f} min.",
        f"Command: `{meta['command']}`",
    ]
    speed = speed_table(rows, teacher, label)
    out_md = path.with_suffix(".md")
    out_md.write_text(f"### {task.upper()} benchmark\n\n" + "\n".join(lines) + "\n\n" + speed
                      + "\n\n".join(notes) + "\n")
    plot(rows, task, label, path.with_suffix(".png"), teacher)
    if speed:
        plot_speed(rows, task, label, path.with_name(path.stem + "_speed.png"))
    print(out_md.read_text())  # noqa: T201 (a report script)


def _speed_runs(rows) -> List:
    """(method, first-seed run with a throughput measurement, mean test score) per method."""
    out = []
    for method, row in rows.items():
        measured = [r for r in row["cached"] if r.get("throughput")]
        if measured:
            out.append((method, measured[0], statistics.mean(row["main"])))
    return out


def speed_table(rows, teacher: float, label: str) -> str:
    """Size, CPU inference throughput and score retained, teacher and students."""
    runs = _speed_runs(rows)
    if not runs:
        return ""
    threads = sorted({t for _, r, _ in runs for t in r["throughput"]}, key=int)
    header = ["model", "parameters"] + [f"sentences/s ({t} thr)" for t in threads] + \
        [f"tokens/s ({t} thr)" for t in threads] + [f"test {label}", f"{label} retained"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, run, score in runs:
        cells = [method, f"{run['parameters'] / 1e6:.2f} M"]
        cells += [f"{run['throughput'][t]['sentences_per_second']:.0f}" for t in threads]
        cells += [f"{run['throughput'][t]['tokens_per_second']:.0f}" for t in threads]
        cells += [f"{100 * score:.2f}", f"{100 * score / teacher:.0f} %"]
        lines.append("| " + " | ".join(cells) + " |")
    return ("Size and CPU inference speed (test set, batch 32, `model.forward_on_instances` incl. decoding, "
            "after one warm-up batch; each model in its own process, nothing else running; first-seed "
            f"archive of each method; `retained` = test {label} / the teacher's):\n\n" + "\n".join(lines) + "\n\n")


def plot_speed(rows, task: str, label: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for method, run, score in _speed_runs(rows):
        speed = run["throughput"]["1"]["sentences_per_second"]
        ax.plot(speed, 100 * score, "s" if method == "teacher" else "o", label=method)
    ax.set_xscale("log")
    ax.set_xlabel("CPU inference, sentences/s (1 thread, batch 32; log scale)")
    ax.set_ylabel(f"test {label} (%)")
    ax.set_title(f"{task.upper()}: accuracy vs inference speed")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out)


def plot(rows, task: str, label: str, out: Path, teacher: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for method, row in rows.items():
        if method == "teacher":
            continue
        cached = row["cached"]
        x = statistics.mean(r["ratio_to_plain"] for r in cached)
        ys = [100 * v for v in row["main"]]
        y = statistics.mean(ys)
        err = statistics.stdev(ys) if len(ys) > 1 else 0.0
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=method)
        if row["uncached"]:
            xu = row["uncached"][0]["ratio_to_plain"]
            ax.plot([x, xu], [y, y], ":", color="grey", linewidth=0.8)
            ax.plot(xu, y, "x", color="grey")
    ax.axhline(100 * teacher, linestyle="--", color="black", linewidth=0.8, label="teacher")
    ax.set_xlabel("epoch time / no-KD epoch time (o: cache warm, x: cache cold)")
    ax.set_ylabel(f"test {label} (%)")
    ax.set_title(f"{task.upper()}: accuracy vs training cost")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        render(Path(argument))
