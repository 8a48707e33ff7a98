"""`benchmarks/throughput.py`: each archive timed in its own process, the median of `--repeats`
passes over the file counted, every pass kept."""
import importlib.util
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _throughput():
    spec = importlib.util.spec_from_file_location("benchmarks_throughput", ROOT / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_counts_the_median_of_its_passes():
    throughput = _throughput()
    archive = str(ROOT / "fixtures" / "teachers" / "ner_crf_teacher.tar.gz")
    [result] = throughput.run([archive], str(ROOT / "fixtures" / "ner" / "tiny.conll"), [1], batch_size=2, repeats=3)
    assert result["threads"] == 1 and len(result["pass_seconds"]) == 3
    assert result["seconds"] == statistics.median(result["pass_seconds"])
    assert result["sentences_per_second"] == result["sentences"] / result["seconds"]
    assert result["sentences"] > 0 and result["parameters"] > 0
