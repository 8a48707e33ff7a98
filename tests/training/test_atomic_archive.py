"""A disk that fills while the archive is written: AllenNLP's error, and never a truncated
`model.tar.gz` (the previous archive, if any, stays whole). The patch is installed at every
reference AllenNLP calls through, and `ALLENNLP_SUBKD_ATOMIC_ARCHIVE=0` keeps the stock function."""
import errno
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.models.archival import load_archive

import allennlp_subkd  # noqa: F401  (installs the atomic archiving)
from allennlp_subkd.training import atomic_archive

ROOT = Path(__file__).resolve().parents[2]

CONFIG = "fixtures/configs/ner_student.jsonnet"
NO_KD = {"model.teacher": None, "model.distillation": None, "trainer.num_epochs": 1}


def full_disk(monkeypatch):
    """Every tar member after the first fails as a full disk does."""
    add = tarfile.TarFile.add
    calls = []

    def failing_add(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return add(self, name, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "add", failing_add)


def test_a_full_disk_while_archiving_leaves_no_truncated_archive(tmp_path, monkeypatch):
    out = tmp_path / "run"
    full_disk(monkeypatch)
    with pytest.raises(OSError, match="No space left on device"):
        train_model_from_file(CONFIG, str(out), overrides=json.dumps(NO_KD))
    assert not (out / "model.tar.gz").exists()
    assert not list(out.glob("model.tar.gz.partial-*"))


def test_a_failed_rearchive_keeps_the_previous_archive_whole(tmp_path, monkeypatch):
    out = tmp_path / "run"
    train_model_from_file(CONFIG, str(out), overrides=json.dumps(NO_KD))
    before = (out / "model.tar.gz").read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(OSError, match="No space left on device"):
        train_model_from_file(CONFIG, str(out), overrides=json.dumps(NO_KD), recover=True)
    assert (out / "model.tar.gz").read_bytes() == before
    assert not list(out.glob("model.tar.gz.partial-*"))
    monkeypatch.undo()
    assert type(load_archive(str(out / "model.tar.gz")).model).__name__ == "DistilledCrfTagger"


# ---------------------------------------------------------------------------- where it is installed

#: prints, after importing the package, which function each AllenNLP reference holds
_WHICH = """
import json
import allennlp.commands.train, allennlp.models, allennlp.models.archival
stock = allennlp.models.archival.archive_model
import allennlp_subkd
from allennlp_subkd.training import atomic_archive as patch
references = {"archival": allennlp.models.archival.archive_model,
              "models": allennlp.models.archive_model,
              "train": allennlp.commands.train.archive_model}
print(json.dumps({name: "stock" if f is patch._stock_archive_model and f is stock else
                  "atomic" if f is patch.archive_model else repr(f)
                  for name, f in references.items()}))
"""


def _references_after_import(value):
    env = {k: v for k, v in os.environ.items() if k != atomic_archive.ENVIRONMENT_VARIABLE}
    if value is not None:
        env[atomic_archive.ENVIRONMENT_VARIABLE] = value
    result = subprocess.run([sys.executable, "-c", _WHICH], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("value", ["0", "False"])
def test_the_environment_variable_keeps_allennlps_stock_function_everywhere(value):
    assert _references_after_import(value) == {"archival": "stock", "models": "stock", "train": "stock"}


def test_without_the_opt_out_every_reference_is_the_atomic_function():
    assert _references_after_import(None) == {"archival": "atomic", "models": "atomic", "train": "atomic"}


@pytest.mark.parametrize("value, atomic", [
    ("0", False), ("false", False), ("FALSE", False), ("No", False), ("no", False), ("off", False), (" 0 ", False),
    ("", True), ("1", True), ("true", True), ("yes", True), ("anything", True),
])
def test_which_values_of_the_environment_variable_turn_the_patch_off(value, atomic, monkeypatch):
    """What the import reads (`install_from_environment`), in this process."""
    monkeypatch.setenv(atomic_archive.ENVIRONMENT_VARIABLE, value)
    try:
        atomic_archive.uninstall()
        assert atomic_archive.install_from_environment() is atomic
        assert atomic_archive.installed() is atomic
    finally:
        atomic_archive.install()


def test_the_allennlp_models_re_export_is_patched_too():
    import allennlp.commands.train
    import allennlp.models
    import allennlp.models.archival

    # allennlp.models re-exports the function: a caller of `allennlp.models.archive_model` would
    # otherwise write in place
    assert "archive_model" in vars(allennlp.models)
    assert allennlp.models.archive_model is atomic_archive.archive_model
    assert allennlp.models.archival.archive_model is atomic_archive.archive_model
    assert allennlp.commands.train.archive_model is atomic_archive.archive_model


def test_install_is_idempotent_and_uninstall_restores_the_stock_functions():
    import allennlp.commands.train
    import allennlp.models
    import allennlp.models.archival

    references = lambda: (allennlp.models.archival.archive_model, allennlp.models.archive_model,  # noqa: E731
                          allennlp.commands.train.archive_model)
    stock = atomic_archive._stock_archive_model
    assert stock is not atomic_archive.archive_model and stock.__module__ == "allennlp.models.archival"
    try:
        atomic_archive.install()
        atomic_archive.install()
        assert references() == (atomic_archive.archive_model,) * 3 and atomic_archive.installed()
        atomic_archive.uninstall()
        assert references() == (stock,) * 3 and not atomic_archive.installed()
        atomic_archive.uninstall()
        assert references() == (stock,) * 3
    finally:
        atomic_archive.install()
    assert references() == (atomic_archive.archive_model,) * 3


def test_with_the_stock_function_a_full_disk_does_leave_a_truncated_archive(tmp_path, monkeypatch):
    """What the patch is for, shown by switching it off: the stock function writes in place."""
    out = tmp_path / "run"
    train_model_from_file(CONFIG, str(out), overrides=json.dumps(NO_KD))
    try:
        atomic_archive.uninstall()
        full_disk(monkeypatch)
        with pytest.raises(OSError, match="No space left on device"):
            train_model_from_file(CONFIG, str(out), overrides=json.dumps(NO_KD), recover=True)
    finally:
        atomic_archive.install()
    assert (out / "model.tar.gz").exists()  # truncated under the real name
    monkeypatch.undo()
    with pytest.raises(Exception):
        load_archive(str(out / "model.tar.gz"))
