"""The results tables of the documentation are rendered from the committed JSON, never typed:
`benchmarks/report.py` renders a table from a (synthetic) result, and every marked block of
README.md, benchmarks/README.md and docs/ is exactly what it renders from `benchmarks/results/`."""
import json
from pathlib import Path

import pytest

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent


report = load("report")


def _run(method, seed, f1, seconds, ratio, cache=True, **extra):
    return {"task": "ner", "method": method, "seed": seed, "cache": cache, "test": {"f1-measure-overall": f1},
            "epoch_seconds": [seconds, seconds], "epoch_seconds_mean": seconds, "ratio_to_plain": ratio,
            "later_ratio_to_plain": ratio, "peak_rss_mb": 100.0, **extra}


def synthetic_result():
    runs = [_run("teacher", 13, 0.80, 100.0, 1.0)]
    for seed, plain, kd, single in ((13, 0.50, 0.60, 0.55), (23, 0.54, 0.62, None)):
        runs.append(_run("no KD", seed, plain, 10.0, 1.0))
        runs.append(_run("structural", seed, kd, 12.0, 1.2))
        if single is not None:
            runs.append(_run("one-seed variant", seed, single, 15.0, 1.5))
    runs.append(_run("structural", 13, 0.0, 50.0, 5.0, cache=False))
    meta = {"command": "python benchmarks/run.py ner --quick", "seeds": [13, 23], "teacher_config": "t",
            "epochs": {"teacher": 2, "student": 3, "timing": 1},
            "data": {"train": {"sentences": 100}, "dev": {"sentences": 10}, "test": {"sentences": 20}},
            "machine": {"cpu": "cpu", "cores": 2, "torch": "1.12.1"}, "workers": 2, "git_commit": "abc",
            "date": "today", "wall_seconds": 60.0}
    return {"meta": meta, "runs": runs}


def test_headline_table_from_a_synthetic_result():
    table = report.headline_markdown(synthetic_result()).splitlines()
    assert table[0] == "| method | test F1 | Δ F1 vs no KD | gap closed | epoch time × no KD |"
    assert table[2] == "| teacher | 80.00 | +28.00 |  |  |"
    assert table[3] == "| no KD | 52.00 ± 2.83 |  |  | 1.00 |"
    # (61 - 52) / (80 - 52) = 32 % of the gap; the cache-cold run is not averaged in
    assert table[4] == "| structural | 61.00 ± 1.41 | +9.00 | 32 % | 1.20 |"
    # a method measured on one seed only stays in the full table
    assert not any("one-seed variant" in line for line in table)
    assert "one-seed variant" in report.task_markdown(synthetic_result())
    assert "Test F1 in % on 20 test sentences" in table[6]


def test_blocks_are_filled_and_checked(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "ner.json").write_text(json.dumps(synthetic_result()))
    text = "# Title\n\nbefore\n\n<!-- results:ner -->\nretyped | 99.99\n<!-- /results:ner -->\n\nafter\n"
    filled = report.fill_blocks(text, tmp_path, results)
    body = report.marked_blocks(filled)["ner"]
    assert body == report.block("ner", tmp_path, results)
    assert body.startswith("Measured by `python benchmarks/run.py ner --quick`; rendered from "
                           "[`results/ner.json`](results/ner.json) by `python benchmarks/report.py readme`.")
    assert "99.99" not in filled and filled.startswith("# Title\n\nbefore\n\n") and filled.endswith("after\n")
    assert report.fill_blocks(filled, tmp_path, results) == filled
    with pytest.raises(ValueError, match="unbalanced"):
        report.fill_blocks("<!-- results:ner -->\nno end\n", tmp_path, results)
    with pytest.raises(KeyError, match="no results block"):
        report.fill_blocks("<!-- results:nope -->\n<!-- /results:nope -->\n", tmp_path, results)


@pytest.mark.parametrize("name", report.MARKED_FILES)
def test_committed_tables_are_rendered_from_the_committed_json(name):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} does not exist")
    blocks = report.marked_blocks(path.read_text())
    for block_name, body in blocks.items():
        assert body == report.block(block_name, path.parent), (
            f"the '{block_name}' table of {name} is not what benchmarks/report.py renders from "
            f"benchmarks/results/: run `python benchmarks/report.py readme` (never edit it by hand)")


def test_the_readme_shows_both_headline_tables():
    blocks = report.marked_blocks((ROOT / "README.md").read_text())
    assert {"ner", "dep"} <= set(blocks)
    assert report.readme(check=True) == []
