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
        f"Δ {label} vs no KD", "gap closed", "s/epoch (cache on)", "× no KD", "later epochs × no KD",
        "s/epoch (cache off)", "× no KD (cache off)", "peak RSS MB"]
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
    notes = [
        f"Test {label} in % (mean ± std over seeds {seeds}); teacher: one run. "
        f"Data: {data['train']['sentences']} training sentences (a fixed random subset), "
        f"{data['dev']['sentences']} dev (model selection), {data['test']['sentences']} test sentences. "
        f"Students: {meta['epochs']['student']} epochs; cache-off timing runs: {meta['epochs']['timing']} epochs, first seed.",
        "`gap closed` = (KD − no KD) / (teacher − no KD). `s/epoch` = mean training-phase seconds of an epoch "
        "(validation excluded, measured inside each run); `× no KD` divides by the plain student's of the same seed "
        "from the same invocation; `later epochs` leaves out epoch 1, where the cache is filled.",
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, {meta['workers']} runs at a time, "
        f"1 thread each; torch {meta['machine']['torch']}; commit {meta['git_commit']}; {meta['date']}; "
        f"whole suite {meta['wall_seconds'] / 60:.0f} min.",
        f"Command: `{meta['command']}`",
    ]
    out_md = path.with_suffix(".md")
    out_md.write_text(f"### {task.upper()} benchmark\n\n" + "\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n")
    plot(rows, task, label, path.with_suffix(".png"), teacher)
    print(out_md.read_text())  # noqa: T201 (a report script)


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
    ax.set_xlabel("epoch time / no-KD epoch time (o: cache on, x: cache off)")
    ax.set_ylabel(f"test {label} (%)")
    ax.set_title(f"{task.upper()}: accuracy vs training cost")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        render(Path(argument))
