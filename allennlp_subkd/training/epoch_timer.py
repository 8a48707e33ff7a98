"""`epoch_timer`: wall-clock seconds of each training epoch, validation excluded."""
import json
import os
import time
from typing import Any, Dict, List, Optional

from allennlp.training.callbacks.callback import TrainerCallback


@TrainerCallback.register("epoch_timer")
class EpochTimerCallback(TrainerCallback):
    """
    Measures each epoch's training phase (first training batch's start to the last training
    batch's end, validation excluded) and writes `epoch_times.json` (`{"train_seconds":
    [...], "peak_rss_mb": ...}`) to the serialization directory after every epoch, so the
    demo and the benchmarks report times measured in the run itself.

    A run resumed with `allennlp train --recover` keeps the times of the epochs finished before
    (read back from the file) and clocks its first resumed epoch from the end of that epoch's
    first training batch: the trainer reads through the finished epochs' data first, which is
    not training time (that epoch's figure misses one batch).

    Registered as a `TrainerCallback` with name "epoch_timer".

    # Parameters

    serialization_dir : `str`
        Passed by the trainer.
    """

    def __init__(self, serialization_dir: str) -> None:
        super().__init__(serialization_dir)
        self.train_seconds: List[float] = []
        self._epoch_start: Optional[float] = None
        self._last_train_batch: Optional[float] = None

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary=is_primary, **kwargs)
        finished = getattr(trainer, "_start_after_epochs_completed", 0)
        previous = os.path.join(self.serialization_dir, "epoch_times.json")
        if finished and os.path.exists(previous):  # resumed from a checkpoint (`--recover`)
            with open(previous) as f:
                self.train_seconds = list(json.load(f)["train_seconds"][:finished])
            self._epoch_start = None  # set by the first training batch of the resumed epoch
        else:
            self._epoch_start = time.perf_counter()

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch: int,
                 batch_number: int, is_training: bool, is_primary: bool = True, **kwargs) -> None:
        if is_training:
            self._last_train_batch = time.perf_counter()
            if self._epoch_start is None:
                self._epoch_start = self._last_train_batch

    def on_epoch(self, trainer, metrics: Dict[str, Any], epoch: int, is_primary: bool = True,
                 **kwargs) -> None:
        if self._epoch_start is not None and self._last_train_batch is not None:
            self.train_seconds.append(self._last_train_batch - self._epoch_start)
        self._epoch_start = time.perf_counter()
        if is_primary:
            with open(os.path.join(self.serialization_dir, "epoch_times.json"), "w") as f:
                json.dump({"train_seconds": self.train_seconds, "peak_rss_mb": _peak_rss_mb()}, f)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
