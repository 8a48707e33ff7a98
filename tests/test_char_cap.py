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
])
def test_bad_arguments_are_clear_errors(argv, message):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "char_cap.py"), *argv],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and message in done.stderr
