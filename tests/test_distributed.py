"""AllenNLP's `distributed` section with a distilled student: two CPU worker processes
(gloo), each with its own lazily loaded frozen teacher and cache, each computing the KD term of
its own share of the data; a disk cache shared by both ends up complete and readable."""
import json
import math
from pathlib import Path

import pytest

from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import DatasetReader

import allennlp_subkd  # noqa: F401
import tests.per_worker_kd  # noqa: F401  (registers the "test_per_worker_kd" callback here)
from allennlp_subkd.distillation.teacher.cache import archive_digest
from allennlp_subkd.distillation.teacher.disk_cache import decode, entry_files, key_hash
from allennlp_subkd.distillation.teacher.store import cache_entries

NER_STUDENT = "fixtures/configs/ner_student.jsonnet"
NER_TEACHER = "fixtures/teachers/ner_crf_teacher.tar.gz"
NER_DATA = "fixtures/ner/tiny.conll"
#: the callback that records, in each worker, the sentences it trained on and their KD terms
PER_WORKER = {"type": "test_per_worker_kd"}


def train_on_two_workers(config: str, out: Path, overrides: dict):
    """Train with two CPU workers; returns each worker's record (`tests/per_worker_kd.py`)."""
    callbacks = Params.from_file(config).as_dict()["trainer"].get("callbacks", [])
    overrides = dict(overrides, **{
        "distributed": {"cuda_devices": [-1, -1]},
        "trainer.callbacks": callbacks + [PER_WORKER],
    })
    train_model_from_file(config, out, overrides=json.dumps(overrides),
                          include_package=["tests.per_worker_kd"])
    return [json.loads((out / f"kd_worker{rank}.json").read_text()) for rank in (0, 1)]


def training_sentences(config: str, data: str):
    reader = DatasetReader.from_params(Params.from_file(config)["dataset_reader"])
    return [[token.text for token in instance["tokens"]] for instance in reader.read(data)]


def assert_each_worker_distilled_its_own_share(workers, sentences):
    """Two processes, each with KD > 0 on every batch it trained on, on disjoint shares of the
    data that together are all of it."""
    assert [w["rank"] for w in workers] == [0, 1]
    assert workers[0]["pid"] != workers[1]["pid"]
    shares = []
    for worker in workers:
        assert worker["batches"], f"worker {worker['rank']} trained on no batch"
        for batch in worker["batches"]:
            kd = batch["kd_loss"]
            assert kd is not None and math.isfinite(kd) and kd > 0, (worker["rank"], batch)
        shares.append({tuple(s) for batch in worker["batches"] for s in batch["sentences"]})
    assert not shares[0] & shares[1]  # each worker distilled only its own share
    assert shares[0] | shares[1] == {tuple(s) for s in sentences}


#: AllenNLP 2.10's SpanBasedF1Measure cannot aggregate across workers (a stock limitation, not
#: ours): distributed taggers select on accuracy
TAGGER = {"model.calculate_span_f1": False, "trainer.validation_metric": "+accuracy"}


def test_distributed_kd_training_on_two_cpu_workers(tmp_path):
    overrides = {
        "model.distillation": {"type": "structural"},
        "trainer.num_epochs": 2,
        "data_loader": {"batch_size": 3},
        "test_data_path": NER_DATA,
        **TAGGER,
    }
    workers = train_on_two_workers(NER_STUDENT, tmp_path, overrides)
    # the teacher taught in both workers: each process computed KD on its own share
    assert_each_worker_distilled_its_own_share(workers, training_sentences(NER_STUDENT, NER_DATA))
    assert {b["epoch"] for w in workers for b in w["batches"]} == {0, 1}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0
    assert (tmp_path / "model.tar.gz").is_file()


@pytest.mark.parametrize("store", ["sqlite", "files"])
def test_two_workers_share_one_disk_cache(tmp_path, store):
    """Both workers write their share of the teacher's outputs into one directory (one SQLite
    database, or one file per entry): afterwards every training sentence has exactly one valid
    entry and no temporary file (or write-ahead log) is left."""
    cache = tmp_path / "cache"
    overrides = {
        "model.distillation": {"type": "structural"},
        "model.teacher.cache": {"dir": str(cache), "store": store},
        "trainer.num_epochs": 1,
        "data_loader": {"batch_size": 3},
        "test_data_path": NER_DATA,  # AllenNLP's distributed vocabulary step reads a null path
        **TAGGER,
    }
    workers = train_on_two_workers(NER_STUDENT, tmp_path / "run", overrides)
    sentences = training_sentences(NER_STUDENT, NER_DATA)
    assert_each_worker_distilled_its_own_share(workers, sentences)

    digest = archive_digest(NER_TEACHER)
    keys = []
    entries = cache_entries(cache)
    assert cache_entries(cache, store) == entries
    for (prefix, name), data in entries.items():
        header = json.loads(data[8:8 + int.from_bytes(data[4:8], "little")].decode("utf-8"))
        assert header["digest"] == digest
        tensors = decode(data, digest, tuple(header["key"]))
        assert tensors is not None, f"{name} is not a complete entry"
        assert name == key_hash(digest, tuple(header["key"])) and prefix == digest[:16]
        (emissions,) = tensors
        assert emissions.shape[0] == len(header["key"]) and emissions.isfinite().all()
        keys.append(tuple(header["key"]))
    # one entry per sentence: the shares of both workers (neither saw the other's sentences)
    assert sorted(keys) == sorted(tuple(s) for s in sentences) and len(set(keys)) == len(keys)
    suffix = {"files": ".skd", "sqlite": ".sqlite3"}[store]
    leftovers = [p for p in cache.rglob("*") if p.is_file() and (p.suffix != suffix or p.name.startswith("."))]
    assert leftovers == []  # no temporary or probe file, no write-ahead log
    if store == "files":
        assert all(path.parts[-3] == digest[:16] and path.parent.name == path.stem[:2] for path in entry_files(str(cache)))


def test_distributed_parser_kd_training_on_two_cpu_workers(tmp_path):
    overrides = {
        "model.distillation": {"type": "structural"},
        "model.gold_loss": "tree",
        "trainer.num_epochs": 1,
        "data_loader": {"batch_size": 3},
        "test_data_path": "fixtures/dep/tiny.conllu",
    }
    workers = train_on_two_workers("fixtures/configs/dep_student.jsonnet", tmp_path, overrides)
    assert all(w["batches"] and all(b["kd_loss"] > 0 for b in w["batches"]) for w in workers)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0 and "validation_LAS" in metrics


def test_worker_safe_attachment_scores_equal_the_stock_metric():
    import torch
    from allennlp.training.metrics import AttachmentScores

    from allennlp_subkd.models.attachment_scores import WorkerSafeAttachmentScores

    generator = torch.Generator().manual_seed(0)
    ours, stock = WorkerSafeAttachmentScores(ignore_classes=[2]), AttachmentScores(ignore_classes=[2])
    for batch, length in [(4, 7), (3, 11), (5, 2)]:
        heads = torch.randint(0, 3, (batch, length), generator=generator)
        labels = torch.randint(0, 4, (batch, length), generator=generator)
        gold_heads = torch.randint(0, 3, (batch, length), generator=generator)
        gold_labels = torch.randint(0, 4, (batch, length), generator=generator)
        mask = torch.rand(batch, length, generator=generator) > 0.2
        ours(heads, labels, gold_heads, gold_labels, mask)
        stock(heads, labels, gold_heads, gold_labels, mask)
    assert ours.get_metric() == stock.get_metric()
    assert 0 < ours.get_metric()["UAS"] < 1


def test_each_worker_distils_its_share_of_each_epochs_transfer_set(tmp_path):
    """A transfer set under two workers: every epoch one sample (the same seed in both), each
    worker the sentences of its own share, KD on every unlabeled batch."""
    from allennlp_subkd.data.transfer_set import TransferSet

    transfer = {"path": "fixtures/transfer/tiny.tokens", "format": "tokens", "sentences_per_epoch": 10, "seed": 5}
    overrides = {
        "model.distillation": {"type": "structural"},
        "trainer.num_epochs": 2,
        "data_loader": {"type": "transfer_set", "batch_size": 3, "transfer_set": transfer},
        "validation_data_loader": {"batch_size": 3},
        "test_data_path": NER_DATA,
        **TAGGER,
    }
    workers = train_on_two_workers(NER_STUDENT, tmp_path, overrides)
    labeled = {tuple(s) for s in training_sentences(NER_STUDENT, NER_DATA)}
    sample = TransferSet(transfer["path"], "tokens", sentences_per_epoch=10, seed=5)
    for epoch in (0, 1):
        # (two of the transfer set's sentences are also labeled ones: not told apart here)
        expected = [tuple(s.words) for s in sample.sentences(sample.epoch_sample(epoch)) if tuple(s.words) not in labeled]
        shares = [[tuple(s) for b in w["batches"] if b["epoch"] == epoch for s in b["sentences"]
                   if tuple(s) not in labeled] for w in workers]
        assert all(shares) and not set(shares[0]) & set(shares[1])
        assert sorted(shares[0] + shares[1]) == sorted(expected)
    assert all(b["kd_loss"] > 0 for w in workers for b in w["batches"])
