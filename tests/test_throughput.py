"""`benchmarks/throughput.py`: each archive timed in its own process, the median of `--repeats`
passes over the file counted, every pass kept."""
import json
import statistics
import subprocess
import sys
from pathlib import Path

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent


def test_throughput_counts_the_median_of_its_passes():
    throughput = load("throughput")
    archive = str(ROOT / "fixtures" / "teachers" / "ner_crf_teacher.tar.gz")
    [result] = throughput.run([archive], str(ROOT / "fixtures" / "ner" / "tiny.conll"), [1], batch_size=2, repeats=3)
    assert result["threads"] == 1 and len(result["pass_seconds"]) == 3
    assert result["seconds"] == statistics.median(result["pass_seconds"])
    assert result["sentences_per_second"] == result["sentences"] / result["seconds"]
    assert result["sentences"] > 0 and result["parameters"] > 0


def test_the_json_names_each_archive_and_renders_speed_over_the_first(tmp_path):
    archive = str(ROOT / "fixtures" / "teachers" / "ner_crf_teacher.tar.gz")
    out = tmp_path / "speed.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), archive, archive,
                    "--labels", "teacher", "same again", "--data", str(ROOT / "fixtures" / "ner" / "tiny.conll"),
                    "--threads", "1", "--repeats", "1", "--batch-size", "2", "--json", str(out)], check=True, cwd=ROOT)
    result = json.loads(out.read_text())
    assert [r["label"] for r in result["runs"]] == ["teacher", "same again"]
    assert result["meta"]["repeats"] == 1 and result["meta"]["threads"] == [1]
    report = load("report")
    result["runs"][1]["sentences_per_second"] = 4 * result["runs"][0]["sentences_per_second"]
    table = report.speed_markdown(result)
    assert "| same again |" in table and "| 4.0 |" in table and "| 1.0 |" in table


def test_labels_must_match_the_archives():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "a.tar.gz", "--labels", "x", "y",
                           "--data", "d"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "2 --labels for 1 archives" in done.stderr
