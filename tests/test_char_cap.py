"""`benchmarks/char_cap.py`: archives scored and timed with their character indexer capped at load
time through `--overrides`, as a user would pass them to `allennlp predict`."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = str(ROOT / "fixtures" / "teachers" / "ner_crf_teacher.tar.gz")  # AllenNLP's uncapped `characters`
TINY = ROOT / "fixtures" / "ner" / "tiny.conll"


@pytest.fixture
def data_dir(tmp_path):
    """The three splits `char_cap.py` reads, each the tiny fixture, one word made 80 characters long."""
    text = TINY.read_text().replace("What PRON", "W" + "h" * 79 + " PRON", 1)
    for name in ("uner_ewt/en_ewt-uner-dev.conll", "uner_ewt/en_ewt-uner-test.conll", "uner_pud/en_pud-uner-test.conll"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_overrides_swap_the_indexer_type_and_cap_nothing_at_zero():
    char_cap = load("char_cap")
    assert char_cap.overrides(0) == ""
    assert json.loads(char_cap.overrides(20)) == {
        "dataset_reader.token_indexers.token_characters": {"type": "capped_characters", "max_characters": 20}}


def test_a_cap_above_every_word_scores_as_the_archive(data_dir):
    char_cap = load("char_cap")
    paths = {"dev": str(data_dir / "uner_ewt" / "en_ewt-uner-dev.conll")}
    full = char_cap.score(ARCHIVE, 0, paths, batch_size=4)
    assert char_cap.score(ARCHIVE, 80, paths, batch_size=4) == full  # no word is longer than 80
    assert char_cap.longest_word(paths["dev"]) == 80


def test_the_timing_process_applies_the_overrides():
    throughput = load("throughput")
    char_cap = load("char_cap")
    [timed] = throughput.run([ARCHIVE], str(TINY), [1], batch_size=4, repeats=1, overrides=char_cap.overrides(5))
    assert timed["overrides"] == char_cap.overrides(5)
    with pytest.raises(subprocess.CalledProcessError):  # max_characters below min_padding_length 3: refused there
        throughput.run([ARCHIVE], str(TINY), [1], batch_size=4, repeats=1, overrides=char_cap.overrides(2))


def test_the_script_writes_scores_timings_and_the_table_and_reuses_scores(data_dir, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    command = [sys.executable, str(ROOT / "benchmarks" / "char_cap.py"), "--archives", f"fixture={ARCHIVE}",
               "--caps", "0", "50", "5", "--throughput-caps", "0", "5", "--data-dir", str(data_dir),
               "--results-dir", str(results), "--threads", "1"]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    result = json.loads((results / "char_cap.json").read_text())
    assert [(r["label"], r["cap"]) for r in result["runs"]] == [("fixture", 0), ("fixture", 50), ("fixture", 5)]
    assert [("throughput" in r) for r in result["runs"]] == [True, False, True]
    assert result["meta"]["longest_word"] == {"dev": 80, "test": 80, "ood": 80}
    table = (results / "char_cap.md").read_text()
    assert "| fixture | all (as trained) |" in table and "| fixture | 50 (the configs' default) |" in table
    assert "| 1.00 |" in table  # the uncapped row against itself

    # --reuse keeps the scores (a changed score shows it was not measured again); --no-throughput times nothing
    result["runs"][1]["dev"] = 0.123
    (results / "char_cap.json").write_text(json.dumps(result))
    subprocess.run(command + ["--reuse", "--no-throughput"], check=True, cwd=ROOT, capture_output=True)
    again = json.loads((results / "char_cap.json").read_text())
    assert again["runs"][1]["dev"] == 0.123 and not any("throughput" in r for r in again["runs"])
    assert "not timed" in (results / "char_cap.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--archives", "no-equals-sign"], "--archives takes LABEL=PATH"),
    (["--archives", "x=/no/such.tar.gz"], "x: no archive at /no/such.tar.gz"),
    (["--caps", "0", "-1"], "a cap is a number of characters"),
    (["--caps", "0", "20", "--throughput-caps", "10"], "--throughput-caps must be among --caps"),
    (["--archives", f"x={ARCHIVE}", "--retrain", "/no/such/run"],
     "--retrain: /no/such/run is not a finished training run"),
])
def test_bad_arguments_are_clear_errors(argv, message):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "char_cap.py"), *argv],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and message in done.stderr


def test_retrain_trains_the_runs_own_config_with_the_cap_as_the_only_change(tmp_path):
    from allennlp.commands.train import train_model_from_file

    import allennlp_subkd  # noqa: F401  (the configs' dataset readers)

    char_cap = load("char_cap")
    original = tmp_path / "s13" / "plain"
    overrides = {"train_data_path": str(TINY), "validation_data_path": str(TINY), "test_data_path": str(TINY),
                 "evaluate_on_test": True, "trainer.num_epochs": 1,
                 char_cap.INDEXER: {"type": "characters", "min_padding_length": 3}}  # a run from before the cap
    train_model_from_file(str(ROOT / "training_configs" / "ner_teacher.jsonnet"), str(original),
                          overrides=json.dumps(overrides))
    record = char_cap.retrain(original, 5, tmp_path / "again" / "s13_plain")
    config = json.loads((tmp_path / "again" / "s13_plain" / "config.json").read_text())
    before = json.loads((original / "config.json").read_text())
    assert config["dataset_reader"]["token_indexers"]["token_characters"] == {
        "type": "capped_characters", "max_characters": 5, "min_padding_length": 3}
    del config["dataset_reader"]["token_indexers"]["token_characters"]
    del before["dataset_reader"]["token_indexers"]["token_characters"]
    assert config == before
    assert record["cap"] == 5 and set(record["original"]) == set(record["capped"]) == {"dev", "test", "best_epoch"}
    assert record["original"]["dev"] == json.loads((original / "metrics.json").read_text())[
        "best_validation_f1-measure-overall"]
    assert len(record["epoch_seconds_capped"]) == 1


def test_the_table_shows_the_retrained_runs_beside_their_originals():
    report = load("report")
    scores = {"dev": 0.7, "test": 0.71, "ood": 0.6}
    result = {"meta": {"longest_word": {"dev": 143, "test": 473, "ood": 17}, "timed": False,
                       "machine": {"cpu": "cpu"}, "git_commit": "abc", "date": "today", "wall_seconds": 60,
                       "command": "python benchmarks/char_cap.py"},
              "runs": [{"label": "m", "archive": "a", "cap": 0, **scores}, {"label": "m", "archive": "a", "cap": 50, **scores}],
              "retrained": [{"run": "/x/s13/no_kd", "cap": 50, "original": {"dev": 0.7179, "test": 0.7224, "best_epoch": 5},
                             "capped": {"dev": 0.7367, "test": 0.7259, "best_epoch": 4},
                             "epoch_seconds_original": [300, 300], "epoch_seconds_capped": [240, 240]}]}
    table = report.char_cap_markdown(result)
    assert "| s13/no_kd | 71.79 | 73.67 | +1.88 | 72.24 | 72.59 | 10 / 8 |" in table
    assert "473 in test" in table and "| m | 50 (the configs' default) | 70.00 | 71.00 | 60.00 | — | — |" in table


def test_paired_timing_runs_the_caps_in_turn_in_one_process():
    char_cap = load("char_cap")
    timings = char_cap.timed_in_child(ARCHIVE, [0, 5], str(TINY), repeats=2)
    assert set(timings) == {0, 5}
    for timed in timings.values():
        assert len(timed["pass_seconds"]) == 2 and timed["threads"] == 1
        assert timed["tokens_per_second"] == timed["tokens"] / timed["seconds"]


def test_the_shipped_cap_is_one_number():
    """char_cap.py retrains with it, report.py marks its row, the indexer defaults to it and every
    config uses it (`common.libsonnet`'s `max_token_characters`)."""
    import inspect

    from allennlp.common import Params

    from allennlp_subkd.data import CappedTokenCharactersIndexer

    char_cap, report = load("char_cap"), load("report")
    default = inspect.signature(CappedTokenCharactersIndexer).parameters["max_characters"].default
    config = Params.from_file(str(ROOT / "training_configs" / "ner_static_subword_baseline.jsonnet")).as_dict()
    configured = config["dataset_reader"]["token_indexers"]["token_characters"]["max_characters"]
    assert char_cap.SHIPPED_CAP == report.SHIPPED_CHARACTER_CAP == default == configured
