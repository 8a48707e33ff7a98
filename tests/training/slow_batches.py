"""A trainer callback for the fault tests only: it sleeps after every batch, so that a test can
kill a training process in the middle of an epoch (`--include-package tests.training.slow_batches`)."""
import time

from allennlp.training.callbacks.callback import TrainerCallback


@TrainerCallback.register("test_slow_batches")
class SlowBatches(TrainerCallback):
    def __init__(self, serialization_dir: str, seconds: float = 0.3) -> None:
        super().__init__(serialization_dir)
        self.seconds = seconds

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch, batch_number,
                 is_training, is_primary=True, batch_grad_norm=None, **kwargs) -> None:
        if is_training:
            time.sleep(self.seconds)
