"""
GPU checks (`make test-gpu`; skipped where `torch.cuda.is_available()` is False, so `make test`
passes on a CPU-only machine). A distilled CRF tagger and a distilled biaffine parser train a
few batches on cuda:0 with a cached teacher (the memory cache, and a disk cache directory):

- the frozen teacher, which is no submodule of the student, follows the student's device (to
  cuda:0, and back to the CPU);
- every batch's loss and KD term equal the CPU run's from the same weights on the same batches
  (dropout off and TF32 off on both sides), first computed by the teacher on the GPU, then
  served by the memory cache, then by the disk cache in a fresh run;
- AllenNLP's trainer with `cuda_device: 0` trains, caches and archives a student.
"""
import json
from typing import Dict, List, Tuple

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.nn import util

import allennlp_subkd  # noqa: F401  (registers everything)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]

#: where the students are trained (the CPU runs are the reference)
DEVICE = "cuda:0"
STUDENTS = {
    "crf_tagger": ("fixtures/configs/ner_student.jsonnet", "fixtures/ner/tiny.conll"),
    "biaffine_parser": ("fixtures/configs/dep_student.jsonnet", "fixtures/dep/tiny.conllu"),
}
DISTILLATION = {"type": "structural", "alpha": 0.5}
BATCH_SIZE = 4
EPOCHS = 2  # the second epoch is served by the memory cache


@pytest.fixture(autouse=True)
def _exact_float32():
    """No TF32 on the GPU: its 10-bit mantissa would make the comparison one of precision."""
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def data(kind: str) -> Tuple[Vocabulary, List]:
    """The vocabulary and instances of a student's fixture data, as `ModelTestCase` builds them."""
    config, path = STUDENTS[kind]
    params = Params.from_file(config)
    instances = list(DatasetReader.from_params(params["dataset_reader"]).read(path))
    vocab = (Vocabulary.from_params(params=params["vocabulary"], instances=instances)
             if "vocabulary" in params else Vocabulary.from_instances(instances))
    return vocab, instances


def build(kind: str, vocab: Vocabulary, cache: Dict) -> Model:
    config, _ = STUDENTS[kind]
    overrides = {"model.distillation": DISTILLATION, "model.teacher.cache": cache}
    return Model.from_params(vocab=vocab, params=Params.from_file(config, json.dumps(overrides))["model"])


def without_dropout(model: Model) -> Model:
    """Training mode (the KD term is only computed in training) without any dropout."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(module, torch.nn.RNNBase):
            module.dropout = 0.0
    return model.train()


def batches(vocab: Vocabulary, instances: List) -> List[Dict]:
    out = []
    for start in range(0, len(instances), BATCH_SIZE):
        batch = Batch(instances[start:start + BATCH_SIZE])
        batch.index_instances(vocab)
        out.append(batch.as_tensor_dict())
    return out


def device_of(module: torch.nn.Module) -> set:
    return {p.device for p in module.parameters()} | {b.device for b in module.buffers()}


def train(kind: str, device: str, initial: Dict[str, torch.Tensor], cache: Dict, vocab, instances):
    """A fresh student with the `initial` weights, trained `EPOCHS` epochs of SGD on `device`;
    returns it and each batch's (loss, KD term)."""
    model = build(kind, vocab, cache)
    model.load_state_dict(initial)
    without_dropout(model.to(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(EPOCHS):
        for tensors in batches(vocab, instances):
            optimizer.zero_grad()
            output = model(**util.move_to_device(tensors, torch.device(device)))
            losses.append((output["loss"].item(), output["kd_loss"].item()))
            output["loss"].backward()
            optimizer.step()
    return model, losses


def assert_same_losses(found, expected):
    assert len(found) == len(expected)
    for step, ((loss, kd), (loss_ref, kd_ref)) in enumerate(zip(found, expected)):
        assert loss == pytest.approx(loss_ref, rel=1e-4, abs=1e-5), f"loss of batch {step}"
        assert kd == pytest.approx(kd_ref, rel=1e-4, abs=1e-5), f"KD term of batch {step}"


@pytest.mark.parametrize("cache", ["memory", "disk"])
@pytest.mark.parametrize("kind", sorted(STUDENTS))
def test_gpu_training_with_a_cached_teacher_equals_the_cpu_one(kind, cache, tmp_path):
    vocab, instances = data(kind)
    sentences = len(instances)
    torch.manual_seed(0)
    initial = {k: v.clone() for k, v in build(kind, vocab, {}).state_dict().items()}
    settings = {"dir": str(tmp_path / "cache")} if cache == "disk" else {}

    reference, expected = train(kind, "cpu", initial, {}, vocab, instances)
    # dropout is really off: the CPU student's loss is a function of its weights
    tensors = batches(vocab, instances)[0]
    assert reference(**tensors)["loss"].item() == reference(**tensors)["loss"].item()

    model, found = train(kind, DEVICE, initial, settings, vocab, instances)
    device = torch.device(DEVICE)
    assert device_of(model) == {device}
    assert device_of(model.teacher.model) == {device}  # the teacher followed the student
    assert model.teacher.cache.hits == sentences  # the second epoch came from memory
    assert_same_losses(found, expected)
    if cache == "disk":
        assert model.teacher.disk.writes == sentences
        # a new run (empty memory cache) reads every sentence from the disk, onto the GPU
        again, served = train(kind, DEVICE, initial, settings, vocab, instances)
        disk = again.teacher.disk
        assert (disk.hits, disk.misses, disk.writes) == (sentences, 0, 0)
        assert device_of(again.teacher.model) == {device}
        assert_same_losses(served, expected)

    # and back: a student moved to the CPU takes its teacher along at its next forward pass
    model.to("cpu")
    output = model(**batches(vocab, instances)[0])
    assert torch.isfinite(output["loss"]) and device_of(model.teacher.model) == {torch.device("cpu")}


@pytest.mark.parametrize("kind", sorted(STUDENTS))
def test_allennlp_trainer_on_cuda_with_a_disk_cached_teacher(kind, tmp_path):
    config, path = STUDENTS[kind]
    device = torch.device(DEVICE)
    sentences = len(data(kind)[1])
    overrides = {
        "model.distillation": DISTILLATION,
        "model.teacher.cache": {"dir": str(tmp_path / "cache")},
        "trainer.cuda_device": device.index if device.type == "cuda" else -1,
        "trainer.num_epochs": 2,
    }
    model = train_model_from_file(config, str(tmp_path / "run"), overrides=json.dumps(overrides))
    assert device_of(model.teacher.model) == {device}
    assert model.teacher.disk.writes == sentences and model.teacher.cache.hits == sentences
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0
    student = load_archive(str(tmp_path / "run" / "model.tar.gz")).model  # loads on the CPU
    assert device_of(student) == {torch.device("cpu")} and not student.teacher.loaded
