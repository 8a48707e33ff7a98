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
    assert student == "tiny" or f"note_{student}" in demo.TASKS[task]


def test_the_presets_are_the_configs_but_the_transformer_one(monkeypatch, capsys):
    assert set(demo.STUDENTS) == set(transfer.STUDENTS) - set(transfer.TRANSFORMER_STUDENTS)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--student", "minilm_l3"])
    with pytest.raises(SystemExit):
        demo.main()
    assert "invalid choice: 'minilm_l3'" in capsys.readouterr().err
