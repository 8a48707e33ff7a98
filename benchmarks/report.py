"""Render the committed benchmark results (`benchmarks/results/*.json`): the JSON is the source,
every table in the Markdown files is rendered from it, never typed.

    python benchmarks/report.py benchmarks/results/ner.json    # results/ner.md, ner.png, ner_speed.png
    python benchmarks/report.py benchmarks/results/ner_agreement.json   # results/ner_agreement.md
    python benchmarks/report.py readme            # the marked tables of README.md, benchmarks/README.md, docs/*.md
    python benchmarks/report.py readme --check    # exit 1 (and name them) if any marked table is stale

`{task}.json` (`run.py`) gives `{task}.md` (the full table, the size/speed table, the notes) and the
plots; `{task}_agreement.json` (`agreement.py`) and `ner_teacher_casing.json` (`teacher_casing.py`)
give their `.md`. `readme` rewrites every block between `<!-- results:NAME -->` and
`<!-- /results:NAME -->` in the Markdown files of `MARKED_FILES` with `block(NAME)`: a line naming
the command that measured it and the JSON it was rendered from, then the table (`BLOCKS` lists the
names). `tests/test_report.py` checks that the committed blocks are exactly this output.
"""
import argparse
import json
import os
import re
import statistics
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

#: `capped_characters`' default and the configs' (`common.libsonnet`'s `max_token_characters`)
SHIPPED_CHARACTER_CAP = 50
MAIN_METRIC = {"ner": ("f1-measure-overall", "F1"), "dep": ("LAS", "LAS")}
EXTRA_METRIC = {"dep": ("UAS", "UAS")}


def mean_std(values: List[float], scale: float = 100.0) -> str:
    """Mean ± sample standard deviation of `values` × `scale` (fractions to percent by default;
    `scale=1` for scores already in percent), or the one value."""
    values = [scale * v for v in values]
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


def _table(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# run.py results: benchmarks/results/{ner,dep}.json


def task_rows(result: Dict) -> Tuple[List[str], List[List[str]]]:
    """The full table of a `run.py` result: its header and one row of cells per method."""
    runs = result["runs"]
    task = runs[0]["task"]
    _, label = MAIN_METRIC[task]
    rows = summarise(runs, task)
    teacher = statistics.mean(rows["teacher"]["main"])
    plain = statistics.mean(rows["no KD"]["main"])
    gap = teacher - plain
    extra = EXTRA_METRIC.get(task)

    header = ["method", f"test {label}"] + ([f"test {extra[1]}"] if extra else []) + [
        f"Δ {label} vs no KD", "gap closed", "s/epoch (cache warm)", "× no KD", "later epochs × no KD",
        "s/epoch (cache cold)", "× no KD (cache cold)", "peak RSS MB"]
    table = []
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
        table.append(cells)
    return header, table


def task_notes(result: Dict) -> List[str]:
    meta, runs = result["meta"], result["runs"]
    task = runs[0]["task"]
    _, label = MAIN_METRIC[task]
    rows = summarise(runs, task)
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
    return [
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


def task_markdown(result: Dict) -> str:
    """`{task}.md`: the full table, the size and speed table, the notes."""
    runs = result["runs"]
    task = runs[0]["task"]
    _, label = MAIN_METRIC[task]
    rows = summarise(runs, task)
    teacher = statistics.mean(rows["teacher"]["main"])
    header, table = task_rows(result)
    speed = speed_table(rows, teacher, label)
    return (f"### {task.upper()} benchmark\n\n" + _table(header, table) + "\n\n" + speed
            + "\n\n".join(task_notes(result)) + "\n")


HEADLINE_COLUMNS = {"× no KD": "epoch time × no KD"}


def headline_markdown(result: Dict) -> str:
    """The front page's table of a `run.py` result: the teacher and every method measured on every
    seed (single-run variants stay in the full table), with score, gain, gap closed and cost."""
    meta, runs = result["meta"], result["runs"]
    task = runs[0]["task"]
    _, label = MAIN_METRIC[task]
    extra = EXTRA_METRIC.get(task)
    header, table = task_rows(result)
    rows = summarise(runs, task)
    keep = ["method", f"test {label}"] + ([f"test {extra[1]}"] if extra else []) + \
        [f"Δ {label} vs no KD", "gap closed", "× no KD"]
    columns = [header.index(name) for name in keep]
    seeds = len(meta["seeds"])
    chosen = [[cells[i] for i in columns] for cells, (method, row) in zip(table, rows.items())
              if method == "teacher" or len(row["cached"]) == seeds]
    data = meta["data"]
    note = (f"Test {label} in % on {data['test']['sentences']} test sentences: mean ± std over seeds "
            f"{meta['seeds']} (the teacher, `{meta.get('teacher_config', 'teacher')}`: one run); every student "
            f"is the same small model, {meta['epochs']['student']} epochs on {data['train']['sentences']} "
            f"training sentences. `gap closed` = (KD − no KD) / (teacher − no KD); `epoch time × no KD` = a "
            f"training epoch's time over the plain student's, the teacher's outputs read from its disk cache.")
    return _table([HEADLINE_COLUMNS.get(name, name) for name in keep], chosen) + "\n\n" + note + "\n"


def render(path: Path) -> None:
    """`results/{task}.json` → `{task}.md`, `{task}.png` (and `{task}_speed.png`); other result
    files with a renderer here (`*_agreement.json`, `ner_teacher_casing.json`) → their `.md`."""
    result = json.loads(path.read_text())
    out_md = path.with_suffix(".md")
    if path.stem in FILE_RENDERERS:
        out_md.write_text(FILE_RENDERERS[path.stem](result))
        if path.stem.startswith("transfer_"):
            plot_transfer(result, path.with_suffix(".png"))
        if path.stem.startswith("frontier_") and not path.stem.endswith("_no_kd"):  # no speed: no plot
            plot_frontier(result, path.with_suffix(".png"))
        print(out_md.read_text())  # noqa: T201 (a report script)
        return
    runs = result["runs"]
    task = runs[0]["task"]
    _, label = MAIN_METRIC[task]
    rows = summarise(runs, task)
    teacher = statistics.mean(rows["teacher"]["main"])
    out_md.write_text(task_markdown(result))
    plot(rows, task, label, path.with_suffix(".png"), teacher)
    if speed_table(rows, teacher, label):
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


# ---------------------------------------------------------------------------------------------
# the other result files


AGREEMENT_METRICS = {
    "ner": [("test F1", "f1-measure-overall"), ("agreement", "teacher_agreement"),
            ("KL to teacher", "teacher_kl"), ("ECE", "calibration_error")],
    "dep": [("test LAS", "LAS"), ("head agreement", "teacher_arc_agreement"),
            ("head+relation agreement", "teacher_label_agreement"), ("KL to teacher", "teacher_kl"),
            ("ECE (heads)", "calibration_error")],
}


def agreement_markdown(task: str, result: Dict) -> str:
    """`{task}_agreement.md` (`agreement.py`): each first-seed student's imitation of its teacher."""
    meta, rows = result["meta"], result["rows"]
    columns = AGREEMENT_METRICS[task]
    lines = ["| student (seed 13) | " + " | ".join(name for name, _ in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in rows:
        values = [row["metrics"].get(key) for _, key in columns]
        cells = [f"{100 * v:.2f}" if key != "teacher_kl" else f"{v:.3f}" for (_, key), v in zip(columns, values)]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    lines += ["", "Test set; agreement and ECE in %, KL in nats per token (per word for parsers), mean over "
              "tokens/words. The teacher decodes with its own argmax / Viterbi (see "
              "`allennlp_subkd/distillation/tasks/diagnostics.py`).", "", f"Command: `{meta['command']}` "
              f"({meta['wall_seconds'] / 60:.0f} min, {meta['date']})"]
    return "\n".join(lines) + "\n"


def casing_markdown(result: Dict) -> str:
    """`ner_teacher_casing.md` (`teacher_casing.py`): the transformer teacher's casing input."""
    meta, records = result["meta"], result["runs"]
    lines = ["| casing input | dev F1 | test F1 | best epoch | s/epoch |", "|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['variant']} | {100 * r['dev_f1']:.2f} | {100 * r['test_f1']:.2f} | "
                     f"{r['best_epoch']} | {r['epoch_seconds_mean']:.0f} |")
    return ("### NER teacher: giving the uncased MiniLM its casing back\n\n" + "\n".join(lines) + "\n\n"
            f"all-MiniLM-L6-v2 + CRF fine-tuned on the shipped 1,000-sentence UNER-EWT sample, {meta['epochs']} "
            f"epochs, seed 13, {meta['threads']} thread(s); the variant is chosen on dev F1. Machine: "
            f"{meta['machine']['cpu']}, commit {meta['git_commit']}, {meta['date']}, "
            f"{meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")


def speed_markdown(result: Dict) -> str:
    """A `throughput.py --json` result: size and CPU inference speed of each archive, and its
    speed over the first archive's (the teacher's) at the same thread count."""
    meta, runs = result["meta"], result["runs"]
    threads = meta["threads"]
    by = {(r["label"], r["threads"]): r for r in runs}
    labels = list(dict.fromkeys(r["label"] for r in runs))
    base = labels[0]
    short = base.split(" (")[0]
    header = ["model", "parameters"] + [f"sentences/s ({t} thr)" for t in threads] + \
        [f"× {short} ({t} thr)" for t in threads]
    lines = []
    for label in labels:
        row = [label, f"{by[(label, threads[0])]['parameters'] / 1e6:.2f} M"]
        row += [f"{by[(label, t)]['sentences_per_second']:.0f}" for t in threads]
        row += [f"{by[(label, t)]['sentences_per_second'] / by[(base, t)]['sentences_per_second']:.1f}"
                for t in threads]
        lines.append(row)
    first = runs[0]
    return (_table(header, lines) + "\n\n"
            f"CPU inference on `{meta['data']}` ({first['sentences']:,} sentences, {first['tokens']:,} words), batch "
            f"{meta['batch_size']}, `model.forward_on_instances` incl. decoding after one warm-up batch, the median of "
            f"{meta['repeats']} passes; each model in its own process, one after the other, nothing else running. "
            f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, commit {meta['git_commit']}, "
            f"{meta['date']}.\n")


def char_boundaries_markdown(result: Dict) -> str:
    """`char_boundaries.md` (`char_boundaries.py`): a student trained without and with word-boundary
    symbols around each word's characters, F1 per split over seeds and each variant's change
    against the first (the configs')."""
    meta, runs = result["meta"], result["runs"]
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    by = {v: [r for r in runs if r["variant"] == v] for v in variants}
    splits = ("dev", "test", "ood")
    lines = []
    for v in variants:
        change = [f"{statistics.mean(r[s] for r in by[v]) - statistics.mean(r[s] for r in by[variants[0]]):+.2f}"
                  if v != variants[0] else "" for s in splits]
        lines.append([v, *[mean_std([r[s] for r in by[v]], scale=1) for s in splits], *change,
                      ", ".join(str(r["best_epoch"]) for r in by[v])])
    short = meta["short_words"]
    return ("### Word-boundary symbols for the character CNN\n\n"
            + _table(["characters of a word", "dev F1", "test F1", "UNER-PUD F1", "Δ dev", "Δ test", "Δ UNER-PUD",
                      "best epochs"], lines) + "\n\n"
            f"`{meta['config']}` (no KD) trained on the full UNER-EWT training set for {meta['epochs']} epochs, seeds "
            f"{', '.join(map(str, meta['seeds']))} (mean ± std); dev = the best epoch on the full EWT dev set (the "
            f"choice), test and UNER-PUD at that epoch. Words shorter than the filters ({meta['width']} characters), "
            f"which get an all-zero character vector without the symbols: {100 * short['train']['short']:.1f} % of "
            f"the training words, {100 * short['dev']['short']:.1f} % of dev; short words with an upper-case letter: "
            f"{100 * short['dev']['short_cased_of_entity']:.1f} % of dev's entity words, "
            f"{100 * short['ood']['short_cased_of_entity']:.1f} % of UNER-PUD's. One thread per run, "
            f"{meta['workers']} at a time. Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, "
            f"{meta['date']}, {meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")


def static_options_markdown(result: Dict) -> str:
    """`static_subword_options.md` (`static_subword_options.py`): the static-subword student's
    table frozen or trainable, projected or not, chosen on dev."""
    meta, records = result["meta"], result["runs"]
    best = max(records, key=lambda r: r["dev_f1"])
    lines = ["| table | dev F1 | test F1 | best epoch | trainable parameters | s/epoch |", "|---|---|---|---|---|---|"]
    for r in records:
        name = r["variant"] + (" **(best on dev)**" if r is best else "")
        lines.append(f"| {name} | {100 * r['dev_f1']:.2f} | {100 * r['test_f1']:.2f} | {r['best_epoch']} | "
                     f"{r['trainable_parameters'] / 1e6:.2f} M | {r['epoch_seconds_mean']:.1f} |")
    return ("### The static-subword student's table: frozen or trainable, projected or not\n\n" + "\n".join(lines)
            + "\n\n" f"`ner_static_subword_baseline` (no KD) trained on the shipped 1,000-sentence UNER-EWT sample, "
            f"{meta['epochs']} epochs, seed 13 (one seed), {meta['threads']} thread(s), one run at a time; dev = the "
            f"full EWT dev set (the choice), test = the full EWT test set at the best dev epoch; s/epoch is a cost "
            f"beside whatever else ran, not a timing. Machine: "
            f"{meta['machine']['cpu']}, commit {meta['git_commit']}, {meta['date']}, "
            f"{meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")


def char_cap_markdown(result: Dict) -> str:
    """`char_cap.md` (`char_cap.py`): archived NER models with their character indexer capped at
    load time — F1 in and out of domain and one-thread speed per cap, the speed as a multiple of
    the same archive with every character."""
    meta, records = result["meta"], result["runs"]
    full = {r["label"]: r.get("throughput") for r in records if r["cap"] == 0}
    lines = []
    for r in records:
        timed, base = r.get("throughput"), full.get(r["label"])
        speed = f"{timed['tokens_per_second']:,.0f}" if timed else "—"
        ratio = (f"{timed['tokens_per_second'] / base['tokens_per_second']:.2f}" if timed and base else "—")
        cap = "all (as trained)" if r["cap"] == 0 else str(r["cap"])
        if r["cap"] == SHIPPED_CHARACTER_CAP:
            cap += " (the configs' default)"
        lines.append([r["label"], cap, f"{100 * r['dev']:.2f}", f"{100 * r['test']:.2f}", f"{100 * r['ood']:.2f}",
                      speed, ratio])
    longest = meta["longest_word"]
    timing = (f"words/s: the EWT test set, 1 thread, batch 32, `forward_on_instances` as `throughput.py`; one process "
              f"per model holding it once per cap, the caps' passes in turn for {meta.get('repeats', 3)} rounds, the "
              f"median pass per cap; nothing else running" if meta["timed"] else "not timed")
    retrained = ""
    if result.get("retrained"):
        rows = [[Path(r["run"]).parent.name + "/" + Path(r["run"]).name,
                 f"{100 * r['original']['dev']:.2f}", f"{100 * r['capped']['dev']:.2f}",
                 f"{100 * (r['capped']['dev'] - r['original']['dev']):+.2f}",
                 f"{100 * r['original']['test']:.2f}", f"{100 * r['capped']['test']:.2f}",
                 f"{sum(r['epoch_seconds_original']) / 60:.0f} / {sum(r['epoch_seconds_capped']) / 60:.0f}"]
                for r in result["retrained"]]
        cap = result["retrained"][0]["cap"]
        retrained = ("\n\nTrained again from the run's own config with the first " f"{cap} characters of a word as the "
                     "only change (one seed, one thread; the minutes of training beside whatever else ran, not a "
                     "timing):\n\n" + _table(["run", "dev F1, all characters", f"dev F1, {cap}", "Δ dev",
                                               "test F1, all characters", f"test F1, {cap}", "training minutes"], rows))
    return ("### Characters per word: the character CNN's input capped at load time\n\n"
            + _table(["model", "characters kept", "dev F1", "test F1", "UNER-PUD F1", "words/s (1 thr)",
                      "× all characters"], lines) + retrained + "\n\n"
            f"Each archive loaded with `capped_characters` in place of its `characters` indexer (an `--overrides` "
            f"of `allennlp predict`), scored in batches of 32 in file order; the longest word: {longest['dev']} "
            f"characters in dev, {longest['test']} in test, {longest['ood']} in UNER-PUD. {timing}. Machine: "
            f"{meta['machine']['cpu']}, commit {meta['git_commit']}, {meta['date']}, "
            f"{meta['wall_seconds'] / 60:.0f} min.\n\nCommand: `{meta['command']}`\n")


def profile_markdown(result: Dict) -> str:
    """`student_profile.md` (`profile_student.py`): each archived tagger's one-thread inference
    time split into its parts, as shares of the whole pass."""
    meta, records = result["meta"], result["runs"]
    inner = list(dict.fromkeys(name for r in records for name in r["parts"]
                               if name not in ("batching", "model forward")))
    header = ["model", "characters kept", "words/s (1 thr)", "mean character width", "batching", *inner,
              "rest of forward", "output"]
    lines = []
    for r in records:
        parts, total = r["parts"], r["seconds"]
        rest = parts["model forward"] - sum(parts.get(name, 0.0) for name in inner)
        output = total - parts["batching"] - parts["model forward"]
        shares = [parts["batching"], *(parts.get(name) for name in inner), rest, output]
        lines.append([r["label"], "all (as trained)" if r["cap"] == 0 else str(r["cap"]),
                      f"{r['words'] / total:,.0f}", f"{r['mean_character_width']:.1f}",
                      *("—" if v is None else f"{100 * v / total:.0f} %" for v in shares)])
    return ("### Where the CPU time goes: each tagger's inference in parts\n\n" + _table(header, lines) + "\n\n"
            f"One process per model and cap, 1 thread, `{Path(meta['data']).name}` in batches of 32 in file order, the median "
            f"of {meta['repeats']} passes after one warm-up batch; a timer around each part (the share of the pass); "
            f"\"mean character width\" is the batches' mean padded word length in characters. Nothing else running; "
            f"words/s of two rows come from two processes (a machine's drift between processes enters them: "
            f"`char_cap.py` times caps against each other in one process). "
            f"Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, {meta['date']}.\n\n"
            f"Command: `{meta['command']}`\n")


def mfvi_gap_markdown(result: Dict) -> str:
    """`mfvi_gap.md` (`mfvi_gap.py`): a second-order parser's MFVI head marginals against the exact
    ones, by enumeration on short sentences."""
    meta = result["meta"]
    lines = ["| MFVI updates | exact marginals of | mean TV per word | max TV | same best head |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        own = " (the model's)" if r["iterations"] == meta["model_iterations"] else ""
        reference = "every head assignment (what MFVI approximates)" if r["reference"] == "assignments" else "single-root trees"
        lines.append(f"| {r['iterations']}{own} | {reference} | {r['mean_tv']:.4f} | {r['max_tv']:.3f} | "
                     f"{100 * r['argmax_agreement']:.1f} % |")
    trees = result["exact_trees_vs_assignments"]
    return ("### How far MFVI's head marginals are from the exact ones\n\n" + "\n".join(lines)
            + f"\n\nThe exact marginals of the two distributions differ by {trees['mean_tv']:.4f} TV per word on "
            f"the same sentences (same best head {100 * trees['argmax_agreement']:.1f} %). Teacher "
            f"`{meta['archive']}`, the {meta['sentences']} sentences of at most {meta['max_words']} words of "
            f"`{meta['data']}` ({result['rows'][0]['words']} words), every head assignment enumerated; TV = "
            f"½ Σ_h |q(h) − p(h)|. Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, {meta['date']}, "
            f"{meta['wall_seconds']:.0f} s.\n\nCommand: `{meta['command']}`\n")


def sweep_markdown(result: Dict) -> str:
    """`{task}_sweep.md`, by `sweep.py`'s own renderer."""
    sys.path.insert(0, str(HERE))
    from sweep import render as render_sweep

    return render_sweep(result["meta"], result["runs"])


def extra_markdown(suite: str, result: Dict) -> str:
    """`dep_tagger.md` / `ner_ensemble.md`, by `extra.py`'s own renderer."""
    sys.path.insert(0, str(HERE))
    from extra import table

    return table(suite, result, "f1-measure-overall", result["meta"])


KERNEL_CLASSES = {"linear_chain": "LinearChainCRF", "matrix_tree": "NonProjectiveDependencyCRF",
                  "eisner": "DependencyCRF"}


def kernels_summary(report: Dict) -> str:
    """The ratios of `kernels.json` (`kernels.py`; the full table with timings is `kernels.md`)."""
    ratios: "OrderedDict[str, Dict[str, float]]" = OrderedDict()
    for row in report["timings"]:
        ratios.setdefault(row["kernel"], {})[row["mode"]] = row["ratio"]
    lines = ["| kernel | pytorch-struct | forward: ours / theirs | forward+backward: ours / theirs |",
             "| --- | --- | ---: | ---: |"]
    for kernel, modes in ratios.items():
        lines.append(f"| `{kernel}` | `{KERNEL_CLASSES[kernel.split()[0]]}` | {modes['forward']:.3f} | "
                     f"{modes['forward+backward']:.3f} |")
    cfg, mach = report["config"], report["machine"]
    lines += ["", f"{cfg['dtype']}, B = {cfg['batch']}, n = {cfg['length']}, C = {cfg['labels']}, "
              f"{mach['torch_threads']} torch thread(s), median of {cfg['repeats']} runs after {cfg['warmup']} "
              f"warm-up runs, the two libraries interleaved; < 1: ours is faster. Machine: {mach['cpu_model']}, "
              f"torch {mach['torch']}, torch-struct {mach['torch_struct']}, {report['date_utc']} UTC."]
    return "\n".join(lines) + "\n"


def load_check_markdown(result: Dict) -> str:
    """`load_check.json` (`scripts/load_check.py`): one process predicting many sentences."""
    header = ["sentences", "words", "batch", "threads", "sentences/s", "words/s", "RSS after load (MiB)",
              "after the first batch", "at half way", "at the end", "growth over the second half"]
    cells = [str(result["sentences"]), str(result["words"]), str(result["batch_size"]), str(result["threads"]),
             f"{result['sentences_per_second']:.0f}", f"{result['words_per_second']:.0f}",
             f"{result['rss_mb_after_load']:.1f}", f"{result['rss_mb_after_first_batch']:.1f}",
             f"{result['rss_mb_at_half']:.1f}", f"{result['rss_mb_at_end']:.1f}",
             f"{result['growth_mb_second_half']:+.1f}"]
    steps = ", ".join(f"{v:.1f}" for v in result["rss_mb_every_10_percent"])
    return (_table(header, [cells]) + f"\n\nModel `{result['model']}` (`{result['archive']}`), data "
            f"`{result['data']}` (cycled), {result['date']}. Resident memory (MiB) at every 10 % of the "
            f"sentences: {steps}.\n")


def _gap(value: float, plain: float, teacher: float, missing: str = "—") -> str:
    """The share of the teacher–student gap `value` closes over `plain`, in whole percent
    (`missing` when the teacher does not lead)."""
    # round() then + 0: a closed gap that rounds to zero is "0 %", never "-0 %"
    return f"{round(100 * (value - plain) / (teacher - plain)) + 0:.0f} %" if teacher > plain else missing


def transfer_rows(result: Dict) -> List[Tuple[str, Dict[str, List[float]]]]:
    """(model, {"dev"|"test"|"ood": scores over seeds}) of the main runs, in the suite's order."""
    rows: "OrderedDict[str, Dict[str, List[float]]]" = OrderedDict()
    for run in result["runs"]:
        if run.get("curve"):
            continue
        row = rows.setdefault(run["model"], {"dev": [], "test": [], "ood": []})
        for split in row:
            row[split].append(run[split])
    # the plain students first, then each objective without and with the transfer set
    return sorted(rows.items(), key=lambda item: (not is_plain(item[0]), item[0].endswith("transfer set")))


def is_plain(model: str) -> bool:
    """Whether a row of `transfer_rows` is a student trained without KD ("no KD", or a suite's
    further baseline, "no KD, softmax student")."""
    return model.startswith("no KD")


def plain_model(model: str, meta: Dict) -> str:
    """The plain student a row of `transfer_rows` is measured against: `meta["plain_of"]` of its
    objective (the row's name less " + transfer set") or "no KD"."""
    return meta.get("plain_of", {}).get(model.replace(" + transfer set", ""), "no KD")


#: the student presets of transfer.py (common.libsonnet), as the tables name them
STUDENT_NAMES = {"tiny": "the tiny student (random word embeddings)",
                 "static_subword": "the static-subword student (frozen MiniLM subword table)",
                 "minilm_l3": "the 3-layer MiniLM student (fine-tuned)"}


def transfer_markdown(result: Dict) -> str:
    """`transfer_{regime}_{task}.md` (`transfer.py`): teacher, plain student and every objective
    without / with the transfer set, in domain and out of domain, and the transfer-size curve."""
    meta, teacher = result["meta"], result["teacher"]
    metric, ood = meta["metric"], meta["ood_name"]
    fill_minutes = sum(meta["fill_seconds"].get(name, 0.0) for name in ("train", "transfer")) / 60
    rows = transfer_rows(result)
    by_model = dict(rows)
    header = ["model", f"dev {metric}", f"EWT test {metric}", "Δ test vs no KD", "test gap closed",
              f"{ood} {metric} (out of domain)", f"{ood} gap closed"]
    lines = [["teacher", f"{teacher['dev']:.2f}", f"{teacher['test']:.2f}", "", "", f"{teacher['ood']:.2f}", ""]]
    for model, row in rows:
        test, out = statistics.mean(row["test"]), statistics.mean(row["ood"])
        plain = by_model[plain_model(model, meta)]
        plain_test, plain_ood = statistics.mean(plain["test"]), statistics.mean(plain["ood"])
        bare = is_plain(model)
        lines.append([model, mean_std(row["dev"], scale=1), mean_std(row["test"], scale=1),
                      "" if bare else f"{test - plain_test:+.2f}",
                      "" if bare else _gap(test, plain_test, teacher["test"]),
                      mean_std(row["ood"], scale=1), "" if bare else _gap(out, plain_ood, teacher["ood"])])
    regime = {"low": "low-resource: 1,000 labeled EWT sentences", "full": "full EWT training set"}[meta["regime"]]
    student = STUDENT_NAMES[meta.get("student", "tiny")]
    used = any(r["transfer"] for r in result["runs"])  # `transfer.py --no-transfer-set`: the configs as shipped
    parts = [f"### {meta['task'].upper()}, {regime}; "
             + (f"transfer set {meta['transfer_sentences']:,} unlabeled sentences; " if used
                else "no transfer set (the configs as shipped); ") + student,
             f"Command: `{meta['command']}`",
             _table(header, lines)]
    curve = transfer_curve(result)
    if curve:
        objective, points = curve
        seed_rows = [[f"{size:,}", f"{test:.2f}", _gap(test, plain_t, teacher["test"]), f"{out:.2f}",
                      _gap(out, plain_o, teacher["ood"])] for size, test, out, plain_t, plain_o in points]
        parts.append(f"Gap closed vs transfer-set size ({objective}, seed {result['meta']['seeds'][0]}; "
                     "0 = the objective on the labeled sentences alone; gap = teacher − that seed's no-KD student):\n\n"
                     + _table(["transfer sentences", f"test {metric}", "test gap closed", f"{ood} {metric}",
                               f"{ood} gap closed"], seed_rows))
    seeds = ", ".join(map(str, meta["seeds"]))
    parts.append(
        f"Means ± standard deviations over seeds {seeds}; dev = the full EWT dev set at the best epoch "
        f"(model selection), test = the full EWT test set, {ood} = out of domain (`{meta['files']['ood']}`), "
        f"each with that epoch's model; gap closed = (student − no KD) / (teacher − no KD)"
        + ("".join(f"; the {model}'s against the {plain}" for model, plain in meta.get("plain_of", {}).items()))
        + ". "
        f"Training data `{meta['files']['train']}` ({meta['train_sentences']:,} sentences). "
        + (f"Teacher `{meta['teacher_config']}`, {meta['teacher_epochs']} epochs, best epoch on dev "
           f"{teacher['best_epoch']}: {meta['teacher_train_seconds'] / 60:.0f} min of training epochs (not in the "
           f"suite's time); " if meta["teacher_epochs"] else f"Teacher `{meta['teacher_config']}` (given); ")
        + f"its outputs on the training and transfer sentences written "
        + (f"in {fill_minutes:.1f} min by a resumed fill (its last invocation's time; the first's not counted)"
           if meta["fill_seconds"].get("resumed") else f"once in {fill_minutes:.1f} min")
        + f". Students: {meta['student_epochs']} epochs, one "
        f"thread each, {meta['workers']} at a time; the suite took {meta['suite_wall_seconds'] / 60:.0f} min "
        f"on {meta['machine']['cores']} cores ({meta['date']}, commit {meta['git_commit']}).")
    return "\n\n".join(parts) + "\n"


def transfer_headline(result: Dict) -> str:
    """The front page's table of a `transfer.py` result: one row per objective, its EWT test score
    without and with the transfer set, and the gap the latter closes in and out of domain (the
    full table, the curve and the notes: `transfer_markdown`)."""
    meta, teacher = result["meta"], result["teacher"]
    metric, ood = meta["metric"], meta["ood_name"]
    rows = dict(transfer_rows(result))
    lines = [["teacher", f"{teacher['test']:.2f}", "", "", f"{teacher['ood']:.2f}", ""]]
    lines += [[model, f"{statistics.mean(row['test']):.2f}", "", "", f"{statistics.mean(row['ood']):.2f}", ""]
              for model, row in rows.items() if is_plain(model)]
    for model, row in rows.items():
        if model.endswith(" + transfer set") or is_plain(model):
            continue
        plain = rows[plain_model(model, meta)]
        plain_test, plain_ood = statistics.mean(plain["test"]), statistics.mean(plain["ood"])
        alone, added = statistics.mean(row["test"]), rows[model + " + transfer set"]
        test, out = statistics.mean(added["test"]), statistics.mean(added["ood"])
        lines.append([model, f"{alone:.2f}", f"{test:.2f}", _gap(test, plain_test, teacher["test"]),
                      f"{out:.2f}", _gap(out, plain_ood, teacher["ood"])])
    header = ["model", f"EWT test {metric}", "+ transfer set", "gap closed",
              f"{ood} {metric}, + transfer set", f"{ood} gap closed"]
    return (_table(header, lines) + "\n\n"
            f"Means over seeds {', '.join(map(str, meta['seeds']))}; gap closed = (student − no KD) / "
            f"(teacher − no KD); {ood} is out of domain.\n")


def transfer_curve(result: Dict):
    """(objective, [(size, test, ood, plain test, plain ood)]) of the first seed, or None."""
    runs = result["runs"]
    curve = [r for r in runs if r.get("curve")]
    if not curve:
        return None
    objective, seed = curve[0]["objective"], curve[0]["seed"]
    baseline = plain_model(objective, result["meta"])
    plain = next(r for r in runs if r["model"] == baseline and r["seed"] == seed)
    points = [r for r in runs if r["objective"] == objective and r["seed"] == seed]
    points.sort(key=lambda r: r["transfer"])
    return objective, [(r["transfer"], r["test"], r["ood"], plain["test"], plain["ood"]) for r in points]


def plot_transfer(result: Dict, out: Path) -> None:
    """Gap closed vs transfer-set size, in domain and out of domain (first seed)."""
    curve = transfer_curve(result)
    if not curve:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, teacher = result["meta"], result["teacher"]
    objective, points = curve
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    sizes = [p[0] for p in points]
    for label, index, plain_index, reference in (("EWT test (in domain)", 1, 3, teacher["test"]),
                                                 (f"{meta['ood_name']} (out of domain)", 2, 4, teacher["ood"])):
        gaps = [100 * (p[index] - p[plain_index]) / (reference - p[plain_index]) for p in points]
        ax.plot(sizes, gaps, "o-", label=label)
    ax.axhline(100, linestyle="--", color="black", linewidth=0.8, label="teacher")
    ax.set_xlabel("unlabeled transfer sentences")
    ax.set_ylabel("teacher–student gap closed (%)")
    ax.set_title(f"{meta['task'].upper()} ({meta['regime']}): {objective} KD, gap closed vs transfer-set size")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out)


def frontier_rows(result: Dict) -> List[Dict]:
    """Per model of `frontier.py`'s result: label, parameters, speeds by thread count, and the
    mean test / out-of-domain scores with and without KD (the teacher first)."""
    def speeds(runs):
        return {r["threads"]: r for r in runs}

    teacher = result["teacher"]
    rows = [{"label": "teacher", "speed": speeds(teacher["throughput"]), "kd_test": teacher["test"],
             "kd_ood": teacher["ood"], "plain_test": None, "plain_ood": None, "kd_std": None, "seeds": None}]
    for student in result["students"]:
        def mean_of(records, split):
            values = [r[split] for r in records if r.get(split) is not None]
            return statistics.mean(values) if values else None

        kd_tests = [r["test"] for r in student["kd"] if r.get("test") is not None]
        rows.append({"label": student["label"], "speed": speeds(student["throughput"]),
                     "kd_test": mean_of(student["kd"], "test"), "kd_ood": mean_of(student["kd"], "ood"),
                     "plain_test": mean_of(student["no_kd"], "test"), "plain_ood": mean_of(student["no_kd"], "ood"),
                     "kd_std": statistics.stdev(kd_tests) if len(kd_tests) > 1 else None,
                     "seeds": len(kd_tests),
                     # rows kept from an earlier invocation (`frontier.py --merge`): the teacher's speed then
                     "reference": speeds(student["measured"]["teacher_throughput"]) if student.get("measured") else None})
    return rows


def times_teacher(row: Dict, teacher: Dict, threads: int) -> Optional[float]:
    """A frontier row's words/s over the teacher's measured in the same invocation (its own
    `reference` for a row kept by `--merge`, else this invocation's teacher row), or None."""
    words = row["speed"].get(threads)
    base = (row.get("reference") or teacher["speed"]).get(threads)
    if words is None or base is None or not base["tokens_per_second"]:
        return None
    return words["tokens_per_second"] / base["tokens_per_second"]


def frontier_markdown(result: Dict) -> str:
    """`frontier_{regime}_{task}.md` (`frontier.py`): size, CPU speed and scores of the teacher and
    every student, the fraction of the teacher each keeps, and the Pareto frontier."""
    sys.path.insert(0, str(HERE))
    from frontier import pareto

    meta = result["meta"]
    metric, ood = meta["metric"], meta["ood_name"]
    rows = frontier_rows(result)
    teacher = rows[0]

    def pct(value, reference):
        return "" if value is None or not reference else f"{100 * value / reference:.1f} %"

    def speed(row, threads, field):
        run = row["speed"].get(threads)
        return None if run is None else run[field]

    # `frontier.py --no-throughput`: scores only, no speed columns and no frontier (it needs the speeds)
    timed = any(row["speed"] for row in rows)
    # × teacher, not words/s: rows kept by `--merge` were timed in another invocation
    points = [(times_teacher(r, teacher, 1) or 0.0, r["kd_test"] or 0.0) for r in rows]
    frontier = set(pareto(points)) if timed else set()
    speed_header = ["parameters", "words/s (1 thr)", "× teacher (1 thr)", "words/s (2 thr)", "× teacher (2 thr)"]
    header = ["model", *(speed_header if timed else []),
              f"test {metric}, no KD", f"test {metric}, KD + transfer", "of the teacher", f"{ood}, KD + transfer",
              f"of the teacher ({ood})", "KD closes", "seeds"]
    lines = []
    for i, row in enumerate(rows):
        cells = [row["label"] + (" **(frontier)**" if i in frontier else "")]
        if timed:
            first = row["speed"].get(1) or next(iter(row["speed"].values()), None)
            cells.append("" if first is None else f"{first['parameters'] / 1e6:.2f} M")
            for threads in (1, 2):
                words, ratio = speed(row, threads, "tokens_per_second"), times_teacher(row, teacher, threads)
                cells += ["" if words is None else f"{words:,.0f}", "" if ratio is None else f"{ratio:.1f}"]
        kd = "" if row["kd_test"] is None else f"{row['kd_test']:.2f}" + (
            f" ± {row['kd_std']:.2f}" if row["kd_std"] is not None else "")
        closes = ""
        if row["plain_test"] is not None and row["kd_test"] is not None and teacher["kd_test"] != row["plain_test"]:
            closes = f"{100 * (row['kd_test'] - row['plain_test']) / (teacher['kd_test'] - row['plain_test']):.0f} %"
        cells += ["" if row["plain_test"] is None else f"{row['plain_test']:.2f}", kd,
                  pct(row["kd_test"], teacher["kd_test"]),
                  "" if row["kd_ood"] is None else f"{row['kd_ood']:.2f}", pct(row["kd_ood"], teacher["kd_ood"]), closes,
                  "" if row["seeds"] is None else str(row["seeds"])]
        lines.append(cells)
    # the seeds and epochs sentence: the transformer students' own where they differ from the others'
    layered = [student for student in result["students"] if student.get("layers")]
    what = "the transformer students `minilm_l{k}`: the first k of all-MiniLM-L6-v2's layers"
    seeds, epochs = f"{meta['seeds']}", f"{meta['student_epochs']} epochs"
    if layered and len(layered) == len(result["students"]):  # transformer students only
        seeds, epochs = f"{layered[0].get('seeds', meta['seeds'])}", f"{meta['transformer_epochs']} epochs ({what})"
    elif layered:
        seeds += f" ({layered[0].get('seeds', meta['seeds'])} for the transformer students)"
        epochs += f" ({meta['transformer_epochs']} for {what})"
    own = [f"`{student['label']}`: {student['epochs']}" for student in result["students"] if student.get("epochs")]
    if own:
        epochs += f" ({', '.join(own)})"
    earlier: Dict[Tuple[str, str], List[Dict]] = {}
    for student in result["students"]:
        if student.get("measured"):
            earlier.setdefault((student["measured"]["git_commit"], student["measured"]["date"]), []).append(student)
    kept = "".join(
        f" Rows {', '.join(f'`{s}`' for s in (student['label'] for student in group))}: trained and timed by an earlier "
        f"invocation with the same teacher (commit {commit}, {date}, `{group[0]['measured']['command']}`), "
        f"their × teacher against the teacher timed then"
        + "".join(f" ({run['tokens_per_second']:,.0f} words/s at {run['threads']} thread{'s' if run['threads'] > 1 else ''})"
                  for run in group[0]["measured"]["teacher_throughput"] if run["threads"] == 1) + "."
        for (commit, date), group in earlier.items())
    return (f"### {meta['task'].upper()} ({meta['regime']}): which student for which CPU budget\n\n" + _table(header, lines)
            + f"\n\nStudents trained on {meta['train_sentences']:,} sentences + {meta['transfer_sentences']:,} "
            f"unlabeled transfer sentences with `{meta['objective']}` KD (KD + transfer) or alone (no KD); seeds "
            f"{seeds} (the `seeds` column counts a row's KD runs), mean (± std over seeds); {epochs}. " + (
                "Speed: `throughput.py` on the in-domain test file, batch 32, the median of 3 passes, each model "
                "alone in its own process, the first seed's KD archive; × teacher = words/s over the teacher's at "
                "the same thread count. " if timed else
                "No speed was measured by this invocation (`--no-throughput`), so no model is marked as on the "
                "frontier. ")
            + "`KD closes` = (KD − no KD) / (teacher − no KD)"
            + ("; frontier = no other model is both faster (1 thread) and better (test)" if timed else "")
            + f". Machine: {meta['machine']['cpu']}, commit {meta['git_commit']}, "
            f"{meta['date']}.{kept}\n\nCommand: `{meta['command']}`\n")


def frontier_no_kd_markdown(result: Dict) -> str:
    """`frontier_{regime}_{task}[_{tag}]_no_kd.md` (`frontier.py --no-kd-only`): the students
    trained without KD (no teacher in that invocation), their scores in and out of domain, and
    what fraction of the published frontier's teacher (another invocation) they reach."""
    meta = result["meta"]
    metric, ood = meta["metric"], meta["ood_name"]
    reference = result.get("reference_teacher")

    def pct(value, split):
        if value is None or not reference or not reference.get(split):
            return ""
        return f"{100 * value / reference[split]:.1f} %"

    header = ["model", f"dev {metric}", f"test {metric}", ood, "of the teacher (test)", f"of the teacher ({ood})",
              "best epoch", "epochs", "min / epoch (1 thr)", "seeds"]
    lines = []
    if reference:
        lines.append([f"teacher (`{reference['file']}`)", f"{reference['dev']:.2f}", f"{reference['test']:.2f}",
                      f"{reference['ood']:.2f}", "100.0 %", "100.0 %", "", "", "", ""])
    for student in result["students"]:
        runs = student["no_kd"]
        if not runs:
            continue

        def scores(split):
            return [r[split] for r in runs if r.get(split) is not None]

        means = {split: statistics.mean(scores(split)) if scores(split) else None for split in ("test", "ood")}
        epochs = student.get("epochs") or (meta["transformer_epochs"] if student.get("layers") else meta["student_epochs"])
        minutes = [r["epoch_seconds_mean"] / 60 for r in runs if r.get("epoch_seconds_mean")]
        lines.append([f"{student['label']}, no KD",
                      mean_std(scores("dev"), scale=1), mean_std(scores("test"), scale=1), mean_std(scores("ood"), scale=1),
                      pct(means["test"], "test"), pct(means["ood"], "ood"),
                      ", ".join(str(r["best_epoch"]) for r in runs), str(epochs),
                      f"{statistics.mean(minutes):.1f}" if minutes else "", str(len(runs))])
    if reference:
        source = (f"The teacher row is the published frontier's (`{reference['file']}`: trained and scored by another "
                  f"invocation, commit {reference['git_commit']}, {reference['date']}, {reference['cpu']}); this "
                  f"invocation trained no teacher.")
    else:
        source = "No published frontier of this task and regime to compare with; this invocation trained no teacher."
    return (f"### {meta['task'].upper()} ({meta['regime']}): the students without KD\n\n" + _table(header, lines)
            + f"\n\nStudents trained on {meta['train_sentences']:,} labeled sentences alone (`frontier.py "
            f"--no-kd-only`: no KD, no transfer set), seeds {meta['seeds']} (the `seeds` column counts a row's runs; "
            f"`minilm_l{{k}}`: the first k of all-MiniLM-L6-v2's layers fine-tuned), mean (± std over seeds); "
            f"best epoch on dev (per seed); minutes per training epoch on one thread, two runs at a "
            f"time. {source} No speed is measured without the teacher beside it. Machine: {meta['machine']['cpu']}, "
            f"commit {meta['git_commit']}, {meta['date']}.\n\nCommand: `{meta['command']}`\n")


def plot_frontier(result: Dict, out: Path) -> None:
    """Test score against words/s (1 thread, log scale), with and without KD, and the frontier."""
    sys.path.insert(0, str(HERE))
    from frontier import pareto

    every = frontier_rows(result)
    teacher, rows = every[0], [r for r in every if r["speed"].get(1)]
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = result["meta"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    speeds = [r["speed"][1]["tokens_per_second"] for r in rows]
    for r, x in zip(rows, speeds):
        ax.scatter([x], [r["kd_test"]], color="C0" if r["label"] != "teacher" else "black", zorder=3)
        ax.annotate(r["label"], (x, r["kd_test"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
        if r["plain_test"] is not None:
            ax.scatter([x], [r["plain_test"]], color="C1", marker="x", zorder=3)
            ax.plot([x, x], [r["plain_test"], r["kd_test"]], color="grey", linewidth=0.6)
    order = pareto([(times_teacher(r, teacher, 1) or 0.0, r["kd_test"]) for r in rows])
    ax.plot([speeds[i] for i in order], [rows[i]["kd_test"] for i in order], "--", color="C0", label="Pareto frontier")
    ax.scatter([], [], color="C1", marker="x", label="no KD")
    ax.scatter([], [], color="C0", label="KD + transfer set")
    ax.set_xscale("log")
    ax.set_xlabel("words/s, one CPU thread (log scale)")
    ax.set_ylabel(f"test {meta['metric']}")
    ax.set_title(f"{meta['task'].upper()} ({meta['regime']}): accuracy vs CPU speed")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out)


# the per-file renderers of `render(path)` (besides `{task}.json`)
def scenarios_markdown(result: Dict) -> str:
    """`scenarios_{regime}.md` (`scenarios.py`): Wang et al.'s scenarios side by side, one row per
    teacher ⇒ student and objective, with each teacher's own scores, and the suites not yet run."""
    header = ["case", "teacher ⇒ student", "objective", "teacher's marginals", "teacher test / out of domain",
              "no KD test", "KD test", "KD + transfer set: test", "out of domain", "test gap closed"]
    def score(value: Optional[float]) -> str:
        return "—" if value is None else f"{value:.2f}"

    lines = []
    for row in result["rows"]:
        gap = "—" if row["transfer_test"] is None or row["plain_test"] is None else \
            _gap(row["transfer_test"], row["plain_test"], row["teacher_test"])
        objective = row["objective"].split(",")[0]
        lines.append([row["case"], f"{row['teacher']} ⇒ {row['student']}", objective, row["marginals"],
                      f"{row['teacher_test']:.2f} / {row['teacher_ood']:.2f} {row['metric']} ({row['ood_name']})",
                      score(row["plain_test"]), score(row["kd_test"]), score(row["transfer_test"]),
                      score(row["transfer_ood"]), gap])
    parts = [f"### Wang et al.'s scenarios ({result['meta']['regime']} data)",
             f"Command: `{result['meta']['command']}`", _table(header, lines)]
    seeds = sorted({len(row["seeds"]) for row in result["rows"]})
    parts.append(
        "Means over " + "/".join(map(str, seeds)) + " seeds of the tiny student (`transfer.py`'s suites: "
        + ", ".join(f"`{name}`" for name in result["meta"]["sources"].values())
        + "); test = the full EWT test set, out of domain = UNER-PUD (NER) or UD-GUM (parsing); "
        "no KD = the same student trained on gold only (the softmax student's own for a softmax "
        "student); gap closed = (KD + transfer set − no KD) / (teacher − no KD) on test. Teachers, trained as "
        "each suite says: " + "; ".join(
            f"`{config}` (case {', '.join(dict.fromkeys(r['case'] for r in result['rows'] if r['teacher_config'] == config))})"
            for config in dict.fromkeys(row["teacher_config"] for row in result["rows"]))
        + " — the `*_transformer` ones all-MiniLM-L6-v2 fine-tuned with their own structure on top, "
        "`ner_softmax_teacher` a BiLSTM softmax tagger over random word embeddings and characters.")
    commands: "OrderedDict[str, List[str]]" = OrderedDict()
    for m in result["missing"]:
        commands.setdefault(m["command"], []).append(
            f"case {m['case']}, {m['teacher']} ⇒ {m['student']}, {m['objective'].split(',')[0]}")
    if commands:
        parts.append("Not measured yet: " + " ".join(f"{'; '.join(rows)} (`{command}`)."
                                                     for command, rows in commands.items()))
    return "\n\n".join(parts) + "\n"


def audit_markdown(result: Dict) -> str:
    """`defaults_audit.json` (`defaults_audit.py`): every shipped KD config against the plain student
    of its architecture, the measurement its verdict comes from, and the transfer set's."""
    header = ["config", "plain student", "teacher (results file)", "seeds", "Δ dev", "Δ test",
              "+ transfer set: Δ dev", "Δ test", "verdict (as shipped: no transfer set)"]
    lines = []
    for row in result["configs"]:
        measured = row["measurements"]
        best = next((e for e in measured if e["source"] == row.get("from") and not e["transfer"]), None)
        with_transfer = [e for e in measured if e["transfer"]]
        # the transfer-set run of the verdict's source, else the first with one
        extra = next((e for e in with_transfer if best and e["source"] == best["source"]),
                     with_transfer[0] if with_transfer else None)
        shown = best or extra
        lines.append([f"`{row['config']}`", f"`{row['plain']}`",
                      "" if shown is None else f"{shown['teacher']} (`{shown['source']}`)",
                      "" if shown is None else str(shown["seeds"]),
                      "" if best is None else f"{best['kd_dev'] - best['plain_dev']:+.2f}",
                      "" if best is None else f"{best['kd_test'] - best['plain_test']:+.2f}",
                      "" if extra is None else f"{extra['kd_dev'] - extra['plain_dev']:+.2f}",
                      "" if extra is None else f"{extra['kd_test'] - extra['plain_test']:+.2f}",
                      row["verdict"]])
    counts: "OrderedDict[str, int]" = OrderedDict()
    for row in result["configs"]:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    return (f"### Do the shipped KD configs beat their plain student?\n\n" + _table(header, lines)
            + "\n\nΔ = mean over seeds of the KD config minus the plain student of the same architecture, "
            "teacher, data and seeds, in F1 (NER) or LAS (parsing) points, full training data; a config's "
            "verdict comes from its measurement with the strongest teacher without the transfer set, "
            "`+ transfer set` is the same config trained with it (the frontier's students: only so). "
            + "; ".join(f"{n} {verdict}" for verdict, n in counts.items())
            + f". Commit {result['meta']['git_commit']}, {result['meta']['date']}.\n\n"
            f"Command: `{result['meta']['command']}`\n")


FILE_RENDERERS: Dict[str, Callable[[Dict], str]] = {
    "scenarios_low": scenarios_markdown,
    "scenarios_full": scenarios_markdown,
    "ner_agreement": lambda result: agreement_markdown("ner", result),
    "dep_agreement": lambda result: agreement_markdown("dep", result),
    "ner_teacher_casing": casing_markdown,
    "static_subword_options": static_options_markdown,
    "char_cap": char_cap_markdown,
    "char_boundaries": char_boundaries_markdown,
    "student_profile": profile_markdown,
    "mfvi_gap": mfvi_gap_markdown,
    "defaults_audit": audit_markdown,
    **{f"frontier_{regime}_{task}{tag}": frontier_markdown for regime in ("low", "full") for task in ("ner", "dep")
       for tag in ("", "_minilm")},  # frontier.py's --tag
    **{f"frontier_{regime}_{task}{tag}_no_kd": frontier_no_kd_markdown for regime in ("low", "full")
       for task in ("ner", "dep") for tag in ("", "_minilm")},  # frontier.py --no-kd-only
    # transfer.py's files: transfer_{regime}_{task}[_{student preset}]
    **{f"transfer_{regime}_{task}{student}": transfer_markdown for regime in ("low", "full") for task in ("ner", "dep")
       for student in ("", *(f"_{name}" for name in STUDENT_NAMES if name != "tiny"))},
    # the same suite with the scenario-4 span teacher, the case-2b second-order teacher, and cases 2a
    # (the CRF teacher, a softmax student) and 3 (a softmax teacher, the CRF student)
    **{f"transfer_{regime}_{task}": transfer_markdown for regime in ("low", "full")
       for task in ("ner_span", "dep_second_order", "ner_softmax_student", "ner_softmax_teacher")},
}


# ---------------------------------------------------------------------------------------------
# marked blocks in the documentation


def _body(markdown: str) -> str:
    """A renderer's Markdown without its `###` title and its `Command:` paragraph (the block names
    the command above the table)."""
    paragraphs = [p for p in markdown.strip("\n").split("\n\n")
                  if not p.startswith("### ") and not p.startswith("Command: `")]
    return "\n\n".join(paragraphs) + "\n"


def _command(result: Dict) -> str:
    return (result.get("meta") or result)["command"]


def demo_markdown(result: Dict) -> str:
    """`make demo`'s tables (`benchmarks/results/demo.json`: its `demo_out/*/summary.json`)."""
    parts = []
    for task in result["tasks"]:
        rows = task["rows"]
        teacher, plain = rows[0]["test"], rows[1]["test"]
        lines = []
        for row in rows:
            change = gap = ""
            if row["model"] not in ("teacher",) and not row["model"].startswith("plain"):
                change = f"{row['test'] - plain:+.2f}"
                gap = _gap(row["test"], plain, teacher, missing="")
            lines.append([row["model"], f"{row['dev']:.2f}", f"{row['test']:.2f}", change, gap])
        metric = task["metric"]
        student = task.get("student", "tiny")  # summaries written before `--student` are the tiny students'
        who = "the tiny students" if student == "tiny" else f"the `{student}` students"
        parts.append(f"{task['task'].upper()}, {who} (test: `{task['test_file']}`)\n\n" + _table(
            ["model", f"dev {metric}", f"test {metric}", "Δ vs no KD", "gap closed"], lines))
    return "\n\n".join(parts) + f"\n\n{result['note']}\n"


# name -> (results file, renderer of the block's table)
BLOCKS: Dict[str, Tuple[str, Callable[[Dict], str]]] = {
    "ner": ("ner.json", headline_markdown),
    "dep": ("dep.json", headline_markdown),
    "ner-full": ("ner.json", lambda result: _body(task_markdown(result))),
    "dep-full": ("dep.json", lambda result: _body(task_markdown(result))),
    "ner-sweep": ("ner_sweep.json", lambda result: _body(sweep_markdown(result))),
    "dep-sweep": ("dep_sweep.json", lambda result: _body(sweep_markdown(result))),
    "ner-casing": ("ner_teacher_casing.json", lambda result: _body(casing_markdown(result))),
    "case1b": ("dep_tagger.json", lambda result: _body(extra_markdown("case1b", result))),
    "ensemble": ("ner_ensemble.json", lambda result: _body(extra_markdown("ensemble", result))),
    "ner-agreement": ("ner_agreement.json", lambda result: _body(agreement_markdown("ner", result))),
    "dep-agreement": ("dep_agreement.json", lambda result: _body(agreement_markdown("dep", result))),
    "kernels": ("kernels.json", kernels_summary),
    "load-check": ("load_check.json", load_check_markdown),
    "demo": ("demo.json", demo_markdown),
    "demo-static-subword": ("demo_static_subword.json", demo_markdown),
    "mfvi-gap": ("mfvi_gap.json", lambda result: _body(mfvi_gap_markdown(result))),
    "defaults-audit": ("defaults_audit.json", lambda result: _body(audit_markdown(result))),
    "transfer-low-ner": ("transfer_low_ner.json", lambda result: _body(transfer_markdown(result))),
    "transfer-full-ner": ("transfer_full_ner.json", lambda result: _body(transfer_markdown(result))),
    "transfer-low-dep": ("transfer_low_dep.json", lambda result: _body(transfer_markdown(result))),
    "frontier-full-ner": ("frontier_full_ner.json", lambda result: _body(frontier_markdown(result))),
    "frontier-full-dep": ("frontier_full_dep.json", lambda result: _body(frontier_markdown(result))),
    "frontier-full-ner-minilm": ("frontier_full_ner_minilm.json", lambda result: _body(frontier_markdown(result))),
    "frontier-full-dep-no-kd": ("frontier_full_dep_no_kd.json", lambda result: _body(frontier_no_kd_markdown(result))),
    "frontier-full-dep-minilm": ("frontier_full_dep_minilm.json", lambda result: _body(frontier_markdown(result))),
    "speed-full-dep-transformer": ("speed_full_dep_transformer.json", speed_markdown),
    "transfer-full-dep-static-subword": ("transfer_full_dep_static_subword.json",
                                         lambda result: _body(transfer_markdown(result))),
    "transfer-full-ner-static-subword": ("transfer_full_ner_static_subword.json",
                                         lambda result: _body(transfer_markdown(result))),
    "transfer-full-dep-minilm-l3": ("transfer_full_dep_minilm_l3.json",
                                    lambda result: _body(transfer_markdown(result))),
    "transfer-full-dep": ("transfer_full_dep.json", lambda result: _body(transfer_markdown(result))),
    "transfer-full-ner-span": ("transfer_full_ner_span.json", lambda result: _body(transfer_markdown(result))),
    "transfer-full-ner-softmax-student": ("transfer_full_ner_softmax_student.json",
                                          lambda result: _body(transfer_markdown(result))),
    "transfer-full-ner-softmax-teacher": ("transfer_full_ner_softmax_teacher.json",
                                          lambda result: _body(transfer_markdown(result))),
    "transfer-full-dep-second-order": ("transfer_full_dep_second_order.json",
                                       lambda result: _body(transfer_markdown(result))),
    "wang-scenarios-full": ("scenarios_full.json", lambda result: _body(scenarios_markdown(result))),
    "transfer-low-ner-headline": ("transfer_low_ner.json", transfer_headline),
    "transfer-low-dep-headline": ("transfer_low_dep.json", transfer_headline),
    "static-subword-options": ("static_subword_options.json", lambda result: _body(static_options_markdown(result))),
    "char-cap": ("char_cap.json", lambda result: _body(char_cap_markdown(result))),
    "char-boundaries": ("char_boundaries.json", lambda result: _body(char_boundaries_markdown(result))),
    "student-profile": ("student_profile.json", lambda result: _body(profile_markdown(result))),
    "transfer-low-ner-static-subword": ("transfer_low_ner_static_subword.json",
                                        lambda result: _body(transfer_markdown(result))),
    "transfer-low-ner-static-subword-headline": ("transfer_low_ner_static_subword.json", transfer_headline),
    "speed-low-ner": ("speed_low_ner.json", speed_markdown),
    "speed-full-ner": ("speed_full_ner.json", speed_markdown),
    "speed-low-dep": ("speed_low_dep.json", speed_markdown),
    "transfer-low-dep-static-subword": ("transfer_low_dep_static_subword.json",
                                        lambda result: _body(transfer_markdown(result))),
}

# the Markdown files whose marked blocks `readme` rewrites (relative to the repository root)
MARKED_FILES = ["README.md", "benchmarks/README.md", "docs/configuration.md", "docs/objectives.md",
                "docs/operations.md", "docs/transfer_sets.md"]

MARKER = re.compile(r"<!-- results:(?P<name>[a-z0-9-]+) -->\n(?P<body>.*?)<!-- /results:(?P=name) -->",
                    re.DOTALL)
RENDER_COMMAND = "python benchmarks/report.py readme"


def block(name: str, where: Path = ROOT, results: Path = RESULTS) -> str:
    """The text of the marked block `name` in a Markdown file of the folder `where`: the commands
    that measured and rendered it, a link to its JSON (relative to `where`), then its table."""
    if name not in BLOCKS:
        raise KeyError(f"no results block named {name!r}; known: {', '.join(BLOCKS)}")
    filename, renderer = BLOCKS[name]
    path = results / filename
    result = json.loads(path.read_text())
    link = Path(os.path.relpath(path, where)).as_posix()
    return (f"Measured by `{_command(result)}`; rendered from [`{link}`]({link}) by "
            f"`{RENDER_COMMAND}`.\n\n" + renderer(result))


def marked_blocks(text: str) -> Dict[str, str]:
    """name -> the body between its markers, for every marked block of a Markdown text."""
    return {match["name"]: match["body"] for match in MARKER.finditer(text)}


def fill_blocks(text: str, where: Path = ROOT, results: Path = RESULTS) -> str:
    """`text` with the body of every marked block replaced by `block(name)`."""
    opened = re.findall(r"<!-- results:([a-z0-9-]+) -->", text)
    closed = re.findall(r"<!-- /results:([a-z0-9-]+) -->", text)
    if sorted(opened) != sorted(closed) or len(marked_blocks(text)) != len(opened):
        raise ValueError(f"unbalanced results markers: opened {opened}, closed {closed}")
    return MARKER.sub(lambda match: f"<!-- results:{match['name']} -->\n{block(match['name'], where, results)}"
                                    f"<!-- /results:{match['name']} -->", text)


def readme(check: bool = False, root: Path = ROOT) -> List[str]:
    """Rewrite (or, with `check`, only compare) the marked blocks of `MARKED_FILES`; returns the
    files that were (or would be) changed."""
    changed = []
    for name in MARKED_FILES:
        path = root / name
        if not path.exists():
            continue
        text = path.read_text()
        new = fill_blocks(text, path.parent)
        if new != text:
            changed.append(name)
            if not check:
                path.write_text(new)
    return changed


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["readme"]:
        parser = argparse.ArgumentParser(prog="report.py readme",
                                         description="Render the marked results tables of the documentation.")
        parser.add_argument("--check", action="store_true", help="only check; exit 1 if a table is stale")
        args = parser.parse_args(argv[1:])
        changed = readme(check=args.check)
        for name in changed:
            print(("stale: " if args.check else "rewrote: ") + name)  # noqa: T201 (a report script)
        return 1 if args.check and changed else 0
    for argument in argv:
        render(Path(argument))
    return 0


if __name__ == "__main__":
    sys.exit(main())
