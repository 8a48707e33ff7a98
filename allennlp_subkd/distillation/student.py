"""What every distilled model shares: the lazy teacher, the objective, the loss mixing and
the KD metrics. Mixed into the registered models in `allennlp_subkd.models`."""
import logging
from typing import Dict, Optional, Tuple, Type

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.models import Model
from allennlp.training.metrics import Average

from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.teacher import FrozenTeacher

logger = logging.getLogger(__name__)


class DistilledModelMixin:
    """
    Adds knowledge distillation to an AllenNLP model. The model calls
    `_setup_distillation` at the end of its constructor and `_mix_distillation` in
    `forward` when `_distilling` is true.

    The teacher lives in a plain Python attribute (`FrozenTeacher` is no `torch.nn.Module`),
    so PyTorch never registers it: it is absent from `state_dict()`, `parameters()`, the
    optimizer, the initializer and `extend_embedder_vocab`, and the student's archive holds
    no teacher weight.
    """

    def _setup_distillation(
        self,
        teacher_archive: Optional[str],
        distillation: Optional[DistillationObjective],
        accepted_teachers: Tuple[Type[Model], ...],
        student_name: str,
        reindex_teacher_inputs: Optional[bool],
        teacher_cache_mb: float = 512.0,
        teacher_cache_dtype: str = "float32",
        teacher_cache_dir: Optional[str] = None,
        teacher_cache_dir_mb: float = 2048.0,
    ) -> None:
        if distillation is not None and teacher_archive is None:
            raise ConfigurationError(
                f"{student_name}: a distillation objective needs a teacher_archive"
            )
        if teacher_archive is not None and distillation is None:
            raise ConfigurationError(
                f"{student_name}: teacher_archive {teacher_archive!r} is given but no "
                "distillation objective; add distillation: {type: ...} or drop the teacher"
            )
        self._distillation = distillation
        self._teacher = (
            FrozenTeacher(
                teacher_archive,
                accepted_teachers,
                student_name,
                reindex_teacher_inputs,
                teacher_cache_mb,
                teacher_cache_dtype,
                teacher_cache_dir,
                teacher_cache_dir_mb,
            )
            if teacher_archive is not None
            else None
        )
        self._distillation_epoch: Optional[int] = None
        self._kd_loss = Average()
        self._kd_checked = False

    @property
    def teacher(self) -> Optional[FrozenTeacher]:
        """The frozen teacher (loaded on first use), or `None` for a plain student."""
        return self._teacher

    @property
    def distillation(self) -> Optional[DistillationObjective]:
        return self._distillation

    def set_distillation_epoch(self, epoch: int) -> None:
        """Called by the `distillation_epoch` trainer callback with the 0-based epoch."""
        self._distillation_epoch = epoch

    @property
    def _distilling(self) -> bool:
        """KD is added while training only: validation, evaluation and prediction score the
        student on its own and never touch the teacher."""
        return self._distillation is not None and self.training  # type: ignore[attr-defined]

    def _mix_distillation(
        self, output: Dict[str, torch.Tensor], kd: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """`loss = (1 - alpha) * gold + alpha * kd` (just `alpha * kd` with no gold labels)."""
        alpha = self._distillation.alpha_at(self._distillation_epoch)  # type: ignore[union-attr]
        gold = output.get("loss")
        output["kd_loss"] = kd.detach()
        output["loss"] = alpha * kd if gold is None else (1.0 - alpha) * gold + alpha * kd
        self._kd_loss(kd.detach().item())
        return output

    def _distillation_metrics(self, reset: bool) -> Dict[str, float]:
        if self._distillation is None or self._kd_loss._count == 0:
            return {}  # nothing measured: validation and evaluation never compute KD
        return {"kd_loss": self._kd_loss.get_metric(reset)}
