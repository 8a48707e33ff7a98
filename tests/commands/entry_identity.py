"""Helpers of the byte-identity tests: the entries a student's training forward passes write
and the entries `fill-teacher-cache` writes, entry by entry (in the default store)."""
import json
from pathlib import Path
from typing import Dict, Optional, Tuple

from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model

from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
from allennlp_subkd.distillation.teacher.store import cache_entries


def entry_bytes(directory: Path) -> Dict[Tuple[str, str], bytes]:
    """Every entry under a cache directory (either store), by (digest prefix, key hash)."""
    return cache_entries(directory)


def training_entries(config: str, data: str, teacher: Dict, distillation: Optional[Dict], directory: Path) -> int:
    """Build the student of `config` with `teacher` (its cache in `directory`) and run one
    training forward pass per sentence of `data` (one sentence a batch, so the teacher's
    forward sees the same single sentence as `fill-teacher-cache --batch-size 1`); returns
    the number of sentences."""
    teacher = dict(teacher, cache={"dir": str(directory)})
    params = Params.from_file(config, json.dumps({"model.teacher": teacher, "model.distillation": distillation}))
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(data))
    vocab = Vocabulary.from_instances(instances)
    model = Model.from_params(vocab=vocab, params=params.pop("model"))
    model.train()
    for instance in instances:
        batch = Batch([instance])
        batch.index_instances(vocab)
        output = model(**batch.as_tensor_dict())
        assert "kd_loss" in output
    return len(instances)


def assert_identical_entries(trained: Path, filled: Path, sentences: int) -> None:
    written, command = entry_bytes(trained), entry_bytes(filled)
    assert len(written) == sentences, (len(written), sentences)  # one entry a sentence
    assert sorted(written) == sorted(command)
    for name, data in written.items():
        assert data == command[name], f"{name} differs between training and fill-teacher-cache"


def check(config: str, data: str, teacher: Dict, distillation: Optional[Dict], tmp_path: Path, **fill) -> None:
    """Training and the command write byte-identical entries for this student and teacher."""
    trained, filled = tmp_path / "trained", tmp_path / "filled"
    sentences = training_entries(config, data, teacher, distillation, trained)
    counts = fill_teacher_cache(teacher["archive"], data, str(filled), batch_size=1, **fill)
    assert counts["computed"] == sentences
    assert_identical_entries(trained, filled, sentences)
