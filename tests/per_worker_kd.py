"""A trainer callback for the distributed tests only (`include_package=["tests.per_worker_kd"]`):
each worker process writes `kd_worker<rank>.json` to the serialization directory at the end of
training, with its rank, its process id, and for every training batch it ran the words of its
sentences and the KD term the model returned (`None` when the output had no `kd_loss`)."""
import json
import os

import torch.distributed as dist
from allennlp.training.callbacks.callback import TrainerCallback


@TrainerCallback.register("test_per_worker_kd")
class PerWorkerKd(TrainerCallback):
    def __init__(self, serialization_dir: str) -> None:
        super().__init__(serialization_dir)
        self.batches = []

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch, batch_number,
                 is_training, is_primary=True, batch_grad_norm=None, **kwargs) -> None:
        if not is_training:
            return
        for inputs, outputs in zip(batch_inputs, batch_outputs):
            kd = outputs.get("kd_loss")
            self.batches.append({
                "epoch": epoch,
                "sentences": [list(m["words"]) for m in inputs["metadata"]],
                "kd_loss": None if kd is None else float(kd),
            })

    def on_end(self, trainer, metrics=None, epoch=None, is_primary=True, **kwargs) -> None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        record = {"rank": rank, "pid": os.getpid(), "batches": self.batches}
        path = os.path.join(self.serialization_dir, f"kd_worker{rank}.json")
        with open(path, "w") as out:
            json.dump(record, out)
