"""What every distilled model shares: the lazy teacher (or teacher ensemble), its adapter,
the objective and what it requests of the teacher, the loss mixing and the KD metrics. Mixed
into the registered models in `allennlp_subkd.models`, and into models of your own
(`docs/extending.md`)."""
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.training.metrics import Average

from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.objectives.scores import ParserScores
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.diagnostics import TeacherDiagnostics
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.config import Teacher, rewrite_deprecated_params
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher

logger = logging.getLogger(__name__)


class DistilledModelMixin:
    """
    Adds knowledge distillation to an AllenNLP model. The model sets `default_adapter` (the
    registered name of the `TeacherAdapter` that reads teachers of its own kind), calls
    `_setup_distillation` at the end of its constructor and, in `forward` when
    `_distilling` is true, `teacher_scores` (the teachers' scores of the batch for the
    objective's `TeacherRequest`, through the adapter) and `_distill` (the objective against
    them), then `_mix_distillation`.

    The teachers live in a plain Python list (`FrozenTeacher` is no `torch.nn.Module`), so
    PyTorch never registers them: they are absent from `state_dict()`, `parameters()`, the
    optimizer, the initializer and `extend_embedder_vocab`, and the student's archive holds
    no teacher weight.

    Configs may still give the deprecated flat teacher arguments (`teacher_archive`, ...):
    `from_params` moves them into `teacher` with a `DeprecationWarning`.
    """

    #: the registered name errors call the student by
    student_name = "distilled model"
    #: the registered name of the adapter a `teacher` without `adapter` is read with
    default_adapter: Optional[str] = None

    @classmethod
    def from_params(cls, params: Params, **extras):  # type: ignore[override]
        rewrite_deprecated_params(params, cls.student_name)
        return super().from_params(params=params, **extras)  # type: ignore[misc]

    def _setup_distillation(
        self,
        teacher: Optional[Teacher],
        distillation: Optional[DistillationObjective],
        label_namespace: str,
    ) -> None:
        """Check and keep the teacher (built lazily: no archive is read here) and the
        objective. A teacher without `adapter` is read with the class's `default_adapter`;
        `label_namespace` is the student's, whose order the teachers' scores follow."""
        name = self.student_name
        if distillation is not None and teacher is None:
            raise ConfigurationError(f"{name}: a distillation objective needs a teacher")
        if teacher is not None and distillation is None and not teacher.diagnostics:
            raise ConfigurationError(
                f"{name}: teacher {teacher.archives} is given but no distillation objective; "
                "add distillation: {type: ...}, drop the teacher, or set teacher.diagnostics: "
                "true to only measure the student's agreement with it"
            )
        self._distillation = distillation
        self._teachers: List[FrozenTeacher] = []
        self._teacher_weights: List[float] = []
        self._adapter: Optional[TeacherAdapter] = None
        self._label_namespace = label_namespace
        self._diagnostics: Optional[TeacherDiagnostics] = None
        if teacher is not None:
            adapter = teacher.adapter or self._default_teacher_adapter()
            if distillation is not None:
                if not issubclass(adapter.scores_type, distillation.scores_type):
                    raise ConfigurationError(
                        f"{name}: the teacher adapter {adapter.name} gives "
                        f"{adapter.scores_type.__name__}, but the {type(distillation).__name__} "
                        f"objective compares {distillation.scores_type.__name__}"
                    )
                if teacher.is_ensemble:
                    distillation.check_ensemble()
            adapter.check_student(self.vocab, label_namespace, name)  # type: ignore[attr-defined]
            if teacher.diagnostics:
                self._diagnostics = TeacherDiagnostics(parser=issubclass(adapter.scores_type, ParserScores))
            self._adapter = adapter
            self._teachers = teacher.members(adapter, name)
            self._teacher_weights = teacher.weights
        self._distillation_epoch: Optional[int] = None
        self._kd_loss = Average()  # all-reduced across distributed workers, like the loss
        self._kd_measured = False  # whether a KD term was added since the last reset
        self._kd_checked = False

    def _default_teacher_adapter(self) -> TeacherAdapter:
        if self.default_adapter is None:
            raise ConfigurationError(
                f"{self.student_name}: no default teacher adapter; give teacher.adapter: {{type: ...}}"
            )
        return TeacherAdapter.by_name(self.default_adapter)()

    @property
    def teacher(self) -> Optional[FrozenTeacher]:
        """The frozen teacher (loaded on first use), the first member of an ensemble, or
        `None` for a plain student."""
        return self._teachers[0] if self._teachers else None

    @property
    def teachers(self) -> List[FrozenTeacher]:
        """Every member of the teacher ensemble (one for a single teacher)."""
        return list(self._teachers)

    @property
    def teacher_weights(self) -> List[float]:
        """The members' normalised weights."""
        return list(self._teacher_weights)

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

    @property
    def _diagnosing(self) -> bool:
        """Teacher diagnostics are measured in validation and evaluation only."""
        return self._diagnostics is not None and not self.training  # type: ignore[attr-defined]

    def _teacher_batch(
        self, inputs: Dict[str, Any], metadata: Optional[List[Dict[str, Any]]], mask: torch.Tensor
    ) -> TeacherBatch:
        return TeacherBatch(
            inputs, metadata, mask.bool(), self.vocab, self._label_namespace,  # type: ignore[attr-defined]
        )

    def teacher_scores(self, batch: TeacherBatch, request: Optional[TeacherRequest] = None) -> List[Any]:
        """Each teacher's scores of the batch (no gradients) for `request` (default: the
        objective's `teacher_request()`), aligned with the student by the adapter, from the
        teachers' caches where present (`FrozenTeacher.scores`)."""
        if request is None:
            request = self._distillation.teacher_request() if self._distillation is not None else TeacherRequest()
        return [member.scores(self._adapter, batch, request) for member in self._teachers]

    def _distill(self, student: Callable[[Any], Any], teachers: Sequence[Any]) -> torch.Tensor:
        """The per-sentence KD term `[batch]` against the teachers' mixture:
        `student(teacher_scores)` gives the student's scores compared with one teacher's (the
        same object for most students; a parser's relation scores are taken at each teacher's
        heads)."""
        pairs = [(student(t), t) for t in teachers]
        if not self._kd_checked:
            for s, t in pairs:
                self._distillation.check(s, t)  # type: ignore[union-attr]
            self._kd_checked = True
        return self._distillation.mixture(pairs, self._teacher_weights)  # type: ignore[union-attr]

    def _check_learnable(self, has_gold: bool) -> None:
        """A training batch without gold labels (a transfer set's) teaches only through the
        teacher: a `ConfigurationError` when the model has no KD objective."""
        if self.training and not has_gold and self._distillation is None:  # type: ignore[attr-defined]
            raise ConfigurationError(
                f"{self.student_name}: a training batch without gold labels (a transfer set's "
                "unlabeled sentences) has nothing to learn from without a teacher: give "
                "teacher and distillation, or drop the transfer set"
            )

    def _mix_distillation(
        self, output: Dict[str, torch.Tensor], kd: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """`loss = (1 - alpha) * gold + alpha * kd`; `unlabeled_weight * kd` for a batch
        without gold labels (a transfer set's)."""
        alpha = self._distillation.alpha_at(self._distillation_epoch)  # type: ignore[union-attr]
        gold = output.get("loss")
        output["kd_loss"] = kd.detach()
        if gold is None:
            output["loss"] = self._distillation.unlabeled_weight * kd  # type: ignore[union-attr]
        else:
            output["loss"] = (1.0 - alpha) * gold + alpha * kd
        self._kd_loss(kd.detach().item())
        self._kd_measured = True
        return output

    def _distillation_metrics(self, reset: bool) -> Dict[str, float]:
        diagnostics = {} if self._diagnostics is None else self._diagnostics.metrics(reset)
        if self._distillation is None or not self._kd_measured:
            return diagnostics  # no KD measured: validation and evaluation never compute it
        # the KD weight in force (teacher annealing changes it per epoch)
        alpha = self._distillation.alpha_at(self._distillation_epoch)
        if reset:
            self._kd_measured = False
        return {"kd_loss": self._kd_loss.get_metric(reset), "kd_alpha": alpha, **diagnostics}
