"""Does every shipped KD config beat the plain student of its architecture? An audit of the
published full-data results (`make bench-audit`).

    python benchmarks/defaults_audit.py

Trains nothing: reads the full-data results files in `benchmarks/results/` (`run.py`'s `ner.json`
and `dep.json`, `extra.py`'s `dep_tagger.json`, `transfer.py`'s `transfer_full_*.json`,
`frontier.py`'s `frontier_full_*.json`) and, for every KD config of `training_configs/` (a name
with `_kd`), pairs each measurement of it with the plain student of the same architecture, teacher,
data and seeds (`TWINS`): the mean dev and test score over seeds of both, without and with the
transfer set. A config's verdict comes from its measurement with the strongest teacher that has
no transfer set (the config as shipped); a config measured nowhere at full data says so.

Writes `benchmarks/results/defaults_audit.json`; `benchmarks/report.py` renders its table.
"""
import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transfer  # noqa: E402
from run import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

#: the plain student (no KD) of the same architecture as each KD config's student
TWINS: Dict[str, str] = {
    **{f"ner_{name}": "ner_baseline" for name in ("token_kd", "posterior_kd", "topk_kd", "struct_kd", "sub_kd",
                                                  "sub_kd_bigram", "span_struct_kd", "softmax_teacher_struct_kd")},
    "ner_span_posterior_kd": "ner_softmax_baseline",
    "ner_softmax_student_kd": "ner_softmax_baseline",
    **{f"dep_{name}": "dep_baseline" for name in ("local_kd", "struct_kd", "struct_kd_projective", "sub_kd",
                                                  "second_order_local_kd", "second_order_struct_kd")},
    "dep_tagger_struct_kd": "dep_tagger",
    "dep_tagger_second_order_kd": "dep_tagger",
    **{f"ner_{preset}_{name}": f"ner_{preset}_baseline" for preset in transfer.STUDENTS[1:]
       for name in ("token_kd", "posterior_kd", "struct_kd", "sub_kd")},
    **{f"dep_{preset}_{name}": f"dep_{preset}_baseline" for preset in transfer.STUDENTS[1:]
       for name in ("local_kd", "struct_kd", "sub_kd")},
}

#: presets renamed since a results file was written, by the name they have now: `minilm_l2` became
#: `minilm_l3` (k = 3 its default since the frontier measured it); frontier.py always set a
#: transformer student's `layers`, so a row's network is its config's under the new name
RENAMED_PRESETS = {"minilm_l2": "minilm_l3"}

#: the teachers of the results files, strongest last (a verdict takes the strongest measurement)
TEACHERS = {
    "ner.json": (0, "MiniLM, 2 epochs"),
    "dep.json": (0, "MiniLM, 2 epochs"),
    "dep_tagger.json": (0, "MiniLM, 2 epochs"),
    "transfer_full_ner.json": (1, "MiniLM, 6 epochs"),
    "transfer_full_dep.json": (1, "MiniLM, 6 epochs"),
    "transfer_full_ner_span.json": (1, "MiniLM span (semi-Markov), 6 epochs"),
    "transfer_full_dep_second_order.json": (1, "MiniLM second-order, 6 epochs"),
    "frontier_full_ner.json": (1, "MiniLM, 6 epochs"),
    "frontier_full_dep.json": (1, "MiniLM, 6 epochs"),
    # the same NER teacher config retrained on another CPU (another teacher): the transformer students
    "frontier_full_ner_minilm.json": (1, "MiniLM, 6 epochs (retrained on a Xeon)"),
    # the parser teacher config retrained on a slower EPYC (another teacher): the transformer students
    "frontier_full_dep_minilm.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    # transfer.py --student static_subword --no-transfer-set against that retrained parser teacher
    "transfer_full_dep_static_subword.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    # the same for NER, against the NER teacher config retrained on that EPYC
    "transfer_full_ner_static_subword.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    # the minilm_l3 presets as shipped (--no-transfer-set), against those retrained teachers
    "transfer_full_dep_minilm_l3.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    "transfer_full_ner_minilm_l3.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    # case 2a: that retrained NER teacher (the `ner` suite's, shared) and the softmax student
    "transfer_full_ner_softmax_student.json": (1, "MiniLM, 6 epochs (retrained on another EPYC)"),
    # case 3: a softmax BiLSTM teacher trained on the full training set (not the config's fixture)
    "transfer_full_ner_softmax_teacher.json": (1, "softmax BiLSTM tagger, 15 epochs"),
}


def shipped_kd_configs(configs: Path = ROOT / "training_configs") -> List[str]:
    """The KD configs shipped in `configs` (names with `_kd`), sorted."""
    return sorted(path.stem for path in configs.glob("*.jsonnet") if "_kd" in path.stem)


def _entry(config: str, source: str, label: str, kd: List[Tuple[float, float]], plain: List[Tuple[float, float]],
           transfer_sentences: int, epochs: Optional[int]) -> Dict:
    """One measurement: `kd` and `plain` are (dev, test) per seed, in %."""
    return {"config": config, "plain": TWINS[config], "source": source, "label": label,
            "teacher": TEACHERS[source][1], "strength": TEACHERS[source][0], "transfer": transfer_sentences,
            "epochs": epochs, "seeds": len(kd), "plain_seeds": len(plain),
            "kd_dev": statistics.mean([d for d, _ in kd]), "kd_test": statistics.mean([t for _, t in kd]),
            "plain_dev": statistics.mean([d for d, _ in plain]), "plain_test": statistics.mean([t for _, t in plain])}


def from_run_file(source: str, result: Dict) -> List[Dict]:
    """`run.py` / `extra.py` results: groups of (method, config) over seeds, the students' epochs
    only (not the one-epoch timing runs); a config's first method is its canonical run, later ones
    (`structural, dense relation terms`) are variants of it with overrides and are left out."""
    records = result.get("runs") or result.get("records") or []
    _, key = transfer.TASKS["dep" if source.startswith("dep") else "ner"]["metric"]  # dep_tagger.json: LAS
    students = [r for r in records if r["method"] != "teacher" and r.get("cache") is not False]
    epochs = statistics.mode([r["epochs"] for r in students]) if students else None
    groups: Dict[str, List[Dict]] = {}
    first_method: Dict[str, str] = {}
    for r in students:
        if r["epochs"] != epochs:
            continue
        first_method.setdefault(r["config"], r["method"])
        if r["method"] == first_method[r["config"]]:
            groups.setdefault(r["config"], []).append(r)

    def scores(runs):
        return [(100 * r["dev"][key], 100 * r["test"][key]) for r in runs]

    return [_entry(config, source, runs[0]["method"], scores(runs), scores(groups[TWINS[config]]), 0, epochs)
            for config, runs in groups.items() if config in TWINS and TWINS[config] in groups]


def from_transfer_file(source: str, result: Dict) -> List[Dict]:
    """`transfer.py` results: each objective (and the objectives `--no-transfer-set` adds) without
    and with the whole transfer set, against its plain run (`plain_of`, else `no KD`); the
    transfer-set-size curve's single runs are left out."""
    presets = "|".join(f"_{name}" for name in transfer.STUDENTS if name != "tiny")
    task = re.match(rf"transfer_full_(.+?)({presets})?\.json$", source)
    spec, student = transfer.TASKS[task.group(1)], (task.group(2) or "_tiny")[1:]
    full = result["meta"]["transfer_sentences"]
    runs: Dict[Tuple[str, int], List[Dict]] = {}
    for r in result["runs"]:
        runs.setdefault((r["model"], r["transfer"]), []).append(r)
    entries = []
    for label, config, _ in transfer.audited_objectives(spec):
        config = transfer.preset_config(config, student)
        plain = runs.get((spec.get("plain_of", {}).get(label, "no KD"), 0))
        for sentences, model in ((0, label), (full, f"{label} + transfer set")):
            kd = runs.get((model, sentences))
            if kd and plain and config in TWINS:
                entries.append(_entry(config, source, model, [(r["dev"], r["test"]) for r in kd],
                                      [(r["dev"], r["test"]) for r in plain], sentences,
                                      result["meta"].get("student_epochs")))
    return entries


def from_frontier_file(source: str, result: Dict) -> List[Dict]:
    """`frontier.py` results: the non-tiny students (the tiny ones are the transfer suites'), KD +
    transfer set against no KD; of the transformer students only the preset's own (`minilm_l3`, not
    the same config with another layer count; a renamed preset by its name now, `RENAMED_PRESETS`);
    a student with its own epochs is labelled so."""
    meta, entries = result["meta"], []
    objective = {name: config for name, config, _ in transfer.TASKS[meta["task"]]["objectives"]}[meta["objective"]]
    for student in result["students"]:
        preset = RENAMED_PRESETS.get(student["preset"], student["preset"])
        other_layers = student.get("layers") and student["label"] != preset
        if preset == "tiny" or other_layers or not student["kd"] or not student["no_kd"]:
            continue
        config = transfer.preset_config(objective, preset)
        epochs = student.get("epochs") or (meta.get("transformer_epochs") if student.get("layers")
                                           else meta["student_epochs"])
        entries.append(_entry(config, source, f"{student['label']}, KD + transfer set",
                              [(r["dev"], r["test"]) for r in student["kd"]],
                              [(r["dev"], r["test"]) for r in student["no_kd"]], meta["transfer_sentences"], epochs))
    return entries


def verdict(entries: List[Dict]) -> Dict:
    """A config's verdict from its measurements: the strongest teacher's, without the transfer set
    (the config as shipped), the most seeds first."""
    shipped = [e for e in entries if not e["transfer"]]
    if not shipped:
        return {"verdict": "not measured at full data" if not entries else "measured only with a transfer set"}
    best = max(shipped, key=lambda e: (e["strength"], e["seeds"]))
    dev, test = best["kd_dev"] - best["plain_dev"], best["kd_test"] - best["plain_test"]
    if dev > 0 and test > 0:
        word = "beats the plain student on dev and test"
    elif dev <= 0 and test <= 0:
        word = "below the plain student on dev and test"
    else:
        word = f"below the plain student on {'dev' if dev <= 0 else 'test'}"
    if best["seeds"] < 3:
        word += f" ({best['seeds']} seed{'s' if best['seeds'] > 1 else ''})"
    return {"verdict": word, "from": best["source"], "dev_delta": dev, "test_delta": test}


def audit(results: Path = RESULTS, configs: Path = ROOT / "training_configs") -> Dict:
    entries: List[Dict] = []
    for source in TEACHERS:
        path = results / source
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        if source.startswith("transfer_full_"):
            entries += from_transfer_file(source, result)
        elif source.startswith("frontier_full_"):
            entries += from_frontier_file(source, result)
        else:
            entries += from_run_file(source, result)
    shipped = shipped_kd_configs(configs)
    unknown = [config for config in shipped if config not in TWINS]
    if unknown:
        raise SystemExit(f"no plain twin for the shipped KD configs {unknown}: add them to TWINS")
    by_config: Dict[str, List[Dict]] = {config: [] for config in shipped}
    for entry in entries:
        by_config.setdefault(entry["config"], []).append(entry)
    return {"configs": [{"config": config, "plain": TWINS[config], "measurements": by_config[config],
                         **verdict(by_config[config])} for config in shipped]}


def main(argv: Optional[List[str]] = None) -> None:
    # no options: the flags are parsed so that `--help` (or a mistyped flag) writes nothing
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    result = audit()
    result = {"meta": {"command": "python benchmarks/defaults_audit.py", "sources": list(TEACHERS),
                       "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
              **result}
    path = RESULTS / "defaults_audit.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    import subprocess

    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(path)], check=True)


if __name__ == "__main__":
    main()
