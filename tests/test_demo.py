"""`scripts/demo.py`'s student presets (`--student`): every config it would train exists and every
table it would print has its note; nothing here trains."""
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.benchmark_modules import load

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)
transfer = load("transfer")


@pytest.mark.parametrize("student", demo.STUDENTS)
@pytest.mark.parametrize("task", list(demo.TASKS))
def test_every_student_config_of_a_preset_exists_and_its_table_has_a_note(task, student):
    for _, config, _ in demo.TASKS[task]["students"]:
        name = demo.preset_config(config, student)
        assert name.startswith(f"{task}_") and (ROOT / "training_configs" / f"{name}.jsonnet").is_file(), name
        assert name == transfer.preset_config(config, student)  # the benchmarks' naming
    assert student in demo.TASKS[task]["notes"] and demo.TASKS[task]["student"] in demo.STUDENTS


def test_the_presets_are_the_configs_but_the_transformer_one(monkeypatch, capsys):
    assert set(demo.STUDENTS) == set(transfer.STUDENTS) - set(transfer.TRANSFORMER_STUDENTS)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--student", "minilm_l3"])
    with pytest.raises(SystemExit):
        demo.main()
    assert "invalid choice: 'minilm_l3'" in capsys.readouterr().err


def test_the_table_names_a_presets_students_and_its_note(capsys):
    def metrics(score):
        return {"best_validation_LAS": score, "test_LAS": score, "best_validation_UAS": score,
                "test_UAS": score, "epoch_seconds": [1.0]}

    rows = [("teacher", metrics(0.75)), ("plain student (no KD)", metrics(0.66)), ("structural KD", metrics(0.68))]
    demo.print_table("dep", demo.TASKS["dep"], rows, "static_subword")
    out = capsys.readouterr().out
    assert "DEP, the static_subword students, trained on" in out and demo.TASKS["dep"]["notes"]["static_subword"] in out
    assert "+2.0 LAS vs the plain student, 22 % of the gap closed" in out
    demo.print_table("dep", demo.TASKS["dep"], rows, "tiny")
    assert "\nDEP trained on" in capsys.readouterr().out
