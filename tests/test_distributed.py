"""AllenNLP's `distributed` section with a distilled student: two CPU worker processes
(gloo), each with its own lazily loaded frozen teacher and cache."""
import json

from allennlp.commands.train import train_model_from_file

import allennlp_subkd  # noqa: F401


def test_distributed_kd_training_on_two_cpu_workers(tmp_path):
    overrides = {
        "distributed": {"cuda_devices": [-1, -1]},
        "model.distillation": {"type": "structural"},
        "trainer.num_epochs": 2,
        "data_loader": {"batch_size": 3},
        "test_data_path": "fixtures/ner/tiny.conll",
        # AllenNLP 2.10's SpanBasedF1Measure cannot aggregate across workers (a stock
        # limitation, not ours): distributed taggers select on accuracy
        "model.calculate_span_f1": False,
        "trainer.validation_metric": "+accuracy",
    }
    train_model_from_file(
        "fixtures/configs/ner_student.jsonnet", tmp_path, overrides=json.dumps(overrides)
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0  # the teacher taught in both workers
    assert (tmp_path / "model.tar.gz").is_file()


def test_distributed_parser_kd_training_on_two_cpu_workers(tmp_path):
    overrides = {
        "distributed": {"cuda_devices": [-1, -1]},
        "model.distillation": {"type": "structural"},
        "model.gold_loss": "tree",
        "trainer.num_epochs": 1,
        "data_loader": {"batch_size": 3},
        "test_data_path": "fixtures/dep/tiny.conllu",
    }
    train_model_from_file(
        "fixtures/configs/dep_student.jsonnet", tmp_path, overrides=json.dumps(overrides)
    )
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
