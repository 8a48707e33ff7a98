"""
KD objectives for sequence taggers (`distilled_crf_tagger`, `distilled_simple_tagger`).

Every objective is registered under `TaggerDistillation` and returns the KD term **per
sentence** (`[batch]`, summed over the sentence's tokens / sub-structures); the model then
reduces it the way it reduces its gold loss: summed over the batch for a CRF tagger
(AllenNLP's CRF log-likelihood is a batch sum), a per-sentence token mean averaged over
sentences for a softmax tagger (`sequence_cross_entropy_with_logits`).

Teacher and student scores arrive as `TaggerScores` with labels already in the student's
label order and the batch's token mask inside (`TaggerScores.mask`; the objectives read the
student's). A `TaggerScores` with `transitions=None` is a softmax (locally normalised)
tagger; its distribution over label sequences is the product of per-token softmaxes.
"""
from typing import Tuple

import torch
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.objectives.scores import TaggerScores
from allennlp_subkd.structures import linear_chain


class TaggerDistillation(DistillationObjective):
    """Base class of the tagging KD objectives (see `DistillationObjective` for the mixing)."""

    scores_type = TaggerScores
    needs_crf_teacher = False
    needs_crf_student = False
    #: whether the objective compares the teacher's scores themselves (not its distribution),
    #: which a span teacher (`TaggerScores.segments`) does not have for the student's sub-structures
    compares_scores = False

    def check(self, student: TaggerScores, teacher: TaggerScores) -> None:
        """Raise a `ConfigurationError` when this objective cannot compare these models."""
        name = type(self).__name__
        if self.compares_scores and teacher.segments is not None:
            raise ConfigurationError(
                f"{name} compares the teacher's scores of the student's sub-structures; a span "
                "teacher ('span_ner' adapter) scores spans, not tokens or label bigrams: use "
                "structural, posterior or token"
            )
        if self.needs_crf_teacher and not teacher.is_crf:
            raise ConfigurationError(f"{name} needs a CRF teacher; the teacher is a softmax tagger")
        if self.needs_crf_student and not student.is_crf:
            raise ConfigurationError(f"{name} needs a CRF student; the student is a softmax tagger")

    def __call__(self, student: TaggerScores, teacher: TaggerScores) -> torch.Tensor:
        """
        student, teacher : `TaggerScores` over the same batch; the teacher's are targets
            (detached: no gradient ever reaches the teacher). The student's `mask`
            (`[batch, time]` bool, left-aligned) says which tokens count.
        Returns the KD term of each sentence, `[batch]` (0 for an empty sentence).
        """
        return self.per_sentence(student, teacher.detached(), student.token_mask())

    def per_sentence(
        self, student: TaggerScores, teacher: TaggerScores, mask: torch.BoolTensor
    ) -> torch.Tensor:
        """The KD term of each sentence given the teacher's detached scores and the mask."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# shared pieces


def token_marginals(scores: TaggerScores, mask: torch.BoolTensor) -> torch.Tensor:
    """`[batch, time, labels]` P(y_t = y): forward-backward for a CRF, forward-backward over
    segments for a span teacher, softmax otherwise (zero at padding)."""
    if scores.segments is not None:
        return scores.segments.marginals(mask)[0]
    if scores.is_crf:
        return linear_chain.marginals(
            scores.emissions, scores.transitions, mask, scores.start, scores.end
        )[1]
    return scores.emissions.softmax(-1) * mask.unsqueeze(-1)


def sub_structure_marginals(
    scores: TaggerScores, mask: torch.BoolTensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Marginals of the sub-structures a CRF student factorises over:
    `unary [batch, time, labels]` and `pairwise [batch, time-1, labels, labels]`.
    For a softmax model (Wang et al. case 3) `pairwise[t-1, i, j] = p_{t-1}(i) * p_t(j)`; for a
    span teacher (scenario 4) the exact tag-bigram marginals of its segment distribution."""
    if scores.segments is not None:
        return scores.segments.marginals(mask)
    if scores.is_crf:
        _, unary, pairwise = linear_chain.marginals(
            scores.emissions, scores.transitions, mask, scores.start, scores.end
        )
        return unary, pairwise
    unary = scores.emissions.softmax(-1) * mask.unsqueeze(-1)
    pairwise = unary[:, :-1].unsqueeze(-1) * unary[:, 1:].unsqueeze(-2)
    return unary, pairwise


def last_token(values: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
    """`values[b, length_b - 1]` for `values [batch, time, ...]` (row 0 for empty rows)."""
    last = (mask.sum(-1) - 1).clamp(min=0)
    index = last.view(-1, *([1] * (values.dim() - 1))).expand(-1, 1, *values.shape[2:])
    return values.gather(1, index).squeeze(1)


def expected_score(
    student: TaggerScores,
    unary: torch.Tensor,
    pairwise: torch.Tensor,
    mask: torch.BoolTensor,
) -> torch.Tensor:
    """`Σ_u q(u) · S_s(u)` per sentence, u ranging over the student CRF's sub-structures:
    start labels, (token, label) emissions, label bigrams and end labels."""
    total = (unary * student.emissions).sum((1, 2))
    if pairwise.size(1) > 0:
        total = total + (pairwise.sum(1) * student.transitions).sum((1, 2))
    if student.start is not None:
        total = total + (unary[:, 0] * student.start).sum(-1)
    if student.end is not None:
        total = total + (last_token(unary, mask) * student.end).sum(-1)
    return total


def token_kl(q: torch.Tensor, log_p: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
    """`Σ_t KL(q_t ‖ p_t)` per sentence over valid tokens; `0·log 0 = 0`."""
    kl = torch.xlogy(q, q) - q * log_p
    return (kl.sum(-1) * mask).sum(-1)


def safe_log(p: torch.Tensor) -> torch.Tensor:
    """log of probabilities that may underflow to exactly 0 (no -inf, no NaN gradient)."""
    return p.clamp(min=torch.finfo(p.dtype).tiny).log()


# ---------------------------------------------------------------------------------------
# the objectives


@TaggerDistillation.register("sub_structure")
class SubStructureTaggerDistillation(TaggerDistillation):
    """
    Sub-structure KD (Lin et al. 2022, "Efficient Sub-structured Knowledge Distillation"):
    the student matches the teacher's *scores* of every local sub-structure with a squared
    error. No dynamic programme and no normalisation over structures: fully parallel.

    Registered as a `TaggerDistillation` with name "sub_structure".

    With `Δe = e_s - e_t` (`[n, labels]` for a sentence of n valid tokens), the squared
    errors are

    - `variant="emission"`: `Δe[t, y]²` for every valid token t and label y;
    - `variant="bigram"`: the squared error of every bigram score a CRF adds up,
      `(Δstart[j] + Δe[1, j])²`, `(Δe[t, j] + ΔA[i, j])²` for 2 ≤ t ≤ n, and `Δend[i]²`.
      Both teacher and student must be CRFs.

    With `centre`, each token's emission differences are first centred over the labels,
    `Δe[t] - mean_y Δe[t]`: a CRF's distribution ignores a per-token constant added to all
    labels, so the student is not asked to match an offset the teacher's predictions cannot
    see (emission variant only).

    The `reduction` turns the squared errors of a batch into one term mixed with the CRF's
    negative log-likelihood (itself a **sum** over the batch):

    - `"mean"` (default): Lin et al.'s released code, `nn.MSELoss(reduction='mean')` — the
      sum of the batch's squared errors divided by the number of elements of the padded
      batch, `batch × time × labels` (`× labels` again for bigrams); padding positions count
      in the denominator but contribute no error (their code also matched the scores of
      padding tokens, which means nothing for a masked CRF). The default was chosen by the
      dev-set sweep of `benchmarks/sweep.py` (README "Choosing the defaults").
    - `"token_mean"`: divided by the number of *valid* elements instead.
    - `"sum"`: no division, a per-sentence sum (this objective's first formula; it makes the
      KD term dominate the gold loss unless alpha is tiny).

    Raw scores are compared, so there is no temperature. Lin et al. use `alpha = 0.9`
    (`loss = 0.1 · nll + 0.9 · mse`).

    # Parameters

    variant : `str`, optional (default = `"emission"`)
        `"emission"` or `"bigram"`.
    reduction : `str`, optional (default = `"mean"`)
        `"mean"`, `"token_mean"` or `"sum"` (see above).
    centre : `bool`, optional (default = `False`)
        Centre each token's emission differences over the labels (emission variant only).
    alpha, anneal : see `DistillationObjective`.
    """

    uses_temperature = False
    compares_scores = True
    REDUCTIONS = ("mean", "token_mean", "sum")

    def __init__(
        self, variant: str = "emission", reduction: str = "mean", centre: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if variant not in ("emission", "bigram"):
            raise ConfigurationError(
                f'sub_structure variant must be "emission" or "bigram", got {variant!r}'
            )
        if reduction not in self.REDUCTIONS:
            raise ConfigurationError(
                f"sub_structure reduction must be one of {list(self.REDUCTIONS)}, got {reduction!r}"
            )
        if centre and variant != "emission":
            raise ConfigurationError('sub_structure centre applies to variant "emission" only')
        self.variant = variant
        self.reduction = reduction
        self.centre = bool(centre)
        self.needs_crf_teacher = self.needs_crf_student = variant == "bigram"

    def per_sentence(self, student, teacher, mask):
        diff = student.emissions - teacher.emissions
        if self.centre:
            diff = diff - diff.mean(-1, keepdim=True)
        diff = diff * mask.unsqueeze(-1)
        num_labels = diff.size(-1)
        if self.variant == "emission":
            return self._reduce(diff.pow(2).sum((1, 2)), mask, num_labels)
        d_trans = student.transitions - teacher.transitions
        d_start = _difference(student.start, teacher.start, num_labels, diff)
        d_end = _difference(student.end, teacher.end, num_labels, diff)
        # t = 1: start[j] + e[1, j]
        first = (d_start + diff[:, 0]).pow(2).sum(-1) * mask[:, 0]
        # 2 <= t <= n: Σ_{i,j} (Δe[t,j] + ΔA[i,j])², expanded so no [B, T, C, C] tensor is built
        inner = diff[:, 1:]
        pair_mask = mask[:, 1:]
        bigram = (
            num_labels * inner.pow(2).sum(-1)
            + 2.0 * (inner * d_trans.sum(0)).sum(-1)
            + d_trans.pow(2).sum() * pair_mask
        )
        bigram = (bigram * pair_mask).sum(-1)
        last = d_end.pow(2).sum(-1) * mask[:, 0]
        return self._reduce(first + bigram + last, mask, num_labels * num_labels)

    def mixture(self, pairs, weights):
        """Against the weighted mean of the teachers' scores (a score has no mixture: this is
        the score-space average, as for logit-averaging ensembles)."""
        if len(pairs) == 1:
            return self(*pairs[0])
        return self(pairs[0][0], mean_scores([t for _, t in pairs], weights))

    def _reduce(self, total: torch.Tensor, mask: torch.BoolTensor, per_token: int) -> torch.Tensor:
        """Per-sentence sums → per-sentence shares of the batch term (their sum is the term):
        `per_token` elements a token (labels, or label pairs for bigrams)."""
        if self.reduction == "sum":
            return total
        # "mean": every element of the padded batch; "token_mean": the valid ones
        elements = torch.tensor(mask.numel()) if self.reduction == "mean" else mask.sum()
        return total / (elements.to(total) * per_token).clamp(min=1)


def mean_scores(teachers, weights) -> TaggerScores:
    """`Σ_i w_i S_i` of every potential of the teachers' `TaggerScores` (a softmax teacher's
    missing transitions / start / end count as 0; `None` when no teacher has them)."""

    def mean(values):
        if all(v is None for v in values):
            return None
        return sum(w * v for w, v in zip(weights, values) if v is not None)

    return TaggerScores(
        mean([t.emissions for t in teachers]),
        mean([t.transitions for t in teachers]),
        mean([t.start for t in teachers]),
        mean([t.end for t in teachers]),
        teachers[0].mask,
    )


def _difference(student, teacher, num_labels, like):
    """Δ of optional start/end vectors, each `None` meaning zeros."""
    zero = like.new_zeros(num_labels)
    return (zero if student is None else student) - (zero if teacher is None else teacher)


@TaggerDistillation.register("structural")
class StructuralTaggerDistillation(TaggerDistillation):
    """
    Structural KD (Wang et al. 2021, "Structural Knowledge Distillation"): the exact
    sequence-level cross-entropy between teacher and student at temperature T,

        KD = -T² Σ_y P_t^T(y) log P_s^T(y) = T² (log Z_s^T - Σ_u q(u) S_s(u) / T),

    factorised over the student CRF's sub-structures u (start labels, token labels, label
    bigrams, end labels), with q the teacher's marginals at temperature T:

    - CRF teacher (their case 1a): forward-backward marginals;
    - softmax teacher (their case 3): `q(y_{t-1}=i, y_t=j) = p_{t-1}(i) p_t(j)`;
    - span teacher (their scenario 4, the `"span_ner"` adapter): the exact tag and tag-bigram
      marginals of its distribution over non-overlapping labelled spans (forward-backward over
      segments, `allennlp_subkd.structures.segments`);
    - softmax student: the student's sub-structures are single tokens and the term is
      `T² Σ_t CE(q_t, softmax(e_s[t] / T))` with q_t the teacher's token marginals — still
      the exact sequence-level cross-entropy, because the student factorises per token.

    Registered as a `TaggerDistillation` with name "structural".

    # Parameters

    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def per_sentence(self, student, teacher, mask):
        temp = self.temperature
        student_t, teacher_t = student.scaled(temp), teacher.scaled(temp)
        if not student.is_crf:  # the student's sub-structures are single tokens
            with torch.no_grad():
                unary = token_marginals(teacher_t, mask)
            log_p = student_t.emissions.log_softmax(-1)
            return -(unary * log_p).sum(-1).mul(mask).sum(-1) * temp ** 2
        with torch.no_grad():
            unary, pairwise = sub_structure_marginals(teacher_t, mask)
        log_z = linear_chain.log_partition(
            student_t.emissions, student_t.transitions, mask, student_t.start, student_t.end
        )
        return (log_z - expected_score(student_t, unary, pairwise, mask)) * temp ** 2


@TaggerDistillation.register("posterior")
class PosteriorTaggerDistillation(TaggerDistillation):
    """
    Posterior (marginal) distillation: `T² Σ_t KL(q_t ‖ p_t)`, q_t the teacher's token
    marginals and p_t the student's, both at temperature T — forward-backward for a CRF,
    a softmax for a softmax tagger. Wang et al.'s case 2a (CRF teacher, softmax student) and
    the "margin_prob" baseline of Lin et al.'s code.

    Registered as a `TaggerDistillation` with name "posterior".

    # Parameters

    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def per_sentence(self, student, teacher, mask):
        return self._kl([teacher], [1.0], student, mask)

    def mixture(self, pairs, weights):
        """Exactly `T² Σ_t KL(Σ_i w_i q_t^i ‖ p_t)`: the mixture's token marginals are the
        weighted mean of the teachers'."""
        student = pairs[0][0]
        return self._kl([t.detached() for _, t in pairs], weights, student, student.token_mask())

    def _kl(self, teachers, weights, student, mask):
        temp = self.temperature
        with torch.no_grad():
            q = sum(w * token_marginals(t.scaled(temp), mask) for w, t in zip(weights, teachers))
        student_t = student.scaled(temp)
        if student.is_crf:
            log_p = safe_log(token_marginals(student_t, mask))
        else:
            log_p = student_t.emissions.log_softmax(-1)
        return token_kl(q, log_p, mask) * temp ** 2


@TaggerDistillation.register("token")
class TokenTaggerDistillation(TaggerDistillation):
    """
    Token-level (Hinton-style) distillation of the emission scores, ignoring transitions:
    `T² Σ_t KL(softmax(e_t[t] / T) ‖ softmax(e_s[t] / T))`.

    Registered as a `TaggerDistillation` with name "token".

    # Parameters

    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def per_sentence(self, student, teacher, mask):
        return self._kl([teacher], [1.0], student, mask)

    def mixture(self, pairs, weights):
        """Exactly `T² Σ_t KL(Σ_i w_i softmax(e_t^i[t] / T) ‖ softmax(e_s[t] / T))`."""
        student = pairs[0][0]
        return self._kl([t.detached() for _, t in pairs], weights, student, student.token_mask())

    def _kl(self, teachers, weights, student, mask):
        temp = self.temperature
        q = sum(w * (t.emissions / temp).softmax(-1) for w, t in zip(weights, teachers))
        log_p = (student.emissions / temp).log_softmax(-1)
        return token_kl(q, log_p, mask) * temp ** 2


@TaggerDistillation.register("top_k")
class TopKTaggerDistillation(TaggerDistillation):
    """
    Sequence-level KD on the teacher's k best label sequences (Kim & Rush 2016 style):
    `Σ_k w_k (log Z_s - S_s(ŷ_k)) = -Σ_k w_k log P_s(ŷ_k)`, ŷ_k the teacher's k-best Viterbi
    paths (unconstrained, i.e. the modes of the teacher's CRF distribution; a softmax
    teacher's k best are those of its factorised distribution). For a softmax student
    `log P_s(ŷ) = Σ_t log softmax(e_s[t])[ŷ_t]`.

    Registered as a `TaggerDistillation` with name "top_k".

    # Parameters

    k : `int`, optional (default = `3`)
        Number of teacher paths. A sentence with fewer than k distinct labellings uses all
        it has.
    weighting : `str`, optional (default = `"teacher"`)
        `"uniform"`: `w_k = 1/k`; `"teacher"`: the teacher's probabilities of the k paths at
        temperature T, renormalised over them.
    alpha, temperature, anneal : see `DistillationObjective` (the temperature only shapes
        the `"teacher"` weights).
    """

    #: the k best labellings of a mixture of CRFs have no dynamic programme
    supports_ensembles = False
    #: (a span teacher's k best segmentations are not computed)
    compares_scores = True

    def __init__(self, k: int = 3, weighting: str = "teacher", **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"top_k needs an integer k >= 1, got {k!r}")
        if weighting not in ("uniform", "teacher"):
            raise ConfigurationError(
                f'top_k weighting must be "uniform" or "teacher", got {weighting!r}'
            )
        self.k = k
        self.weighting = weighting

    def per_sentence(self, student, teacher, mask):
        with torch.no_grad():
            transitions = teacher.transitions
            if transitions is None:
                num_labels = teacher.emissions.size(-1)
                transitions = teacher.emissions.new_zeros(num_labels, num_labels)
            paths, path_scores = linear_chain.kbest_viterbi(
                teacher.emissions, transitions, mask, self.k, teacher.start, teacher.end
            )
            found = torch.isfinite(path_scores)
            if self.weighting == "uniform":
                weights = found.to(path_scores.dtype) / found.sum(-1, keepdim=True).clamp(min=1)
            else:
                logits = (path_scores / self.temperature).masked_fill(~found, float("-inf"))
                weights = logits.softmax(-1).nan_to_num(0.0)
        if student.is_crf:
            log_z = linear_chain.log_partition(
                student.emissions, student.transitions, mask, student.start, student.end
            )
            path_score = linear_chain.sequence_score(
                student.emissions, student.transitions, paths, mask, student.start, student.end
            )
            nll = log_z.unsqueeze(-1) - path_score
        else:
            log_p = student.emissions.log_softmax(-1)  # [B, T, C]
            picked = log_p.unsqueeze(1).expand(-1, paths.size(1), -1, -1)
            picked = picked.gather(-1, paths.unsqueeze(-1)).squeeze(-1)  # [B, K, T]
            nll = -(picked * mask.unsqueeze(1)).sum(-1)
        nll = nll.masked_fill(~found, 0.0)
        return (weights * nll).sum(-1)
