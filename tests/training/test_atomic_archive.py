"""A disk that fills while the archive is written: AllenNLP's error, and never a truncated
`model.tar.gz` (the previous archive, if any, stays whole)."""
import errno
import json
import tarfile

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.models.archival import load_archive

import allennlp_subkd  # noqa: F401  (installs the atomic archiving)

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
