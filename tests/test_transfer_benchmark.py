"""`benchmarks/transfer.py`: the transfer sets it cuts carry no gold label and none of the labeled
sentences, `--reuse` never retrains a finished run, and the table and curve are computed from the
runs (gap closed, out-of-domain column, means over seeds)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List, Tuple

import pytest
from allennlp.common import Params

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent


transfer = load("transfer")
run_script = load("run")
report = load("report")
frontier = load("frontier")


def _fake_data_dir(tmp_path: Path) -> Path:
    """A ../shared/data look-alike: an EWT training file holding two sentences of the shipped
    sample and three others, tiny dev/test files and the out-of-domain and unlabeled files."""
    data = tmp_path / "data"
    sample = (ROOT / "fixtures" / "data" / "uner_ewt" / "train.conll").read_text().split("\n\n")[:2]
    others = ["Zorblax B-ORG\nwins O", "The O\nquux O\njumped O", "Hello O"]
    # the four UNER columns: word, UPOS, _, NER
    def four(block, pos="X"):
        rows = []
        for line in block.strip().splitlines():
            cols = line.split()
            rows.append(f"{cols[0]} {pos if len(cols) < 4 else cols[1]} _ {cols[-1]}")
        return "\n".join(rows)

    (data / "uner_ewt").mkdir(parents=True)
    (data / "uner_ewt" / "en_ewt-uner-train.conll").write_text(
        "\n\n".join([four(b) for b in sample] + [four(b, "NOUN") for b in others]) + "\n\n")
    for split in ("dev", "test"):
        (data / "uner_ewt" / f"en_ewt-uner-{split}.conll").write_text(four(others[0], "NOUN") + "\n\n")
    (data / "uner_pud").mkdir()
    (data / "uner_pud" / "en_pud-uner-test.conll").write_text(four(others[1], "NOUN") + "\n\n")
    (data / "unlabeled").mkdir()
    (data / "unlabeled" / "en_gum_lines-train.conllu").write_text(
        "# sent_id = 1\n1\tGood\t_\tADJ\t_\t_\t_\t_\t_\t_\n2\tday\t_\tNOUN\t_\t_\t_\t_\t_\t_\n\n"
        "1\tBye\t_\tINTJ\t_\t_\t_\t_\t_\t_\n\n")
    return data


def test_low_resource_transfer_set_excludes_the_sample_and_drops_every_label(tmp_path):
    data_dir = _fake_data_dir(tmp_path)
    data = transfer.prepare_data("ner", "low", data_dir, tmp_path / "out")
    text = Path(data["transfer"]["path"]).read_text()
    sentences = [block.splitlines() for block in text.strip().split("\n\n")]
    # the three sentences not in the sample, in file order, as `word UPOS` only: no NER column
    assert sentences == [["Zorblax NOUN", "wins NOUN"], ["The NOUN", "quux NOUN", "jumped NOUN"], ["Hello NOUN"]]
    assert data["transfer"]["sentences"] == 3 and data["transfer"]["format"] == "conll"
    assert data["train"] == str(ROOT / "fixtures" / "data" / "uner_ewt" / "train.conll")
    assert data["train_sentences"] == 1000
    assert data["ood"]["name"] == "UNER-PUD"
    # the curve's subsets are drawn from the transfer set (here smaller than a subset: all of it)
    for size, path in data["transfer_subsets"].items():
        assert Path(path).read_text() == text


def test_full_regime_reads_the_unlabeled_gum_lines_file_without_its_other_columns(tmp_path):
    data_dir = _fake_data_dir(tmp_path)
    data = transfer.prepare_data("ner", "full", data_dir, tmp_path / "out")
    assert data["train"].endswith("en_ewt-uner-train.conll") and data["train_sentences"] == 5
    assert Path(data["transfer"]["path"]).read_text() == "Good ADJ\nday NOUN\n\nBye INTJ\n\n"


def test_reuse_never_retrains_or_reevaluates_a_finished_run(tmp_path, monkeypatch):
    run = tmp_path / "s13" / "ner_struct_kd"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"best_validation_f1-measure-overall": 0.5,
                                                  "test_f1-measure-overall": 0.4, "best_epoch": 3}))
    (run / "ood_metrics.json").write_text(json.dumps({"f1-measure-overall": 0.3}))
    (run / "epoch_times.json").write_text(json.dumps({"train_seconds": [2.0, 4.0]}))

    def refuse(*args, **kwargs):
        raise AssertionError(f"a finished run was rerun: {args}")

    monkeypatch.setattr(transfer, "allennlp", refuse)
    result = transfer.student("ner_struct_kd", run, {}, {"ood": {"path": "unused"}})
    fields = transfer.record(result, "f1-measure-overall", model="structural", seed=13)
    assert fields["dev"] == pytest.approx(50.0) and fields["test"] == pytest.approx(40.0)
    assert fields["ood"] == pytest.approx(30.0) and fields["epoch_seconds_mean"] == 3.0


def test_the_suites_wall_time_spans_runs_of_several_invocations_without_the_idle_time_between(tmp_path):
    records = [{"started": 100.0, "ended": 160.0}, {"started": 150.0, "ended": 400.0}, {"started": None}]
    assert transfer.suite_wall(records) == 300.0
    # a later invocation (1,000 s after) adds its own 50 s, not the idle time in between
    later = records + [{"started": 1400.0, "ended": 1430.0}, {"started": 1420.0, "ended": 1450.0}]
    assert transfer.suite_wall(later) == 350.0
    # a run inside another's interval adds nothing
    assert transfer.suite_wall([{"started": 0.0, "ended": 100.0}, {"started": 10.0, "ended": 20.0}]) == 100.0
    assert transfer.suite_wall([{"started": None, "ended": None}]) is None


def test_an_unfinished_run_is_trained_afresh_and_its_ood_score_written_once(tmp_path, monkeypatch):
    run = tmp_path / "s13" / "no_kd"
    run.mkdir(parents=True)
    (run / "stale").write_text("from an interrupted run")
    calls = []

    def fake(args, log, threads):
        calls.append(args[0])
        if args[0] == "train":
            assert not (run / "stale").exists()
            run.mkdir(parents=True, exist_ok=True)
            (run / "metrics.json").write_text(json.dumps({"test_LAS": 0.7}))
            # a stock parser's archive (the fixture teacher's config, whose model is `biaffine_parser`)
            shutil.copy(ROOT / "fixtures" / "teachers" / "dep_teacher.tar.gz", run / "model.tar.gz")
        else:  # through the checked reader and model: an unseen gold relation is an error, not a crash
            assert json.loads(args[args.index("-o") + 1]) == {"dataset_reader.type": "checked_universal_dependencies",
                                                              "model.type": "distilled_biaffine_parser"}
            Path(args[args.index("--output-file") + 1]).write_text(json.dumps({"LAS": 0.6}))

    monkeypatch.setattr(transfer, "allennlp", fake)
    result = transfer.student("dep_baseline", run, {}, {"ood": {"path": "gum.conllu"}, "checked_reader": "checked_universal_dependencies"})
    assert calls == ["train", "evaluate"] and result["ood"] == {"LAS": 0.6}
    transfer.student("dep_baseline", run, {}, {"ood": {"path": "gum.conllu"}, "checked_reader": "checked_universal_dependencies"})
    assert calls == ["train", "evaluate"]


def _run(model, objective, transfer_size, seed, dev, test, ood, curve=False):
    return {"model": model, "objective": objective, "transfer": transfer_size, "seed": seed,
            "dev": dev, "test": test, "ood": ood, "curve": curve}


def synthetic():
    runs = []
    for seed, shift in ((13, 0.0), (23, 2.0)):
        runs += [_run("no KD", None, 0, seed, 30 + shift, 30 + shift, 10 + shift),
                 _run("structural", "structural", 0, seed, 33 + shift, 32 + shift, 11 + shift),
                 _run("structural + transfer set", "structural", 100, seed, 45 + shift, 46 + shift, 20 + shift)]
    runs.append(_run("structural + 50 transfer sentences", "structural", 50, 13, 40, 40, 15, curve=True))
    meta = {"command": "python benchmarks/transfer.py ner --regime low", "task": "ner", "regime": "low",
            "metric": "F1", "ood_name": "UNER-PUD", "train_sentences": 1000, "transfer_sentences": 100,
            "files": {"train": "t.conll", "dev": "d.conll", "test": "e.conll", "ood": "p.conll"},
            "teacher_config": "ner_teacher_transformer", "teacher_epochs": 15, "teacher_train_seconds": 1800.0,
            "fill_seconds": {"train": 30.0, "transfer": 90.0}, "student_epochs": 12, "seeds": [13, 23],
            "workers": 2, "suite_wall_seconds": 600.0, "machine": {"cores": 2}, "date": "d", "git_commit": "c"}
    teacher = {"dev": 60.0, "test": 61.0, "ood": 40.0, "best_epoch": 9}
    return {"meta": meta, "teacher": teacher, "runs": runs}


def test_transfer_table_means_gaps_and_out_of_domain_column():
    markdown = report.transfer_markdown(synthetic())
    lines = markdown.splitlines()
    row = next(line for line in lines if line.startswith("| structural + transfer set |"))
    # test mean 47, no KD 31: +16 of a 30-point gap = 53 %; PUD mean 21 vs 11 of a 29-point gap = 34 %
    assert row == "| structural + transfer set | 46.00 ± 1.41 | 47.00 ± 1.41 | +16.00 | 53 % | 21.00 ± 1.41 | 34 % |"
    assert "| teacher | 60.00 | 61.00 |  |  | 40.00 |  |" in lines
    # the curve: seed 13 only, its own plain student as the baseline (30 of a 31-point gap)
    assert "| 0 | 32.00 | 6 % | 11.00 | 3 % |" in lines
    assert "| 50 | 40.00 | 32 % | 15.00 | 17 % |" in lines
    assert "| 100 | 46.00 | 52 % | 20.00 | 33 % |" in lines
    assert "30 min of training epochs" in markdown and "2.0 min" in markdown


def test_transfer_curve_is_plotted(tmp_path):
    pytest.importorskip("matplotlib")
    report.plot_transfer(synthetic(), tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_front_page_table_pairs_each_objective_without_and_with_the_transfer_set():
    markdown = report.transfer_headline(synthetic())
    lines = markdown.splitlines()
    # structural: 33 alone (mean of 32, 34), 47 with; gap 53 % in domain, 34 % out of domain
    assert "| structural | 33.00 | 47.00 | 53 % | 21.00 | 34 % |" in lines
    assert "| no KD | 31.00 |  |  | 11.00 |  |" in lines and "| teacher | 61.00 |  |  | 40.00 |  |" in lines
    assert len([line for line in lines if line.startswith("| ")]) == 4  # header, teacher, no KD, one objective


def test_a_student_preset_runs_its_own_configs_which_exist():
    """`--student static_subword`: every config the suite would train is the preset's, and ships."""
    for task, spec in transfer.TASKS.items():
        for config in [spec["plain"]] + [c for _, c, _ in spec["objectives"]]:
            assert transfer.preset_config(config, "tiny") == config
            assert (ROOT / "training_configs" / f"{config}.jsonnet").is_file(), config
            if not spec.get("presets", True):
                continue  # the scenario suites run the tiny student only
            for student in transfer.STUDENTS[1:]:
                preset = transfer.preset_config(config, student)
                assert preset.startswith(f"{task}_{student}_")
                assert (ROOT / "training_configs" / f"{preset}.jsonnet").is_file(), preset


def test_every_student_presets_results_file_has_a_renderer():
    for student in transfer.STUDENTS:
        suffix = "" if student == "tiny" else f"_{student}"
        for regime in transfer.REGIMES:
            for task, spec in transfer.TASKS.items():
                if spec.get("presets", True) or student == "tiny":
                    assert f"transfer_{regime}_{task}{suffix}" in report.FILE_RENDERERS


def test_a_scenario_suite_refuses_a_student_preset(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["transfer.py", "ner_span", "--student", "static_subword"])
    with pytest.raises(SystemExit):
        transfer.main()
    assert "runs the tiny student only" in capsys.readouterr().err


@pytest.mark.parametrize("reader,model,swapped", [
    ("universal_dependencies", "biaffine_parser", True),
    ("checked_conll2003", "distilled_crf_tagger", True),
    ("dependency_labels", "distilled_dependency_tagger", False),  # its own reader, open labels already
])
def test_evaluate_swaps_only_the_readers_that_would_crash(tmp_path, monkeypatch, reader, model, swapped):
    import io
    import tarfile

    archive = tmp_path / "model.tar.gz"
    config = json.dumps({"dataset_reader": {"type": reader}, "model": {"type": model}}).encode()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("config.json")
        info.size = len(config)
        tar.addfile(info, io.BytesIO(config))
    calls = []
    monkeypatch.setattr(transfer, "allennlp", lambda args, log, threads: calls.append(args))
    transfer.evaluate(archive, "test.conllu", tmp_path / "out.json", "checked_universal_dependencies",
                      tmp_path / "log", 1)
    overrides = json.loads(calls[0][calls[0].index("-o") + 1])
    assert ("dataset_reader.type" in overrides) == swapped
    assert overrides.get("model.type") == transfer.CHECKED_MODELS.get(model)


def test_an_objective_with_its_own_plain_student_is_measured_against_it():
    # the span suite: a softmax student's gaps are against the softmax student with no KD
    result = synthetic()
    for seed, shift in ((13, 0.0), (23, 2.0)):
        result["runs"] += [
            _run("no KD, softmax student", None, 0, seed, 20 + shift, 20 + shift, 5 + shift),
            _run("posterior, softmax student", "posterior, softmax student", 0, seed, 25 + shift, 26 + shift, 8 + shift),
            _run("posterior, softmax student + transfer set", "posterior, softmax student", 100, seed,
                 40 + shift, 41 + shift, 15 + shift)]
    result["meta"]["plain_of"] = {"posterior, softmax student": "no KD, softmax student"}
    lines = report.transfer_markdown(result).splitlines()
    # both plain students come first, with no gap of their own
    models = [line.split(" | ")[0] for line in lines if line.startswith("| ")][1:]
    assert models[:3] == ["| teacher", "| no KD", "| no KD, softmax student"]
    assert "| no KD, softmax student | 21.00 ± 1.41 | 21.00 ± 1.41 |  |  | 6.00 ± 1.41 |  |" in lines
    # 42 against 21 of a 40-point gap = 52 % (against the CRF student's 31 it would be 37 %)
    row = next(line for line in lines if line.startswith("| posterior, softmax student + transfer set |"))
    assert row == "| posterior, softmax student + transfer set | 41.00 ± 1.41 | 42.00 ± 1.41 | +21.00 | 52 % | 16.00 ± 1.41 | 29 % |"
    # the CRF objective is still measured against the CRF student
    assert "| structural + transfer set | 46.00 ± 1.41 | 47.00 ± 1.41 | +16.00 | 53 % | 21.00 ± 1.41 | 34 % |" in lines
    assert "the posterior, softmax student's against the no KD, softmax student" in report.transfer_markdown(result)
    headline = report.transfer_headline(result).splitlines()
    assert "| posterior, softmax student | 27.00 | 42.00 | 52 % | 16.00 | 29 % |" in headline
    assert "| no KD, softmax student | 21.00 |  |  | 6.00 |  |" in headline


@pytest.mark.parametrize("task", ["ner_span", "dep_second_order"])
def test_a_scenario_suites_own_baselines_are_its_students_less_their_teacher(task):
    # the span suite's softmax student and the second-order suite's dependency tagger are measured
    # against the same student trained on gold only, not against the CRF tagger / biaffine parser
    spec = transfer.TASKS[task]
    configs = {name: config for name, config, _ in spec["objectives"]}
    baselines = dict(spec["baselines"])
    assert set(spec["plain_of"]) <= set(configs) and set(spec["plain_of"].values()) == set(baselines)
    for objective, plain in spec["plain_of"].items():
        kd = Params.from_file(f"training_configs/{configs[objective]}.jsonnet").as_dict()["model"]
        bare = Params.from_file(f"training_configs/{baselines[plain]}.jsonnet").as_dict()["model"]
        assert "teacher" not in bare and "distillation" not in bare
        assert {k: v for k, v in kd.items() if k not in ("teacher", "distillation")} == bare


def _stub_suite(monkeypatch) -> Tuple[List, List]:
    """A parsing suite whose data, teacher, store and student runs are stubs (every student scores
    80 / 80 / 70): returns the jobs it is given to train and the report.py calls it makes."""
    data = {"train": "t.conllu", "dev": "d.conllu", "test": "e.conllu", "train_sentences": 3,
            "ood": {"name": "GUM", "path": "g.conllu"},
            "transfer": {"path": "u.conllu", "format": "conllu", "sentences": 100}, "transfer_subsets": {50: "h.conllu"}}
    teacher = {"archive": "teacher.tar.gz", "metrics": {"best_validation_LAS": 0.9, "test_LAS": 0.9},
               "ood": {"LAS": 0.8}, "epoch_seconds": [1.0]}
    trained: List = []
    rendered: List = []  # the report.py call at the end (this module's `subprocess` only)

    def run_all(jobs, workers, data, key):
        trained.extend(jobs)
        return [transfer.record({"metrics": {"best_validation_LAS": 0.8, "test_LAS": 0.8}, "ood": {"LAS": 0.7},
                                 "epoch_seconds": [1.0]}, key, **fields) for fields, *_ in jobs]

    monkeypatch.setattr(transfer, "prepare_data", lambda *args: data)
    monkeypatch.setattr(transfer, "given_teacher", lambda *args: teacher)
    monkeypatch.setattr(transfer, "fill", lambda *args: {"train": 1.0})
    monkeypatch.setattr(transfer, "run_all", run_all)
    monkeypatch.setattr(transfer, "subprocess", SimpleNamespace(run=lambda args, **kwargs: rendered.append(args)))
    return trained, rendered


@pytest.mark.parametrize("preset", ["static_subword", "minilm_l3"])
def test_no_transfer_set_trains_the_plain_student_and_each_objective_without_it_only(tmp_path, monkeypatch, preset):
    # the configs as shipped, for the defaults audit: no transfer-set run, no curve, a table that renders
    trained, rendered = _stub_suite(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--student", preset,
                                      "--teacher", "teacher.tar.gz", "--no-transfer-set", "--seeds", "2", "--reuse",
                                      "--student-epochs", "4",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    transfer.main()
    assert [(f["model"], f["seed"]) for f, *_ in trained] == [
        (model, seed) for seed in (13, 23) for model in ("no KD", "structural", "local", "sub-structure")]
    assert all(f["transfer"] == 0 and "data_loader.type" not in overrides for f, _, _, overrides in trained)
    assert {config for _, config, _, _ in trained} == {
        f"dep_{preset}_baseline", f"dep_{preset}_struct_kd", f"dep_{preset}_local_kd", f"dep_{preset}_sub_kd"}
    # a transformer student's warm-up is sized from the data as the frontier sizes it (its no-KD run
    # is then the frontier's); the static student has no scheduler to size
    warmups = {overrides.get("trainer.learning_rate_scheduler.warmup_steps") for *_, overrides in trained}
    assert warmups == ({frontier.student_overrides(3, 3, 4)["trainer.learning_rate_scheduler.warmup_steps"]}
                       if preset == "minilm_l3" else {None})
    path = tmp_path / f"transfer_full_dep_{preset}.json"
    assert rendered[0][-1] == str(path)
    result = json.loads(path.read_text())
    table = report.transfer_markdown(result)
    assert "| structural | 80.00 ± 0.00 |" in table and "+ transfer set" not in table
    assert "no transfer set (the configs as shipped)" in table and "transfer set 100" not in table
    assert "transfer set 100 unlabeled sentences" in report.transfer_markdown(synthetic())


def test_objectives_trains_the_named_ones_only_and_refuses_to_drop_the_others_published_runs(
        tmp_path, monkeypatch, capsys):
    trained, _ = _stub_suite(monkeypatch)

    def main(*objectives):
        monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--student", "minilm_l3",
                                          "--teacher", "teacher.tar.gz", "--no-transfer-set", "--reuse",
                                          "--seeds", "1", "--objectives", *objectives,
                                          "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
        transfer.main()

    main("structural", "local")
    assert [f["model"] for f, *_ in trained] == ["no KD", "structural", "local"]
    path = tmp_path / "transfer_full_dep_minilm_l3.json"
    published = path.read_text()
    for objectives, message in ((["local"], "holds runs of structural that --objectives would drop"),
                                (["structure"], "--objectives structure: not an objective of dep --no-transfer-set")):
        trained.clear()
        with pytest.raises(SystemExit):
            main(*objectives)
        assert message in capsys.readouterr().err and not trained
        assert path.read_text() == published  # nothing lost
    main("structural", "local", "sub-structure")  # naming them all again goes on
    assert [f["model"] for f, *_ in trained] == ["no KD", "structural", "local", "sub-structure"]


@pytest.mark.parametrize("task", ["ner", "dep"])
def test_the_warm_up_transfer_py_sizes_replaces_the_transformer_presets_own(task):
    # an override of a key the config lacks would add a scheduler of one key instead; and the
    # presets read as transformer presets are exactly those whose configs have a warm-up
    warmed = set()
    for student in transfer.STUDENTS[1:]:
        for config in (ROOT / "training_configs").glob(f"{task}_{student}_*.jsonnet"):
            scheduler = Params.from_file(str(config)).as_dict()["trainer"].get("learning_rate_scheduler", {})
            if "warmup_steps" in scheduler:
                assert scheduler["warmup_steps"] >= 1, config.name
                warmed.add(student)
    assert warmed == set(transfer.TRANSFORMER_STUDENTS) and set(transfer.TRANSFORMER_STUDENTS) < set(transfer.STUDENTS)


def test_the_presets_are_read_from_common_libsonnet():
    # one spelling: the benchmark's --student choices are the configs' presets
    assert transfer.STUDENTS[0] == "tiny" and "static_subword" in transfer.STUDENTS
    for student in transfer.STUDENTS[1:]:
        for task in ("ner", "dep"):
            assert (ROOT / "training_configs" / f"{task}_{student}_baseline.jsonnet").exists(), student


@pytest.mark.parametrize("task", ["ner", "dep"])
@pytest.mark.parametrize("preset", ["static_subword", "minilm_l3"])
def test_the_audit_run_trains_every_shipped_kd_config_of_a_preset(task, preset):
    # --no-transfer-set is what defaults_audit.py judges: a preset's KD config it skipped (NER token
    # KD, before) would stay "not measured at full data" however often the audit ran
    spec = transfer.TASKS[task]
    trained = {transfer.preset_config(config, preset)
               for _, config, _ in transfer.audited_objectives(spec)}
    shipped = {path.stem for path in (ROOT / "training_configs").glob(f"{task}_{preset}_*_kd.jsonnet")}
    assert shipped and trained == shipped
    assert not transfer.TASKS["ner_span"]["audit_objectives"]  # the span teacher has no token-KD config


def test_no_transfer_set_refuses_to_drop_the_transfer_runs_of_a_published_file(tmp_path, monkeypatch, capsys):
    # the tiny student's published file holds runs with the transfer set: rewriting it without them loses them
    published = tmp_path / "transfer_full_dep.json"
    published.write_text(json.dumps(synthetic()))
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--no-transfer-set", "--reuse",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        transfer.main()
    assert "holds transfer-set runs that --no-transfer-set would drop" in capsys.readouterr().err
    assert json.loads(published.read_text()) == synthetic() and not (tmp_path / "runs").exists()


def _earlier_runs(tmp_path: Path) -> Path:
    """A regime folder as a long suite leaves it: a finished teacher and a finished student."""
    regime = tmp_path / "runs" / "full" / "dep"
    for run in ("teacher", "static_subword/s13/no_kd"):
        (regime / run).mkdir(parents=True)
        (regime / run / "metrics.json").write_text("{}")
    return regime


def test_a_regime_folder_with_earlier_runs_is_refused_without_reuse_or_fresh(tmp_path, monkeypatch, capsys):
    # hours of runs are never deleted by a forgotten flag
    regime = _earlier_runs(tmp_path)
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        transfer.main()
    err = capsys.readouterr().err
    assert "holds earlier runs (2 finished): --reuse keeps them" in err and "--fresh deletes them" in err
    assert (regime / "teacher" / "metrics.json").exists() and (regime / "static_subword/s13/no_kd/metrics.json").exists()


def test_reuse_and_fresh_together_are_refused(tmp_path, monkeypatch, capsys):
    regime = _earlier_runs(tmp_path)
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--reuse", "--fresh",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        transfer.main()
    assert "give one" in capsys.readouterr().err and (regime / "teacher" / "metrics.json").exists()


@pytest.mark.parametrize("flag,kept", [("--fresh", False), ("--reuse", True)])
def test_fresh_deletes_the_regime_folder_and_reuse_keeps_it(tmp_path, monkeypatch, flag, kept):
    regime = _earlier_runs(tmp_path)

    class Stop(Exception):
        pass

    def prepare_data(*args):  # the first step after the folder is dealt with
        raise Stop

    monkeypatch.setattr(transfer, "prepare_data", prepare_data)
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", flag,
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(Stop):
        transfer.main()
    assert (regime / "teacher" / "metrics.json").exists() is kept


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_resumed_fill_is_recorded_and_reported_as_such(tmp_path, monkeypatch, interrupted):
    # a fill that finds an interrupted fill's outputs in the store times only its own invocation
    cache = tmp_path / "teacher_store"
    if interrupted:
        cache.mkdir()
        (cache / "store.sqlite").write_text("partial")
    data = {"train": "t.conllu", "transfer": {"path": "u.conllu", "format": "conllu"}}
    monkeypatch.setattr(transfer, "allennlp", lambda *args: None)
    seconds = transfer.fill("teacher.tar.gz", data, cache, tmp_path, 1)
    assert seconds["resumed"] is interrupted and set(seconds) == {"resumed", "train", "transfer"}
    assert json.loads((tmp_path / "fill_seconds.json").read_text()) == seconds
    result = synthetic()
    result["meta"]["fill_seconds"] = {"train": 30.0, "transfer": 90.0, "resumed": interrupted}
    table = report.transfer_markdown(result)
    if interrupted:
        assert "written in 2.0 min by a resumed fill (its last invocation's time; the first's not counted)" in table
    else:
        assert "written once in 2.0 min." in table


def test_a_run_a_live_process_is_training_is_neither_deleted_nor_resumed(tmp_path, monkeypatch):
    # a second suite (or the frontier) reaching a student another process is still in its first
    # epoch of: before, that run had no checkpoint yet, so it was deleted under the process
    run = tmp_path / "s13" / "no_kd"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")  # allennlp's first file: an epoch under way
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "s13" / "no_kd.lock").write_text(str(holder.pid))
        monkeypatch.setattr(transfer, "allennlp", lambda *args: pytest.fail("nothing may train"))
        with pytest.raises(transfer.RunInUse, match=f"being trained by process {holder.pid}"):
            transfer.student("dep_baseline", run, {}, {})
        assert (run / "config.json").exists() and (tmp_path / "s13" / "no_kd.lock").read_text() == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_process_that_is_gone_is_taken_over_and_released(tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = tmp_path / "s13" / "no_kd"
    (tmp_path / "s13").mkdir()
    lock = tmp_path / "s13" / "no_kd.lock"
    lock.write_text(str(gone.pid))
    held = []

    def train(args, log, threads):
        held.append(lock.read_text())
        run.mkdir()
        (run / "metrics.json").write_text("{}")

    monkeypatch.setattr(transfer, "allennlp", train)
    monkeypatch.setattr(transfer, "finished", lambda run, data, threads: {"run": str(run)})
    assert transfer.student("dep_baseline", run, {}, {}) == {"run": str(run)}
    assert held == [str(os.getpid())] and not lock.exists()


def test_the_other_benchmarks_do_not_delete_a_run_a_live_process_is_training(tmp_path, monkeypatch):
    # run.train (the sweeps, extra.py, char_cap.py, ...) retrains an unfinished run from scratch;
    # it used to delete one another invocation was still in its first epoch of
    out = tmp_path / "sweep" / "dep_struct_kd"
    out.mkdir(parents=True)
    (out / "config.json").write_text("{}")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "sweep" / "dep_struct_kd.lock").write_text(str(holder.pid))
        monkeypatch.setattr(run_script.subprocess, "run", lambda *a, **k: pytest.fail("nothing may train"))
        with pytest.raises(run_script.RunInUse, match=f"being trained by process {holder.pid}"):
            run_script.train("dep_struct_kd", out, {}, tmp_path / "log")
        assert (out / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # once its process is gone the run is trained again, under this process's lock, then released
    held = []

    def allennlp(command, **kwargs):
        held.append((tmp_path / "sweep" / "dep_struct_kd.lock").read_text())
        assert not (out / "config.json").exists()  # the unfinished run was cleared first
        out.mkdir()
        (out / "metrics.json").write_text('{"best_epoch": 0}')
        (out / "epoch_times.json").write_text('{"train_seconds": [1.0], "peak_rss_mb": 1.0}')
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(run_script.subprocess, "run", allennlp)
    result = run_script.train("dep_struct_kd", out, {}, tmp_path / "log")
    assert held == [str(os.getpid())] and not (tmp_path / "sweep" / "dep_struct_kd.lock").exists()
    assert result["metrics"] == {"best_epoch": 0} and result["train_seconds"] == [1.0]


def test_the_teacher_and_its_store_are_claimed_too(tmp_path, monkeypatch):
    # a suite started while another is training the teacher or filling its store stops
    (tmp_path / "teacher.lock").write_text(str(os.getpid()))  # this process: alive
    (tmp_path / "teacher_store.lock").write_text(str(os.getpid()))
    monkeypatch.setattr(transfer, "allennlp", lambda *args: pytest.fail("nothing may run"))
    data = {"train": "t.conllu", "dev": "d.conllu", "test": "e.conllu", "train_sentences": 3,
            "transfer": {"path": "u.conllu", "format": "conllu"}}
    with pytest.raises(transfer.RunInUse):
        transfer.train_teacher("dep", data, tmp_path, 1, 1)
    with pytest.raises(transfer.RunInUse):
        transfer.fill("teacher.tar.gz", data, tmp_path / "teacher_store", tmp_path, 1)


def test_fresh_refuses_to_delete_a_regime_folder_a_live_process_is_training_in(tmp_path, monkeypatch, capsys):
    regime = _earlier_runs(tmp_path)
    (regime / "static_subword" / "s13" / "local.lock").write_text(str(os.getpid()))  # alive
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--fresh",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        transfer.main()
    assert "live processes are training" in capsys.readouterr().err and (regime / "teacher" / "metrics.json").exists()


def test_run_py_fresh_refuses_too_while_a_live_process_trains_in_its_folder(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs" / "dep"
    (runs / "s13" / "teacher").mkdir(parents=True)
    (runs / "s13" / "teacher" / "metrics.json").write_text("{}")
    (runs / "s13" / "dep_struct_kd.lock").write_text(str(os.getpid()))  # alive
    monkeypatch.setattr(run_script, "write_subsets", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["run.py", "dep", "--fresh", "--runs-dir", str(tmp_path / "runs"),
                                      "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        run_script.main()
    assert "live processes are training" in capsys.readouterr().err
    assert (runs / "s13" / "teacher" / "metrics.json").exists()


@pytest.mark.parametrize("script", ["transfer", "frontier"])
def test_a_run_in_use_ends_the_script_with_its_message_not_a_traceback(tmp_path, script):
    data_dir = _fake_data_dir(tmp_path)
    regime = tmp_path / "runs" / "full" / "ner"
    regime.mkdir(parents=True)
    (regime / "teacher.lock").write_text(str(os.getpid()))  # this test's process: alive
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", "ner", "--regime", "full", "--data-dir", str(data_dir),
         "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"),
         *(["--reuse"] if script == "transfer" else [])],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"{script}.py: {regime / 'teacher'} is being trained by process {os.getpid()}" in done.stderr


def test_a_suite_sharing_a_teacher_trains_its_students_in_a_subfolder_and_fresh_deletes_only_them(
        tmp_path, monkeypatch):
    # case 2a's suite uses `ner`'s trained teacher and store: retraining or deleting them would cost
    # hours of the suite that owns them
    regime = tmp_path / "runs" / "full" / "ner"
    for run in ("teacher", "ner_softmax_student/s13/no_kd"):
        (regime / run).mkdir(parents=True)
        (regime / run / "metrics.json").write_text("{}")
    (regime / "teacher_store").mkdir()
    seen = {}

    class Stop(Exception):
        pass

    def train_teacher(task, data, out, epochs, threads):
        seen["teacher"] = (task, out)
        raise Stop

    monkeypatch.setattr(transfer, "prepare_data", lambda task, regime_name, data_dir, out: seen.setdefault("data", out))
    monkeypatch.setattr(transfer, "train_teacher", train_teacher)
    monkeypatch.setattr(sys, "argv", ["transfer.py", "ner_softmax_student", "--regime", "full", "--fresh",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])
    with pytest.raises(Stop):
        transfer.main()
    assert seen == {"data": regime / "data", "teacher": ("ner_softmax_student", regime)}
    assert (regime / "teacher" / "metrics.json").exists() and (regime / "teacher_store").is_dir()
    assert not (regime / "ner_softmax_student").exists()
    assert transfer.TASKS["ner_softmax_student"]["teacher"] == transfer.TASKS["ner"]["teacher"]


def test_a_suite_sharing_a_teacher_refuses_a_given_teacher_it_would_hand_to_the_owner(tmp_path, monkeypatch,
                                                                                       capsys):
    # copied into `ner/teacher`, a smoke run's fixture teacher would become the real suite's teacher
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    monkeypatch.setattr(sys, "argv", ["transfer.py", "ner_softmax_student", "--regime", "full", "--reuse",
                                      "--teacher", "fixture.tar.gz", "--runs-dir", str(tmp_path / "runs"),
                                      "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        transfer.main()
    assert "uses ner's teacher and store: give --teacher to `transfer.py ner`" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_suite_sharing_a_teacher_refuses_its_own_earlier_runs_without_reuse(tmp_path, monkeypatch, capsys):
    regime = tmp_path / "runs" / "full" / "ner"
    (regime / "teacher").mkdir(parents=True)  # the owner's runs alone do not count as this suite's
    monkeypatch.setattr(sys, "argv", ["transfer.py", "ner_softmax_student", "--regime", "full",
                                      "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path)])

    class Stop(Exception):
        pass

    def prepare_data(*args):
        raise Stop

    monkeypatch.setattr(transfer, "prepare_data", prepare_data)
    with pytest.raises(Stop):
        transfer.main()
    (regime / "ner_softmax_student" / "s13" / "no_kd").mkdir(parents=True)
    (regime / "ner_softmax_student" / "s13" / "no_kd" / "metrics.json").write_text("{}")
    monkeypatch.setattr(transfer, "prepare_data", lambda *args: pytest.fail("nothing may run"))
    with pytest.raises(SystemExit):
        transfer.main()
    err = capsys.readouterr().err
    assert "ner_softmax_student holds earlier runs (1 finished)" in err and "(not ner's teacher and store)" in err


def test_a_softmax_teacher_trains_its_own_epochs_without_a_transformer_warm_up(tmp_path, monkeypatch):
    calls = []

    def allennlp(args, log, threads):
        calls.append(args)
        (tmp_path / "teacher").mkdir(exist_ok=True)
        (tmp_path / "teacher" / "model.tar.gz").write_text("")

    monkeypatch.setattr(transfer, "allennlp", allennlp)
    monkeypatch.setattr(transfer, "finished", lambda run, data, threads: {"archive": str(run / "model.tar.gz")})
    data = {"train": "t.conll", "dev": "d.conll", "test": "e.conll", "train_sentences": 1000}
    spec = transfer.TASKS["ner_softmax_teacher"]
    transfer.train_teacher("ner_softmax_teacher", data, tmp_path, spec["teacher_epochs"], 1)
    overrides = json.loads(calls[0][calls[0].index("-o") + 1])
    assert calls[0][1] == "training_configs/ner_softmax_teacher.jsonnet"
    assert overrides["trainer.num_epochs"] == 15 and not any("warmup" in key for key in overrides)
    # the config the overrides apply to has no schedule: the transformer's warm-up would not parse
    assert "learning_rate_scheduler" not in Params.from_file(calls[0][1]).as_dict()["trainer"]
    transfer.train_teacher("ner", data, tmp_path / "ner", 6, 1)
    assert json.loads(calls[1][calls[1].index("-o") + 1])["trainer.learning_rate_scheduler.warmup_steps"] == 19


@pytest.mark.parametrize("task,config,plain", [
    ("ner_softmax_student", "ner_softmax_student_kd", "ner_softmax_baseline"),
    ("ner_softmax_teacher", "ner_softmax_teacher_struct_kd", "ner_baseline"),
])
def test_cases_2a_and_3_measure_their_kd_config_against_its_own_student_trained_on_gold(task, config, plain):
    spec = transfer.TASKS[task]
    assert [c for _, c, _ in spec["objectives"]] == [config] and spec["plain"] == plain
    kd = Params.from_file(f"training_configs/{config}.jsonnet").as_dict()["model"]
    bare = Params.from_file(f"training_configs/{plain}.jsonnet").as_dict()["model"]
    assert {k: v for k, v in kd.items() if k not in ("teacher", "distillation")} == bare
    # case 3's config ships a fixture teacher; the suite replaces it with the one it trains
    assert spec["teacher"] == ("ner_softmax_teacher" if task == "ner_softmax_teacher" else "ner_teacher_transformer")


def test_main_or_exit_ends_a_script_with_the_run_in_use_message_alone():
    def main():
        raise run_script.RunInUse("runs/x is being trained by process 1")

    with pytest.raises(SystemExit) as stop:
        run_script.main_or_exit(main, "sweep.py")
    assert stop.value.code == "sweep.py: runs/x is being trained by process 1"  # exit status 1, this line
    run_script.main_or_exit(lambda: None, "sweep.py")  # nothing to say otherwise


def test_every_benchmark_that_trains_ends_through_main_or_exit():
    # run.train and transfer.py's runs hold locks: a script reaching a held one says so in one line
    import re

    training = re.compile(r"^from run import [^\n]*\b(train|claimed)\b|^def claimed\(|transfer\.(run_all|train_teacher)\(",
                          re.M)
    scripts = [path for path in sorted((ROOT / "benchmarks").glob("*.py")) if training.search(path.read_text())]
    assert {path.stem for path in scripts} >= {"run", "sweep", "extra", "char_cap", "static_subword_options",
                                               "teacher_casing", "transfer", "frontier"}
    for path in scripts:
        ending = path.read_text().rstrip().splitlines()[-1].strip()
        assert re.fullmatch(rf'(transfer\.)?main_or_exit\(main, "{path.name}"\)', ending), path.name


def test_a_failed_process_names_its_log_and_how_it_ended(tmp_path):
    log = tmp_path / "run.log"
    with pytest.raises(run_script.RunFailed, match=rf"exited with status 3: see {log}"):
        run_script.logged([sys.executable, "-c", "import sys; print('the reason'); sys.exit(3)"], log, 1)
    assert "the reason" in log.read_text()
    with pytest.raises(run_script.RunFailed, match="was killed by signal 9"):
        run_script.logged([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"], log, 1)
    run_script.logged([sys.executable, "-c", "print('fine')"], log, 1, mode="a")  # no error otherwise
    assert log.read_text().endswith("fine\n")


def test_a_suite_whose_run_fails_finishes_the_others_and_says_which_failed_and_what_next(tmp_path, monkeypatch):
    # one killed run used to end transfer.py with a CalledProcessError traceback; now every other
    # run finishes, the error names the failed one's log, and the published results file is kept
    data = {"train": "t.conllu", "dev": "d.conllu", "test": "e.conllu", "train_sentences": 3,
            "ood": {"name": "GUM", "path": "g.conllu"},
            "transfer": {"path": "u.conllu", "format": "conllu", "sentences": 100}, "transfer_subsets": {}}
    teacher = {"archive": "teacher.tar.gz", "metrics": {"best_validation_LAS": 0.9, "test_LAS": 0.9},
               "ood": {"LAS": 0.8}, "epoch_seconds": [1.0]}
    started: List[str] = []

    def student(config, run, overrides, data):
        started.append(run.name)
        if run.name == "dep_local_kd":
            raise transfer.RunFailed(f"`allennlp train {config}` was killed by signal 9: see {run}.log")
        return {"metrics": {"best_validation_LAS": 0.8, "test_LAS": 0.8}, "ood": {"LAS": 0.7}, "epoch_seconds": [1.0]}

    monkeypatch.setattr(transfer, "prepare_data", lambda *args: data)
    monkeypatch.setattr(transfer, "given_teacher", lambda *args: teacher)
    monkeypatch.setattr(transfer, "fill", lambda *args: {"train": 1.0})
    monkeypatch.setattr(transfer, "student", student)
    monkeypatch.setattr(transfer, "subprocess", SimpleNamespace(run=lambda args, **kwargs: None))  # report.py
    path = tmp_path / "transfer_full_dep_static_subword.json"
    path.write_text('{"runs": []}')
    monkeypatch.setattr(sys, "argv", ["transfer.py", "dep", "--regime", "full", "--student", "static_subword",
                                      "--teacher", "teacher.tar.gz", "--no-transfer-set", "--seeds", "1", "--reuse",
                                      "--workers", "1", "--runs-dir", str(tmp_path / "runs"),
                                      "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as stop:
        transfer.main_or_exit(transfer.main, "transfer.py")
    message = stop.value.code
    assert message.startswith("transfer.py: 1 of 4 runs failed; the 3 others finished and are kept")
    assert "--reuse" in message and "--objectives" in message
    assert "static_subword/s13/dep_local_kd: `allennlp train dep_static_subword_local_kd` was killed" in message
    assert started == ["no_kd", "dep_struct_kd", "dep_local_kd", "dep_sub_kd"]  # the run after it went on
    assert path.read_text() == '{"runs": []}'  # the published file is kept as it was


def test_gather_raises_other_errors_as_they_are():
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        jobs = [("a", pool.submit(lambda: 1)), ("b", pool.submit(lambda: {}["missing"]))]
        with pytest.raises(KeyError):
            run_script.gather(jobs, "advice")
        assert run_script.gather(jobs[:1], "advice") == [1]
