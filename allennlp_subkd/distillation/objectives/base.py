"""The part every KD objective shares: the interpolation weight, temperature and annealing."""
import math
from typing import Any, Optional, Sequence, Tuple

import torch

from allennlp.common import Registrable
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.request import TeacherRequest


class DistillationObjective(Registrable):
    """
    A knowledge-distillation term and how it is mixed with the gold loss:

        L = (1 - alpha_e) * L_gold + alpha_e * L_KD

    where `alpha_e = alpha` or, with teacher annealing (Wang et al. 2021, following Clark et
    al. 2019), `alpha_e = max(0, 1 - e * anneal / 100)` at (0-based) epoch `e`: the student
    starts from pure distillation and moves towards the gold loss by `anneal` percent an
    epoch. Annealing needs the `distillation_epoch` trainer callback, which tells the model
    the epoch; our configs always add it.

    Subclasses compute `L_KD` per sentence, `__call__(student_scores, teacher_scores) ->
    [batch]` (each scores object carries the batch's mask); the model reduces it the way its
    gold loss is reduced (a sum over the batch for a CRF tagger, a mean over tokens for the
    parser). What the objective needs the teacher to compute is one value, `teacher_request`.

    # Parameters

    alpha : `float`, optional (default = `0.5`)
        Weight of the KD term, in [0, 1]. `alpha = 1` trains on the teacher alone.
    temperature : `float`, optional (default = `1.0`)
        Softmax / Gibbs temperature T > 0 applied to both teacher and student potentials by
        the probabilistic objectives; their KD term is multiplied by T² (Hinton et al. 2015)
        so gradients keep their scale. Objectives with no distribution (`sub_structure`)
        reject a temperature other than 1.
    anneal : `float`, optional (default = `None`)
        Teacher annealing rate in percent per epoch; replaces `alpha` when set (> 0).
    unlabeled_weight : `float`, optional (default = `1.0`)
        The loss of a batch without gold labels (a transfer set's, see the `transfer_set` data
        loader) is `unlabeled_weight · L_KD`: by default an unlabeled sentence weighs as much
        as a labeled one, whose two terms' weights `(1 - alpha) + alpha` sum to 1. Not
        annealed (annealing moves labeled sentences from the teacher towards the gold labels;
        unlabeled ones have only the teacher).
    """

    uses_temperature = True
    #: the scores class this objective compares (set by each family)
    scores_type: type = object
    #: whether the objective has a defined target for a teacher ensemble (`mixture`)
    supports_ensembles = True

    def __init__(
        self,
        alpha: float = 0.5,
        temperature: float = 1.0,
        anneal: Optional[float] = None,
        unlabeled_weight: float = 1.0,
    ) -> None:
        if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ConfigurationError(f"distillation alpha must lie in [0, 1], got {alpha!r}")
        if (
            not isinstance(temperature, (int, float))
            or not math.isfinite(temperature)
            or temperature <= 0
        ):
            raise ConfigurationError(
                f"distillation temperature must be a finite number > 0, got {temperature!r}"
            )
        if not self.uses_temperature and temperature != 1.0:
            raise ConfigurationError(
                f"the {type(self).__name__} objective has no temperature (it matches raw "
                f"scores); got temperature={temperature!r}, leave it at 1"
            )
        if anneal is not None and (not isinstance(anneal, (int, float)) or anneal <= 0):
            raise ConfigurationError(f"distillation anneal must be > 0 or null, got {anneal!r}")
        if (
            isinstance(unlabeled_weight, bool)
            or not isinstance(unlabeled_weight, (int, float))
            or not math.isfinite(unlabeled_weight)
            or unlabeled_weight < 0
        ):
            raise ConfigurationError(
                f"distillation unlabeled_weight must be a finite number >= 0, got {unlabeled_weight!r}"
            )
        self.unlabeled_weight = float(unlabeled_weight)
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.anneal = None if anneal is None else float(anneal)

    def alpha_at(self, epoch: Optional[int]) -> float:
        """The KD weight at (0-based) `epoch`; `epoch` is needed only with annealing."""
        if self.anneal is None:
            return self.alpha
        if epoch is None:
            raise ConfigurationError(
                "teacher annealing (distillation.anneal) needs the epoch: add the trainer "
                'callback {"type": "distillation_epoch"} to trainer.callbacks'
            )
        return max(0.0, 1.0 - epoch * self.anneal / 100.0)

    def teacher_request(self) -> TeacherRequest:
        """What this objective needs from the teacher (the default request: its scores as the
        adapter gives them). Parser objectives ask for relation scores at k heads."""
        return TeacherRequest()

    def check(self, student: Any, teacher: Any) -> None:
        """Raise a `ConfigurationError` when this objective cannot compare these models
        (called on the first batch). The default accepts any pair."""

    def check_ensemble(self) -> None:
        """Raise a `ConfigurationError` when this objective cannot learn from an ensemble
        (called when the model is built with several teachers)."""
        if not self.supports_ensembles:
            raise ConfigurationError(
                f"the {type(self).__name__} objective has no teacher-ensemble target; give "
                "one teacher archive, or use another objective"
            )

    def mixture(self, pairs: Sequence[Tuple[Any, Any]], weights: Sequence[float]) -> torch.Tensor:
        """
        The per-sentence KD term against the mixture `Σ_i w_i P_i` of the teachers'
        distributions. `pairs[i]` = (the student's scores compared with teacher i, teacher
        i's scores); `weights` sum to 1.

        This default, `Σ_i w_i · term(student_i, teacher_i)`, is exact for every term that
        is a cross-entropy `-Σ_y P_t(y) log P_s(y)` (linear in the teacher's distribution,
        so in its marginals), up to a constant of the teachers where the term subtracts the
        teacher's entropy (a KL): the same gradient. Objectives whose target is not linear in
        the teacher's distribution override it. One teacher: exactly `term(student, teacher)`.
        """
        if len(pairs) == 1:
            return self(*pairs[0])
        total = None
        for weight, (student, teacher) in zip(weights, pairs):
            term = weight * self(student, teacher)
            total = term if total is None else total + term
        return total
