"""`epoch_timer` across a resumed run: `allennlp train --recover` keeps the epochs timed before."""
import json

from allennlp.commands.train import train_model_from_file

import allennlp_subkd  # noqa: F401
from tests.benchmark_modules import load

transfer = load("transfer")
OVERRIDES = {"train_data_path": "fixtures/ner/tiny.conll", "validation_data_path": "fixtures/ner/tiny.conll",
             "test_data_path": "fixtures/ner/tiny.conll", "trainer.num_epochs": 2,
             "data_loader.batch_sampler.batch_size": 4}  # 3 batches an epoch


def test_a_run_stopped_after_an_epoch_resumes_there_and_keeps_that_epochs_time(tmp_path):
    run = tmp_path / "run"
    train_model_from_file("training_configs/ner_baseline.jsonnet", run, overrides=json.dumps(OVERRIDES))
    [first, second] = json.loads((run / "epoch_times.json").read_text())["train_seconds"]
    assert first > 0 and second > 0
    assert not transfer.resumable(run)  # finished runs are reused, not resumed (metrics.json)
    # the folder as a run stopped during its second epoch leaves it
    for name in ("metrics.json", "model.tar.gz", "model_state_e2_b0.th", "training_state_e2_b0.th",
                 "metrics_epoch_1.json"):
        (run / name).unlink()
    (run / "epoch_times.json").write_text(json.dumps({"train_seconds": [first], "peak_rss_mb": 1.0}))
    assert transfer.resumable(run)
    train_model_from_file("training_configs/ner_baseline.jsonnet", run, overrides=json.dumps(OVERRIDES),
                          recover=True)
    assert (run / "metrics.json").exists() and (run / "model.tar.gz").exists()
    times = json.loads((run / "epoch_times.json").read_text())["train_seconds"]
    assert len(times) == 2 and times[0] == first and times[1] > 0


def test_the_suites_resume_a_stopped_run_and_clear_one_without_a_checkpoint(tmp_path, monkeypatch):
    calls = []

    def fake(args, log, threads):
        calls.append(args)
        run = tmp_path / args[args.index("-s") + 1]
        run.mkdir(exist_ok=True)
        (run / "metrics.json").write_text("{}")
        (run / "ood_metrics.json").write_text("{}")

    monkeypatch.setattr(transfer, "allennlp", fake)
    stopped, crashed = tmp_path / "stopped", tmp_path / "crashed"
    for run in (stopped, crashed):
        run.mkdir()
        (run / "config.json").write_text("{}")
    (stopped / "training_state_e1_b0.th").write_text("")
    transfer.student("ner_baseline", stopped, {}, {"ood": {"path": "unused"}})
    transfer.student("ner_baseline", crashed, {}, {"ood": {"path": "unused"}})
    assert calls[0][-1] == "--recover" and (stopped / "training_state_e1_b0.th").exists()
    assert "--recover" not in calls[1] and not (crashed / "config.json").exists()
