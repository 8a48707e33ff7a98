"""
How well a student imitates its teacher, measured on validation (or `allennlp evaluate`) data:
opt-in with `teacher: {..., diagnostics: true}`, since it runs the teacher (through its caches)
on every evaluated batch.

Metrics (all in AllenNLP's metrics, so in the progress bar, TensorBoard and `metrics.json`):

- taggers: `teacher_agreement`, the share of tokens whose label the student decodes as the
  teacher decodes it (each with its own decoder: Viterbi for a CRF, argmax for a softmax tagger);
  `teacher_kl`, the mean per-token KL(teacher ‖ student) of their token marginals;
  `calibration_error`, the student's expected calibration error (ECE, 10 equal-width bins) of
  its token marginals against the gold labels: `Σ_bins (n_b / N) · |accuracy_b − confidence_b|`
  with each token's confidence the marginal probability of its most probable label;
- parsers: `teacher_arc_agreement` / `teacher_label_agreement` (the student's predicted head,
  and head and relation, equal the teacher's, whose head is its argmax head and whose relation
  the argmax at that head), `teacher_kl` (mean per-word KL of the head distributions), and
  `calibration_error` of the student's head distribution against the gold heads.

With a teacher ensemble the teacher is the first member. The pure functions below are batched
and tested against loops.
"""
from typing import Dict, List

import torch
from allennlp.training.metrics import Metric


class ExpectedCalibrationError(Metric):
    """
    ECE over equal-width confidence bins: `Σ_b (n_b / N) |acc_b − conf_b|`, accumulated over
    batches (counts, summed confidences and summed correctness per bin).

    # Parameters

    bins : `int`, optional (default = `10`)
    """

    def __init__(self, bins: int = 10) -> None:
        self.bins = bins
        self.reset()

    def __call__(self, confidence: torch.Tensor, correct: torch.Tensor, mask: torch.Tensor) -> None:  # type: ignore[override]
        """`confidence [*]` in [0, 1], `correct [*]` bool, `mask [*]` bool (what counts)."""
        confidence, correct, mask = self.detach_tensors(confidence, correct, mask)
        mask = mask.bool()
        conf = confidence[mask].double().cpu()
        right = correct[mask].double().cpu()
        index = (conf * self.bins).long().clamp(max=self.bins - 1)
        self._count += torch.bincount(index, minlength=self.bins).double()
        self._confidence += torch.zeros(self.bins, dtype=torch.float64).index_add_(0, index, conf)
        self._correct += torch.zeros(self.bins, dtype=torch.float64).index_add_(0, index, right)

    def get_metric(self, reset: bool = False) -> float:
        total = self._count.sum()
        value = 0.0
        if total > 0:
            filled = self._count > 0
            gap = (self._correct[filled] - self._confidence[filled]).abs()
            value = float(gap.sum() / total)  # Σ_b n_b/N |acc_b − conf_b| = Σ_b |Σcorrect − Σconf| / N
        if reset:
            self.reset()
        return value

    def reset(self) -> None:
        self._count = torch.zeros(self.bins, dtype=torch.float64)
        self._confidence = torch.zeros(self.bins, dtype=torch.float64)
        self._correct = torch.zeros(self.bins, dtype=torch.float64)


class TeacherDiagnostics:
    """The metric objects of one student (`teacher_agreement` or the parser's two agreements,
    `teacher_kl`, `calibration_error`), filled by `add_*` and read by `metrics`."""

    def __init__(self, parser: bool) -> None:
        names = ("teacher_arc_agreement", "teacher_label_agreement") if parser else ("teacher_agreement",)
        # [sum, count] per metric: each is a mean over positions, added a batch at a time
        self._means: Dict[str, List[float]] = {name: [0.0, 0] for name in (*names, "teacher_kl")}
        self._ece = ExpectedCalibrationError()
        self._seen = False

    def _add(self, name: str, total: float, count: int) -> None:
        if count:
            self._means[name][0] += total
            self._means[name][1] += count
            self._seen = True

    def add_agreement(self, name: str, agree: torch.Tensor, mask: torch.Tensor) -> None:
        """Per-position agreement (bool), counted where `mask`."""
        mask = mask.bool()
        self._add(name, float(agree[mask].sum()), int(mask.sum()))

    def add_kl(self, total: float, count: int) -> None:
        self._add("teacher_kl", total, count)

    def add_calibration(self, probabilities: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor) -> None:
        """`probabilities [*, C]` (the student's marginals), `gold [*]` indices."""
        confidence, predicted = probabilities.max(-1)
        self._ece(confidence, predicted.eq(gold), mask)
        self._seen = True

    def metrics(self, reset: bool) -> Dict[str, float]:
        if not self._seen:
            return {}
        values = {name: total / count if count else 0.0 for name, (total, count) in self._means.items()}
        values["calibration_error"] = self._ece.get_metric(reset)
        if reset:
            self._means = {name: [0.0, 0] for name in self._means}
            self._seen = False
        return values
