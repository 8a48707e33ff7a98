"""The trainer callback that tells a distilled model which epoch it is in."""
from typing import Any, Dict

from allennlp.training.callbacks.callback import TrainerCallback


@TrainerCallback.register("distillation_epoch")
class DistillationEpochCallback(TrainerCallback):
    """
    Passes the current (0-based) epoch to a distilled model, which teacher annealing
    (`distillation.anneal`) needs, and to a `transfer_set` data loader (each epoch's sample). Harmless without annealing; our configs always add it. A run
    resumed with `allennlp train --recover` (from an end-of-epoch or a mid-epoch checkpoint)
    continues the schedule at the epoch it stopped in.

    Registered as a `TrainerCallback` with name "distillation_epoch".

    # Parameters

    serialization_dir : `str`
        Passed by the trainer.
    """

    def _tell(self, trainer, epoch: int) -> None:
        model = trainer.model
        if hasattr(model, "set_distillation_epoch"):
            model.set_distillation_epoch(epoch)
        # the transfer_set data loader draws each epoch's sample by the epoch's number
        loader = getattr(trainer, "data_loader", None)
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary=is_primary, **kwargs)
        # `allennlp train --recover` restores the checkpoint before `on_start` and then skips
        # the finished epochs without calling `on_epoch`: start at the restored epoch
        restored = getattr(trainer, "_start_after_epochs_completed", 0)
        self._tell(trainer, max(trainer._epochs_completed, restored))

    def on_epoch(
        self, trainer, metrics: Dict[str, Any], epoch: int, is_primary: bool = True, **kwargs
    ) -> None:
        self._tell(trainer, epoch + 1)
