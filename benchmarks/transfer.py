"""Transfer-set benchmark: KD students with and without unlabeled sentences for the teacher to
label, in two regimes, in domain and out of domain (`make bench-transfer`).

    python benchmarks/transfer.py {ner,dep} --regime {low,full} [--seeds 3] [--workers 2] [--reuse]

Regimes (data in `../shared/data`, or `--data-dir`):

- **low**: the 1,000 labeled training sentences of the shipped sample (`fixtures/data`); the
  transfer set is the *other* EWT training sentences (≈ 11.2k, words and UPOS only, labels
  dropped: cut here with `scripts/make_transfer_set.py`'s rule); the MiniLM teacher fine-tuned on
  the 1,000 sentences.
- **full**: the full EWT training set; the transfer set is GUM + LinES
  (`unlabeled/en_gum_lines-train.conllu`, 13.0k sentences; no EWT text, no GUM test document).

In both the teacher (the task's MiniLM teacher config) is trained for `--teacher-epochs` epochs and
its best epoch on the full EWT dev set is kept (epochs chosen on dev); an interrupted teacher, or
a student stopped after at least one epoch (its checkpoint), is resumed with `allennlp train
--recover`. The teacher's outputs on the training and transfer
sentences are written once to one SQLite store (`allennlp fill-teacher-cache`). Then, for every
seed: the plain student (no KD) and each KD objective without and with the transfer set (the
`transfer_set` data loader: every transfer sentence every epoch, KD only on them with
`unlabeled_weight` 1), all the same student architecture (the shipped configs' `ner_student` /
`dep_student`). Finally the gap-vs-size curve: the best transfer objective (mean dev score) on
random 2.5k and 5k subsets of the transfer set, first seed. `--no-transfer-set` trains the plain
student and the objectives without the transfer set only (the configs as shipped: what
`defaults_audit.py` judges), no curve; it adds the preset's other shipped objectives (NER: token KD).
A transformer preset (`--student minilm_l3`) gets its linear warm-up sized from the training data
(10 % of the steps, as `frontier.py` sizes it; the configs size it for the 1,000-sentence sample),
so its no-KD run is the frontier's `minilm_l3` no-KD run of the same seed and epochs.
`--objectives NAME ...` trains those of the suite's objectives only (a suite too long for one
sitting, published in parts; a results file holding runs of the others is refused).

Every model is scored on the full EWT dev set (model selection), the full EWT test set (in domain)
and out of domain: UNER English-PUD for NER, UD English-GUM test for parsing (`allennlp evaluate`
with the model's own checked reader: an unseen gold label counts as wrong). One record per run in
`benchmarks/results/transfer_{regime}_{task}.json`; `benchmarks/report.py` renders the table
(`.md`) and the curve (`.png`). `--reuse` keeps every finished run (teacher, store, students) and
resumes the rest; `--fresh` deletes the regime's folder first (every preset's runs, the frontier's
and those of a suite sharing its teacher too); with neither, a regime folder that holds anything is refused before anything runs. A suite
that shares another's teacher and store (`ner_softmax_student`, Wang et al.'s case 2a, uses
`ner`'s) keeps its runs in a subfolder of that suite's folder: its flags keep or delete only them
(`--teacher` is refused: the archive would become the owner's teacher). A run
being trained (or the store being filled) holds `{run}.lock`: another invocation reaching it while
its process lives stops with an error naming the process (`frontier.py` trains through here too).
A student run whose process fails (or is killed) does not stop the others: once they have finished,
the script ends with one error naming each failed run and its log, and writes no results file (a
published one keeps what it holds); `--reuse` retries the failed runs, `--objectives` publishes
the objectives that finished.

Students run one thread each, `--workers` at a time: their epoch times are a cost, not a speed
measurement (see `benchmarks/throughput.py` for that).
"""
import argparse
import concurrent.futures
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from run import RunFailed, RunInUse, claimed, gather, git_commit, live_locks, logged, machine, main_or_exit, warmup_override  # noqa: E402
from make_transfer_set import blocks, conll_sentence, conllu_sentence, pick  # noqa: E402
from demo import preset_config  # noqa: E402  (a preset's config name, as make demo names it)

logger = logging.getLogger("transfer")
ROOT = Path(__file__).resolve().parent.parent

TASKS = {
    "ner": {
        "teacher": "ner_teacher_transformer",
        "metric": ("F1", "f1-measure-overall"),
        "plain": "ner_baseline",
        "objectives": [("structural", "ner_struct_kd", {}),
                       ("posterior", "ner_posterior_kd", {}),
                       ("sub-structure", "ner_sub_kd", {})],
        # further shipped objectives of every preset, trained with --no-transfer-set only (the audit)
        "audit_objectives": [("token", "ner_token_kd", {})],
        "format": "conll",  # of the labeled files and of the transfer sets cut from them
        "ewt": ("uner_ewt", "en_ewt-uner-{}.conll"),
        "sample": "fixtures/data/uner_ewt/train.conll",
        "parse": conll_sentence,  # (word, UPOS) of a sentence in that format
        "ood": ("UNER-PUD", "uner_pud/en_pud-uner-test.conll"),
        "checked_reader": "checked_conll2003",
    },
    "dep": {
        "teacher": "dep_teacher_transformer",
        "metric": ("LAS", "LAS"),
        "plain": "dep_baseline",
        "objectives": [("structural", "dep_struct_kd", {}),
                       ("local", "dep_local_kd", {}),
                       ("sub-structure", "dep_sub_kd", {})],
        "format": "conllu",
        "ewt": ("ud_ewt", "en_ewt-ud-{}.conllu"),
        "sample": "fixtures/data/ud_ewt/train.conllu",
        "parse": conllu_sentence,
        "ood": ("GUM", "ud_gum/en_gum-ud-test.conllu"),
        "checked_reader": "checked_universal_dependencies",
    },
}
# Wang et al.'s scenario 4 and case 2b (`make bench-scenarios`): the same data, students and
# transfer sets, other teachers — a span-based NER teacher (its CRF and softmax students) and a
# second-order (sibling, MFVI) parser teacher (the biaffine student and the dependency tagger)
# (the tiny student only: no preset configs of theirs)
# A task's "baselines" are further plain students (name, config), trained once per seed; its
# "plain_of" names the plain student an objective's student is measured against (default "no KD").
TASKS["ner_span"] = {**TASKS["ner"], "teacher": "ner_span_teacher_transformer", "presets": False,
                     "audit_objectives": [],
                     "objectives": [("structural, CRF student", "ner_span_struct_kd", {}),
                                    ("posterior, softmax student", "ner_span_posterior_kd", {})],
                     "baselines": [("no KD, softmax student", "ner_softmax_baseline")],
                     "plain_of": {"posterior, softmax student": "no KD, softmax student"}}
TASKS["dep_second_order"] = {**TASKS["dep"], "teacher": "dep_second_order_teacher_transformer", "presets": False,
                             "objectives": [("structural", "dep_second_order_struct_kd", {}),
                                            ("local", "dep_second_order_local_kd", {}),
                                            ("structural, dependency tagger (case 2b)", "dep_tagger_second_order_kd", {})],
                             "baselines": [("no KD, dependency tagger", "dep_tagger")],
                             "plain_of": {"structural, dependency tagger (case 2b)": "no KD, dependency tagger"}}
# Wang et al.'s cases 2a and 3 (NER): the CRF teacher of `ner` into the softmax student (its run
# and store shared, not retrained: "teacher_of"), and a softmax BiLSTM teacher (its own config's 15
# epochs, no warm-up) into the CRF student (the KD config's fixture teacher replaced by it)
TASKS["ner_softmax_student"] = {**TASKS["ner"], "teacher_of": "ner", "presets": False, "audit_objectives": [],
                                "plain": "ner_softmax_baseline",
                                "objectives": [("posterior, softmax student", "ner_softmax_student_kd", {})]}
TASKS["ner_softmax_teacher"] = {**TASKS["ner"], "teacher": "ner_softmax_teacher", "teacher_epochs": 15,
                                "warmup": False, "presets": False, "audit_objectives": [],
                                "objectives": [("structural, softmax teacher", "ner_softmax_teacher_struct_kd", {})]}


def presets() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """The student presets and those of them with a transformer (whose linear warm-up the configs
    size for the 1,000-sentence sample), read from common.libsonnet, their one spelling."""
    import _jsonnet

    snippet = ("local common = import 'common.libsonnet'; "
               "{students: common.students, transformer: std.objectFields(common.transformer_students)}")
    found = json.loads(_jsonnet.evaluate_snippet("presets", snippet, jpathdir=str(ROOT / "training_configs")))
    return tuple(found["students"]), tuple(found["transformer"])


# student presets: the config of a preset's run is the tiny student's config name with the task
# prefix extended (ner_struct_kd -> ner_static_subword_struct_kd)
STUDENTS, TRANSFORMER_STUDENTS = presets()


def audited_objectives(spec: Dict) -> List[Tuple[str, str, Dict]]:
    """A suite's objectives and those `--no-transfer-set` adds (the shipped configs the audit judges)."""
    return spec["objectives"] + spec.get("audit_objectives", [])


REGIMES = {
    "low": {"teacher_epochs": 15, "student_epochs": 12, "curve": [2500, 5000]},
    "full": {"teacher_epochs": 6, "student_epochs": 10, "curve": [2500, 5000]},
}


def seeded(seed: int) -> Dict:
    return {"random_seed": seed, "numpy_seed": seed, "pytorch_seed": seed}


# stock model types and ours that read the same weights and count an unseen gold label as wrong
CHECKED_MODELS = {"crf_tagger": "distilled_crf_tagger", "simple_tagger": "distilled_simple_tagger",
                  "biaffine_parser": "distilled_biaffine_parser"}


SWAPPED_READERS = ("conll2003", "universal_dependencies", "checked_conll2003", "checked_universal_dependencies")


def evaluate(archive: Path, path: str, output: Path, reader: str, log: Path, threads: int) -> None:
    """`allennlp evaluate` through the task's checked reader, and a stock model through our
    subclass of it: a stock archive would crash on a gold label its training data lacked (`dep` in
    GUM); the checked ones count it as wrong (`allennlp_subkd.data.open_label_field`)."""
    with tarfile.open(archive) as tar:
        config = json.load(tar.extractfile("config.json"))
    model_type = config["model"]["type"]
    # a reader of another kind (the dependency tagger's `dependency_labels`, whose labels are
    # open already) is kept: only the stock readers and ours are swapped for the checked one
    own = config.get("dataset_reader", {}).get("type")
    overrides = {"dataset_reader.type": reader} if own in SWAPPED_READERS else {}
    if model_type in CHECKED_MODELS:
        overrides["model.type"] = CHECKED_MODELS[model_type]
    allennlp(["evaluate", str(archive), path, "--output-file", str(output), "-o", json.dumps(overrides)],
             log, threads)


def allennlp(args: List[str], log: Path, threads: int) -> None:
    """`allennlp ARGS` in its own process, its output appended to `log` (`RunFailed` if it fails)."""
    logged([sys.executable, "-m", "allennlp", *args, "--include-package", "allennlp_subkd"], log, threads, mode="a")


def write_sentences(path: Path, sentences: List[List[Tuple[str, str]]], fmt: str) -> None:
    """Words and UPOS only: `word UPOS` lines (CoNLL) or a CoNLL-U with every other column `_`."""
    with open(path, "w", encoding="utf-8") as f:
        for sentence in sentences:
            if fmt == "conll":
                f.write("".join(f"{w} {p}\n" for w, p in sentence) + "\n")
            else:
                f.write("".join(f"{i}\t{w}\t_\t{p}\t_\t_\t_\t_\t_\t_\n"
                                for i, (w, p) in enumerate(sentence, start=1)) + "\n")


def prepare_data(task: str, regime: str, data_dir: Path, out: Path) -> Dict:
    """The files of one regime: train / dev / test / out-of-domain paths and the transfer set
    (and its curve subsets)."""
    spec = TASKS[task]
    folder, pattern = spec["ewt"]
    ewt = {split: data_dir / folder / pattern.format(split) for split in ("train", "dev", "test")}
    out.mkdir(parents=True, exist_ok=True)
    fmt = spec["format"]
    transfer = out / f"transfer.{fmt}"
    if regime == "low":
        train = ROOT / spec["sample"]
        if not transfer.exists():
            sentences = pick(ewt["train"], train, spec["parse"], 10 ** 9, 13)
            write_sentences(transfer, sentences, fmt)
    else:
        train = ewt["train"]
        if not transfer.exists():
            sentences = [conllu_sentence(b) for b in blocks(data_dir / "unlabeled" / "en_gum_lines-train.conllu")]
            write_sentences(transfer, sentences, fmt)
    everything = [spec["parse"](b) for b in blocks(transfer)]
    subsets = {}
    for size in REGIMES[regime]["curve"]:
        path = out / f"transfer_{size}.{fmt}"
        if not path.exists():
            keep = sorted(random.Random(size).sample(range(len(everything)), min(size, len(everything))))
            write_sentences(path, [everything[i] for i in keep], fmt)
        subsets[size] = str(path)
    name, relative = spec["ood"]
    return {
        "train": str(train), "dev": str(ewt["dev"]), "test": str(ewt["test"]),
        "ood": {"name": name, "path": str(data_dir / relative)},
        "transfer": {"path": str(transfer), "format": fmt, "sentences": len(everything)},
        "transfer_subsets": subsets,
        "train_sentences": len(blocks(train)),
        "checked_reader": spec["checked_reader"],
    }


def train_teacher(task: str, data: Dict, out: Path, epochs: int, threads: int) -> Dict:
    """Train the teacher (or resume it with `--recover`, or reuse it); returns its run's record."""
    spec = TASKS[task]
    run = out / "teacher"
    if not (run / "model.tar.gz").exists():
        overrides = {"train_data_path": data["train"], "validation_data_path": data["dev"],
                     "test_data_path": data["test"], "trainer.num_epochs": epochs}
        if spec.get("warmup", True):  # a transformer teacher's schedule
            overrides.update(warmup_override(data["train_sentences"], epochs))
        command = ["train", f"training_configs/{spec['teacher']}.jsonnet", "-s", str(run), "-o", json.dumps(overrides)]
        with claimed(run):
            if (run / "config.json").exists():
                command.append("--recover")
                logger.info("resuming the teacher in %s", run)
            start = time.perf_counter()
            allennlp(command, out / "teacher.log", threads)
            logger.info("teacher trained (%.0f s)", time.perf_counter() - start)
    return finished(run, data, threads)


def given_teacher(archive: str, data: Dict, out: Path, threads: int) -> Dict:
    """An archived teacher used as it is (`--teacher`): copied into the run and scored on dev and
    test once, its scores kept as a trained run's `metrics.json` would hold them."""
    run = out / "teacher"
    if not (run / "model.tar.gz").exists():
        run.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, run / "model.tar.gz")
        metrics: Dict = {"best_epoch": None}
        for split, prefix in (("dev", "best_validation_"), ("test", "test_")):
            evaluate(run / "model.tar.gz", data[split], run / f"{split}_metrics.json", data["checked_reader"],
                     out / "teacher.log", threads)
            scores = json.loads((run / f"{split}_metrics.json").read_text())
            metrics.update({prefix + k: v for k, v in scores.items()})
        (run / "metrics.json").write_text(json.dumps(metrics))
    return finished(run, data, threads)


def finished(run: Path, data: Dict, threads: int) -> Dict:
    """A finished run's scores (dev, test, out of domain) and epoch times; evaluates the
    out-of-domain file once (`ood_metrics.json`)."""
    metrics = json.loads((run / "metrics.json").read_text())
    ood = run / "ood_metrics.json"
    if not ood.exists():
        partial = run / "ood_metrics.partial.json"
        evaluate(run / "model.tar.gz", data["ood"]["path"], partial, data["checked_reader"], run / "evaluate.log",
                 threads)
        partial.rename(ood)
    timer = run / "epoch_times.json"
    seconds = json.loads(timer.read_text())["train_seconds"] if timer.exists() else []
    # when the run started (allennlp writes config.json first) and ended (metrics.json last):
    # the suite's wall time is computed from these, so it spans resumed invocations
    span = [(run / name).stat().st_mtime for name in ("config.json", "metrics.json") if (run / name).exists()]
    return {"metrics": metrics, "ood": json.loads(ood.read_text()), "epoch_seconds": seconds,
            "archive": str(run / "model.tar.gz"), "span": span}


def fill(archive: str, data: Dict, cache: Path, out: Path, threads: int) -> Dict[str, float]:
    """The teacher's outputs on the training and transfer sentences, once, into one store. Returns
    the seconds of each fill and `resumed`: whether the store already held outputs of an interrupted
    fill (then the seconds are the last invocation's only)."""
    done = out / "fill_seconds.json"
    if done.exists():
        return json.loads(done.read_text())
    with claimed(cache):
        seconds = {"resumed": cache.exists() and any(cache.iterdir())}
        for name, path, extra in (("train", data["train"], []),
                                  ("transfer", data["transfer"]["path"], ["--format", data["transfer"]["format"]])):
            start = time.perf_counter()
            allennlp(["fill-teacher-cache", archive, path, "--cache-dir", str(cache), *extra], out / "fill.log",
                     threads)
            seconds[name] = time.perf_counter() - start
            logger.info("teacher store: %s filled (%.0f s)", name, seconds[name])
        done.write_text(json.dumps(seconds))
    return seconds


def resumable(run: Path) -> bool:
    """An unfinished run that saved a checkpoint at the end of an epoch: `allennlp train --recover`
    goes on from there (its config and overrides are the same)."""
    return (not (run / "metrics.json").exists() and (run / "config.json").exists()
            and any(run.glob("training_state_e*_b*.th")))


def student(config: str, run: Path, overrides: Dict, data: Dict) -> Dict:
    """One student run (one thread), reused when finished and resumed from its last epoch's
    checkpoint when stopped (a session's end); anything else left in its folder is removed."""
    if not (run / "metrics.json").exists():
        with claimed(run):
            command = ["train", f"training_configs/{config}.jsonnet", "-s", str(run), "-o", json.dumps(overrides)]
            if resumable(run):
                command.append("--recover")
                logger.info("resuming %s", run)
            else:
                shutil.rmtree(run, ignore_errors=True)
            start = time.perf_counter()
            allennlp(command, run.parent / f"{run.name}.log", 1)
            logger.info("%-34s %5.0f s", run.name, time.perf_counter() - start)
    return finished(run, data, 1)


def score(result: Dict, key: str, split: str) -> Optional[float]:
    if split == "ood":
        value = result["ood"].get(key)
    elif split == "dev":
        value = result["metrics"].get(f"best_validation_{key}")
    else:
        value = result["metrics"].get(f"test_{key}")
    return None if value is None else 100 * value


def record(result: Dict, key: str, **fields) -> Dict:
    span = result.get("span") or []
    return {**fields, "started": span[0] if len(span) == 2 else None, "ended": span[-1] if len(span) == 2 else None,
            "dev": score(result, key, "dev"), "test": score(result, key, "test"), "ood": score(result, key, "ood"),
            "best_epoch": result["metrics"].get("best_epoch"),
            "epoch_seconds_mean": statistics.mean(result["epoch_seconds"]) if result["epoch_seconds"] else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("task", choices=list(TASKS))
    parser.add_argument("--regime", choices=list(REGIMES), default="low")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="student runs at a time (one thread each)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the teacher's training and fill")
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--student-epochs", type=int, default=None)
    parser.add_argument("--student", choices=STUDENTS, default="tiny",
                        help="the student preset (common.libsonnet): its runs go to their own folder and results file, "
                             "the teacher and its store are shared")
    parser.add_argument("--teacher", default=None,
                        help="an archived teacher to use instead of training one (e.g. a smoke run with a fixture teacher)")
    parser.add_argument("--only-teacher", action="store_true", help="train the teacher and fill its store, then stop")
    parser.add_argument("--no-curve", action="store_true", help="skip the transfer-set-size curve")
    parser.add_argument("--no-transfer-set", action="store_true",
                        help="train the plain student and each objective (NER: token KD too) without the transfer set "
                             "only (the configs as shipped, for the defaults audit); implies --no-curve")
    parser.add_argument("--objectives", nargs="+", default=None, metavar="NAME",
                        help="train these of the suite's objectives only (default: all; a results file holding "
                             "runs of others is refused, as it would lose them)")
    parser.add_argument("--reuse", action="store_true", help="keep every finished run and resume the rest")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the regime's folder first: its teacher, store and every preset's and the "
                             "frontier's runs (a suite sharing another's teacher: its own runs only; with neither "
                             "flag, a folder that holds anything is refused)")
    parser.add_argument("--runs-dir", default=str(ROOT / "benchmarks" / "runs" / "transfer"))
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    spec, regime = TASKS[args.task], REGIMES[args.regime]
    if args.student != "tiny" and not spec.get("presets", True):
        parser.error(f"{args.task} runs the tiny student only (its configs have no {args.student} preset)")
    suffix = "" if args.student == "tiny" else f"_{args.student}"
    result_file = Path(args.results_dir) / f"transfer_{args.regime}_{args.task}{suffix}.json"
    # the published runs this invocation's results file replaces: neither flag below may drop any
    published = json.loads(result_file.read_text())["runs"] if result_file.exists() else []
    if args.no_transfer_set and any(r["transfer"] for r in published):
        parser.error(f"{result_file} holds transfer-set runs that --no-transfer-set would drop from it: "
                     "run without the flag (--reuse keeps every finished run), or give another --results-dir")
    objectives = audited_objectives(spec) if args.no_transfer_set else spec["objectives"]
    if args.objectives:
        unknown = sorted(set(args.objectives) - {name for name, _, _ in objectives})
        if unknown:
            parser.error(f"--objectives {' '.join(unknown)}: not an objective of {args.task}"
                         f"{' --no-transfer-set' if args.no_transfer_set else ''} "
                         f"(it has: {', '.join(name for name, _, _ in objectives)})")
        objectives = [objective for objective in objectives if objective[0] in args.objectives]
        dropped = sorted({r["objective"] for r in published} - {None, *args.objectives})
        if dropped:
            parser.error(f"{result_file} holds runs of {', '.join(dropped)} that --objectives would drop from it: "
                         "name them too (--reuse keeps every finished run), or give another --results-dir")
    teacher_epochs = args.teacher_epochs or spec.get("teacher_epochs") or regime["teacher_epochs"]
    student_epochs = args.student_epochs or regime["student_epochs"]
    # the folder of the teacher, its store and the data; a suite sharing another's teacher keeps its
    # own runs in a subfolder of it, and only those are its own to refuse or delete
    home = spec.get("teacher_of", args.task)
    out = Path(args.runs_dir) / args.regime / home
    own = out if home == args.task else out / args.task
    if args.teacher and home != args.task:
        # it would become the owner's teacher (and its store) for every later run of that suite
        parser.error(f"{args.task} uses {home}'s teacher and store: give --teacher to `transfer.py {home}`")
    if args.reuse and args.fresh:
        parser.error("--reuse keeps the regime's runs and --fresh deletes them: give one")
    if args.fresh:
        busy = live_locks(own)
        if busy:
            parser.error(f"--fresh would delete runs live processes are training: {', '.join(map(str, busy))}")
        shutil.rmtree(own, ignore_errors=True)
    elif not args.reuse and own.exists() and any(own.iterdir()):
        finished_runs = sum(1 for _ in own.rglob("metrics.json"))
        parser.error(f"{own} holds earlier runs ({finished_runs} finished): --reuse keeps them and resumes the "
                     "rest, --fresh deletes them all" + (f" (not {home}'s teacher and store)" if own != out else ""))
    started = time.perf_counter()
    data = prepare_data(args.task, args.regime, Path(args.data_dir).resolve(), out / "data")
    metric, key = spec["metric"]

    if args.teacher:
        teacher = given_teacher(args.teacher, data, out, args.threads)
    else:
        teacher = train_teacher(args.task, data, out, teacher_epochs, args.threads)
    cache = out / "teacher_store"
    fill_seconds = fill(teacher["archive"], data, cache, out, args.threads)
    if args.only_teacher:
        return
    suite_started = time.perf_counter()
    seeds = [13 + 10 * i for i in range(args.seeds)]
    runs = own if args.student == "tiny" else own / args.student
    base = {"train_data_path": data["train"], "validation_data_path": data["dev"],
            "test_data_path": data["test"], "trainer.num_epochs": student_epochs}
    if args.student in TRANSFORMER_STUDENTS:  # its warm-up sized from the data, as frontier.py sizes it
        base.update(warmup_override(data["train_sentences"], student_epochs))
    kd = {"model.teacher.archive": teacher["archive"], "model.teacher.cache": {"dir": str(cache)}}

    def transfer_loader(path: str) -> Dict:
        return {"data_loader.type": "transfer_set",
                "data_loader.transfer_set": {"path": path, "format": data["transfer"]["format"]}}

    jobs: List[Tuple[Dict, str, Path, Dict]] = []
    for seed in seeds:
        jobs.append(({"model": "no KD", "objective": None, "transfer": 0, "seed": seed},
                     preset_config(spec["plain"], args.student), runs / f"s{seed}" / "no_kd", {**base, **seeded(seed)}))
        for name, config in spec.get("baselines", []):
            jobs.append(({"model": name, "objective": None, "transfer": 0, "seed": seed},
                         config, runs / f"s{seed}" / config, {**base, **seeded(seed)}))
        for name, config, extra in objectives:
            for size in (0,) if args.no_transfer_set else (0, data["transfer"]["sentences"]):
                fields = {"model": name + (" + transfer set" if size else ""), "objective": name,
                          "transfer": size, "seed": seed}
                overrides = {**base, **seeded(seed), **kd, **extra,
                             **(transfer_loader(data["transfer"]["path"]) if size else {})}
                run = runs / f"s{seed}" / f"{config}{'_transfer' if size else ''}"
                jobs.append((fields, preset_config(config, args.student), run, overrides))
    records = run_all(jobs, args.workers, data, key)

    if not (args.no_curve or args.no_transfer_set):
        with_transfer = [r for r in records if r["transfer"]]
        best = max({r["objective"] for r in with_transfer},
                   key=lambda o: statistics.mean(r["dev"] for r in with_transfer if r["objective"] == o))
        name, config, extra = next(o for o in objectives if o[0] == best)
        curve_jobs = []
        for size, path in data["transfer_subsets"].items():
            if size >= data["transfer"]["sentences"]:
                continue
            fields = {"model": f"{name} + {size} transfer sentences", "objective": name, "transfer": size,
                      "seed": seeds[0], "curve": True}
            overrides = {**base, **seeded(seeds[0]), **kd, **extra, **transfer_loader(path)}
            curve_jobs.append((fields, preset_config(config, args.student),
                               runs / f"s{seeds[0]}" / f"{config}_transfer_{size}", overrides))
        records += run_all(curve_jobs, args.workers, data, key)

    result_file.parent.mkdir(parents=True, exist_ok=True)
    teacher_record = record(teacher, key, model="teacher", objective=None, transfer=0, seed=None)
    meta = {
        "command": " ".join(["python", "benchmarks/transfer.py", *sys.argv[1:]]),
        "task": args.task, "regime": args.regime, "metric": metric,
        "ood_name": data["ood"]["name"],
        "train_sentences": data["train_sentences"], "transfer_sentences": data["transfer"]["sentences"],
        "files": {k: os.path.relpath(data[k], ROOT) for k in ("train", "dev", "test")}
        | {"ood": os.path.relpath(data["ood"]["path"], ROOT)},
        "teacher_config": args.teacher or spec["teacher"], "teacher_epochs": None if args.teacher else teacher_epochs,
        "teacher_train_seconds": sum(teacher["epoch_seconds"]), "fill_seconds": fill_seconds,
        "plain_of": spec.get("plain_of", {}),
        "student": args.student, "student_epochs": student_epochs, "seeds": seeds, "workers": args.workers,
        # the time any student was training, across --reuse invocations (suite_wall)
        "suite_wall_seconds": suite_wall(records) or time.perf_counter() - suite_started,
        "wall_seconds": time.perf_counter() - started,
        "machine": machine(), "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    result_file.write_text(json.dumps({"meta": meta, "teacher": teacher_record, "runs": records}, indent=1) + "\n")
    logger.info("wrote %s (suite %.0f min)", result_file, meta["suite_wall_seconds"] / 60)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(result_file)], check=True)


def suite_wall(records: List[Dict]) -> Optional[float]:
    """The seconds during which at least one student was training: the union of the runs'
    (started, ended) intervals, so a suite resumed in a later invocation does not count the idle
    time between the two."""
    spans = sorted((r["started"], r["ended"]) for r in records
                   if r.get("started") is not None and r.get("ended") is not None)
    if not spans:
        return None
    total, (start, end) = 0.0, spans[0]
    for s, e in spans[1:]:
        if s > end:
            total, start = total + end - start, s
        end = max(end, e)
    return total + end - start


#: what to do when some of a suite's runs failed (the others are finished)
RETRY = ("`--reuse` keeps them and retries the failed ones, from their last checkpoint; `--objectives` with the "
         "objectives whose runs all finished publishes those alone")


def run_all(jobs, workers: int, data: Dict, key: str, advice: str = RETRY) -> List[Dict]:
    """Train `jobs` (fields, config, run folder, overrides), `workers` at a time, and return their
    records; runs that fail end it with `RunFailed` (and `advice`) once the others have finished:
    no results file is written, so a published one keeps what it holds."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = gather([(str(run), pool.submit(student, config, run, overrides, data))
                          for _, config, run, overrides in jobs], advice)
    return [record(result, key, **fields) for (fields, *_), result in zip(jobs, results)]


if __name__ == "__main__":
    main_or_exit(main, "transfer.py")
