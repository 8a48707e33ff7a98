"""The part every KD objective shares: the interpolation weight, temperature and annealing."""
import math
from typing import Optional

from allennlp.common import Registrable
from allennlp.common.checks import ConfigurationError


class DistillationObjective(Registrable):
    """
    A knowledge-distillation term and how it is mixed with the gold loss:

        L = (1 - alpha_e) * L_gold + alpha_e * L_KD

    where `alpha_e = alpha` or, with teacher annealing (Wang et al. 2021, following Clark et
    al. 2019), `alpha_e = max(0, 1 - e * anneal / 100)` at (0-based) epoch `e`: the student
    starts from pure distillation and moves towards the gold loss by `anneal` percent an
    epoch. Annealing needs the `distillation_epoch` trainer callback, which tells the model
    the epoch; our configs always add it.

    Subclasses compute `L_KD` per sentence; the model reduces it the way its gold loss is
    reduced (a sum over the batch for a CRF tagger, a mean over tokens for the parser).

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
    """

    uses_temperature = True

    def __init__(
        self, alpha: float = 0.5, temperature: float = 1.0, anneal: Optional[float] = None
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
