"""`benchmarks/profile_student.py`: an archived tagger's inference time split into its parts."""
import json
import subprocess
import sys
from pathlib import Path

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = str(ROOT / "fixtures" / "teachers" / "ner_crf_teacher.tar.gz")
TINY = str(ROOT / "fixtures" / "ner" / "tiny.conll")


def test_the_parts_are_timed_inside_the_pass_and_the_cap_narrows_the_characters():
    profile = load("profile_student")
    full, capped = (profile.profile(ARCHIVE, cap, TINY, batch_size=4, repeats=3) for cap in (0, 3))
    for record in (full, capped):
        parts = record["parts"]
        assert set(parts) == {"batching", "model forward", "embedder: token_characters", "embedder: tokens",
                              "encoder", "tag_projection_layer", "Viterbi decoding"}
        inner = sum(v for k, v in parts.items() if k not in ("batching", "model forward"))
        assert 0 < inner <= parts["model forward"]
        assert parts["batching"] + parts["model forward"] <= record["seconds"]
        assert record["seconds"] in record["pass_seconds"] and len(record["pass_seconds"]) == 3
    assert capped["mean_character_width"] == 3 < full["mean_character_width"]


def test_the_script_writes_the_json_and_the_table(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_student.py"), "--archives", f"fx={ARCHIVE}",
                    "--caps", "0", "3", "--data", TINY, "--repeats", "1", "--results-dir", str(tmp_path)],
                   check=True, cwd=ROOT, capture_output=True)
    result = json.loads((tmp_path / "student_profile.json").read_text())
    assert [(r["label"], r["cap"]) for r in result["runs"]] == [("fx", 0), ("fx", 3)]
    table = (tmp_path / "student_profile.md").read_text()
    assert "| fx | all (as trained) |" in table and "| fx | 3 |" in table and "Viterbi decoding" in table
    shares = [cell for cell in table.splitlines()[4].split("|") if cell.strip().endswith("%")]
    assert len(shares) == 8  # batching, 2 embedders, encoder, projection, Viterbi, rest, output
