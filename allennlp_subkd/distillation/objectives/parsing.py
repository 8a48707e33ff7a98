"""
KD objectives for first-order dependency parsers (`distilled_biaffine_parser`).

Every objective is registered under `ParserDistillation` (a registry of its own: the names
may repeat the tagging ones) and returns the KD term **per sentence** (`[batch]`, summed
over the sentence's words / arcs); the parser then reduces it the way it reduces its gold
loss: summed over the batch and divided by the number of words in the batch (the biaffine
parser's arc and label losses are means over words).

Teacher and student scores arrive as `ParserScores` (`arcs[b, d, h]`: head h -> dependent
d, ROOT at 0; `labels[b, d, h, r]`: relation r on that arc, relations in the student's
order; `mask[b, i]`: ROOT and the real words). An objective with `relation_heads = k` gets
its relation scores only at the teacher's k best heads of each dependent
(`labels[b, d, s, r]` at `label_heads[b, d, s]`, see `ParserScores`): the model then never
builds the `[batch, n+1, n+1, relations]` tensor, for the teacher or the student. The objectives only ever look at the *valid
arcs* of a sentence: d a real word, h ROOT or a real word, h != d (`valid_arcs`). A word's
head distribution is `softmax_h(arcs[d, h])` over those heads; padding, the ROOT row and
self-loops never contribute, whatever the scores there are.
"""
import logging
from typing import Optional

import torch
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.objectives.scores import ParserScores
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.structures.arcs import (
    TREES,
    head_log_probs,
    kl_divergence,
    tree_distribution,
    valid_arcs,
)

logger = logging.getLogger(__name__)


class ParserDistillation(DistillationObjective):
    """Base class of the parsing KD objectives (see `DistillationObjective` for the mixing).

    `tree` is the tree distribution the objective is defined over (`"nonprojective"` or
    `"projective"`), or `None` when it does not use one; a parser with a tree-CRF gold loss
    uses the same tree type unless told otherwise.
    """

    scores_type = ParserScores
    tree: Optional[str] = None
    #: how many of the teacher's best heads per dependent the relation term is computed at
    #: (`None`: every pair, dense `labels`)
    relation_heads: Optional[int] = None

    def __call__(self, student: ParserScores, teacher: ParserScores) -> torch.Tensor:
        """
        student, teacher : `ParserScores` of the same batch (the teacher's without gradients,
            relations in the student's order, the student's mask).
        Returns the KD term of each sentence, `[batch]` (0 for a sentence without words).
        """
        raise NotImplementedError

    def teacher_request(self) -> TeacherRequest:
        """The teacher's relation scores at its `relation_heads` best heads per word (`None`:
        at every pair)."""
        return TeacherRequest(relation_heads=self.relation_heads)


# ---------------------------------------------------------------------------------------
# shared pieces


def check_tree_type(tree: str, what: str) -> str:
    """`tree` if it names a tree distribution, else a `ConfigurationError` naming it."""
    if tree not in TREES:
        raise ConfigurationError(
            f'{what} must be "nonprojective" (matrix-tree) or "projective" (Eisner), got {tree!r}'
        )
    return tree


def check_relation_heads(k: Optional[int], what: str) -> Optional[int]:
    """`k` if it is `None` or an integer >= 1, else a `ConfigurationError` naming it."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(
            f"{what} must be an integer >= 1 (the teacher's best heads per word at which "
            f"relations are compared) or null (every head), got {k!r}"
        )
    return k




def check_label_pairs(student: ParserScores, teacher: ParserScores) -> None:
    """The student's and the teacher's relation scores must be given at the same pairs."""
    if student.sparse != teacher.sparse or (
        student.sparse and not torch.equal(student.label_heads, teacher.label_heads)
    ):
        raise ValueError(
            "the student's and the teacher's relation scores are given at different pairs "
            "(label_heads): build both at the teacher's heads"
        )


def relation_mass_excluded(weights: torch.Tensor, scores: ParserScores) -> torch.Tensor:
    """`[batch, n+1]`: per dependent, the part of the arc weights `weights [batch, n+1, n+1]`
    (the teacher's head probabilities or arc marginals, 0 at invalid arcs) on heads whose
    relations are not compared. The relation term left out is at most
    `Σ_d excluded[d] · max_{(d,h)} KL(d, h)` (each per-arc KL weighted by at most its mass)."""
    return weights.sum(-1) - scores.at_label_pairs(weights).sum(-1)








def label_kl(
    student_labels: torch.Tensor, teacher_labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """`[batch, n+1, n+1]` KL(softmax(l_t[d, h] / T) ‖ softmax(l_s[d, h] / T)) for every pair."""
    log_q = (teacher_labels / temperature).log_softmax(-1)
    log_p = (student_labels / temperature).log_softmax(-1)
    return kl_divergence(log_q, log_p)








# ---------------------------------------------------------------------------------------
# the objectives


ARC_SCORES = ("raw", "centred", "log_softmax")
LABEL_SCORES = ("raw", "log_softmax")
PAIRS = ("all", "teacher_heads")
REDUCTIONS = ("sum", "mean")


@ParserDistillation.register("sub_structure")
class SubStructureParserDistillation(ParserDistillation):
    """
    Sub-structure KD (Lin et al. 2022, "Efficient Sub-structured Knowledge Distillation") for
    a first-order parser: the student matches the teacher's *scores* of arcs and of the
    relations on arcs with a squared error. No tree algorithm: fully parallel. Lin et al.'s
    code has no parser; what is matched is set by the arguments below, and the defaults are
    the setting measured best on dev data (`benchmarks/results/dep_sweep.md`): each word's head
    log-probability at the teacher's best head, `(log p_s(h*|d) - log p_t(h*|d))²`, and no
    relation term. On dev, matching raw scores of every arc, the teacher's second-best head or
    relation scores (raw or log-probabilities) made the student worse at every weight tried:
    a squared error on unnormalised or tail scores spends the student's capacity on scores no
    decoding ever uses, and the dropout noise of the student's training-time scores enters the
    error squared (`dropout_free_student` removes it, at the price of a second pass).

    Registered as a `ParserDistillation` with name "sub_structure".

    Per sentence, with `φ` the arc-score transform of `arc_scores`, `Δa = φ(a_s) - φ(a_t)`
    and `Δl = ψ(l_s) - ψ(l_t)` (relation scores, `ψ` set by `label_scores`):

        KD = Σ_d [ R_A( Δa[d, h]² : h ∈ A_d ) + R_L( Δl[d, h, r]² : h ∈ L_d, r ) ]

    where `A_d` (`arc_pairs`) and `L_d` (`label_pairs`) are the heads compared for dependent
    d: `"all"` its valid heads (ROOT or another word; padding and self-loops are never
    matched), `"teacher_heads"` the teacher's `arc_heads` / `relation_heads` best heads; and
    `R` (`reduction`) is a sum (`"sum"`) or a mean over the word's compared elements
    (`"mean"`, Lin et al.'s per-element mean squared error, taken per word since the parser
    averages its losses over words). Raw scores are compared (there is no temperature,
    `uses_temperature = False`).

    `arc_scores` transforms each dependent's scores over its valid heads before matching:
    `"raw"` (the scores themselves), `"centred"` (minus their mean over the valid heads: a
    biaffine head softmax ignores a per-dependent shift, so it is not asked to match one), or
    `"log_softmax"` (the log-probabilities of the word's head distribution).

    # Parameters

    arc_scores : `str`, optional (default = `"log_softmax"`)
        `"raw"`, `"centred"` or `"log_softmax"`.
    arc_pairs : `str`, optional (default = `"teacher_heads"`)
        `"all"` or `"teacher_heads"`.
    arc_heads : `int`, optional (default = `1`)
        With `arc_pairs: "teacher_heads"`, the number of the teacher's best heads per word
        (`null`: every head, as `"all"`).
    label_pairs : `str`, optional (default = `"none"`)
        `"all"` (every valid arc: the dense `[n+1, n+1, relations]` scores),
        `"teacher_heads"`, or `"none"` (arcs only, no relation term).
    relation_heads : `int`, optional (default = `1`)
        With `label_pairs: "teacher_heads"`, the number of the teacher's best heads per word
        whose relation scores are matched (`null`: every head, as `"all"`).
    label_scores : `str`, optional (default = `"raw"`)
        `"raw"` relation scores, or `"log_softmax"`: the log-probabilities of the relation
        distribution of each compared arc.
    reduction : `str`, optional (default = `"mean"`)
        `"sum"` or `"mean"` (see above).
    dropout_free_student : `bool`, optional (default = `False`)
        Compare the teacher's (eval-mode) scores with the student's scores from a second,
        dropout-free forward pass (with gradients) instead of the training pass's: no dropout
        noise in the squared error, at the price of a second student forward and backward.
    alpha, anneal : see `DistillationObjective`.
    """

    uses_temperature = False

    def __init__(
        self,
        arc_scores: str = "log_softmax",
        arc_pairs: str = "teacher_heads",
        arc_heads: int = 1,
        label_pairs: str = "none",
        relation_heads: int = 1,
        label_scores: str = "raw",
        reduction: str = "mean",
        dropout_free_student: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        for name, value, allowed in (
            ("arc_scores", arc_scores, ARC_SCORES),
            ("label_scores", label_scores, LABEL_SCORES),
            ("arc_pairs", arc_pairs, PAIRS),
            ("label_pairs", label_pairs, PAIRS + ("none",)),
            ("reduction", reduction, REDUCTIONS),
        ):
            if value not in allowed:
                raise ConfigurationError(
                    f"sub_structure {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
                )
        self.arc_scores = arc_scores
        self.arc_pairs = arc_pairs
        self.arc_heads = check_relation_heads(arc_heads, "sub_structure arc_heads")
        self.label_pairs = label_pairs
        k = check_relation_heads(relation_heads, "sub_structure relation_heads")
        # "none": no relation term; the model still builds the (cheapest) sparse scores
        self.relation_heads = None if label_pairs == "all" else (1 if label_pairs == "none" else k)
        self.reduction = reduction
        self.label_scores = label_scores
        self.dropout_free_student = dropout_free_student

    def check_ensemble(self) -> None:
        """The teachers' scores are averaged, which needs their relation scores at the same
        pairs: every pair (`label_pairs: "all"`) or none (`"none"`)."""
        if self.label_pairs == "teacher_heads" and self.relation_heads is not None:
            raise ConfigurationError(
                'sub_structure with label_pairs "teacher_heads" compares relation scores at '
                "each teacher's own best heads, which differ between the members of a teacher "
                'ensemble; use label_pairs "none" or "all" with an ensemble'
            )

    def mixture(self, pairs, weights):
        """Against the weighted mean of the teachers' arc (and relation) scores: a score has
        no mixture, so this is the score-space average (as for logit-averaging ensembles).
        Each member's best heads (`arc_pairs: "teacher_heads"`) come from the mean scores."""
        if len(pairs) == 1:
            return self(*pairs[0])
        student, first = pairs[0]
        teachers = [t for _, t in pairs]
        mean_arcs = sum(w * t.arcs for w, t in zip(weights, teachers))
        if self.label_pairs == "none":  # the relation scores are never compared
            mean_labels = first.labels
        else:
            mean_labels = sum(w * t.labels for w, t in zip(weights, teachers))
        return self(student, ParserScores(mean_arcs, mean_labels, first.mask, first.label_heads))

    def _transform(self, arcs: torch.Tensor, valid: torch.BoolTensor) -> torch.Tensor:
        if self.arc_scores == "log_softmax":
            return head_log_probs(arcs, valid)
        if self.arc_scores == "centred":
            zeroed = torch.where(valid, arcs, torch.zeros_like(arcs))
            count = valid.sum(-1, keepdim=True).clamp(min=1)
            return arcs - zeroed.sum(-1, keepdim=True) / count
        return arcs

    def _reduce(self, errors: torch.Tensor, chosen: torch.BoolTensor, size: int) -> torch.Tensor:
        """Per sentence: the chosen `errors [batch, n+1, m]` summed, or averaged per word over
        its chosen entries (each standing for `size` numbers)."""
        errors = torch.where(chosen, errors, torch.zeros_like(errors)).sum(-1)
        if self.reduction == "mean":
            errors = errors / (chosen.sum(-1) * size).clamp(min=1)
        return errors.sum(-1)

    def __call__(self, student, teacher):
        check_label_pairs(student, teacher)
        valid = valid_arcs(student.mask)
        if self.arc_pairs == "all" or self.arc_heads is None:
            arc_chosen = valid
        else:
            heads = teacher.top_heads(self.arc_heads)
            arc_chosen = torch.zeros_like(valid).scatter(-1, heads, True) & valid
        arc_error = (self._transform(student.arcs, valid) - self._transform(teacher.arcs, valid)).pow(2)
        arc_term = self._reduce(arc_error, arc_chosen, 1)
        if student.sparse:  # the teacher's best heads, best first
            label_chosen = student.at_label_pairs(valid)
            if self.relation_heads is not None:
                label_chosen[..., self.relation_heads:] = False
        elif self.relation_heads is None:  # label_pairs "all" (or every head)
            label_chosen = valid
        else:
            heads = teacher.top_heads(self.relation_heads)
            label_chosen = torch.zeros_like(valid).scatter(-1, heads, True) & valid
        student_labels, teacher_labels = student.labels, teacher.labels
        if self.label_scores == "log_softmax":
            student_labels, teacher_labels = student_labels.log_softmax(-1), teacher_labels.log_softmax(-1)
        if self.label_pairs == "none":
            label_chosen = torch.zeros_like(label_chosen)
        label_error = (student_labels - teacher_labels).pow(2).sum(-1)
        label_term = self._reduce(label_error, label_chosen, student.labels.size(-1))
        return arc_term + label_term


@ParserDistillation.register("local")
class LocalParserDistillation(ParserDistillation):
    """
    Local (per-word) distillation of a first-order parser: each word's distribution over
    heads and, on each arc, the distribution over relations, both at temperature T:

        KD = T² Σ_d [ KL(q(·|d) ‖ p(·|d)) + Σ_h q(h|d) KL(q_l(·|d, h) ‖ p_l(·|d, h)) ]

    with `q(h|d) = softmax_h(a_t[d, h] / T)` over the valid heads of d (ROOT and the other
    words; no self-loop) and `q_l(·|d, h) = softmax_r(l_t[d, h, r] / T)`, p the same for the
    student. By the chain rule this is exactly `T² Σ_d KL` of the teacher's and the
    student's joint (head, relation) distributions of each word, the locally normalised
    distributions the biaffine parser is trained with; the relation KL is taken at the
    teacher's arcs, weighted by the teacher's head probabilities.

    With `relation_heads = k` the relation KL is taken only at each word's k most probable
    heads under the teacher; what is left out is at most the teacher's head probability
    outside them times the largest per-arc relation KL (`relation_mass_excluded`), and it is
    exactly the dense value when the k heads carry all of it (k >= the sentence length).

    Registered as a `ParserDistillation` with name "local".

    # Parameters

    relation_heads : `int`, optional (default = `2`)
        The teacher's best heads per word at which relations are compared; `null` compares
        them at every pair (the dense `[n+1, n+1, relations]` scores of both models).
    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def __init__(self, relation_heads: Optional[int] = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.relation_heads = check_relation_heads(relation_heads, "local relation_heads")

    def __call__(self, student, teacher):
        check_label_pairs(student, teacher)
        temp = self.temperature
        valid = valid_arcs(student.mask)
        words = valid.any(-1)
        log_q = head_log_probs(teacher.arcs / temp, valid)
        log_p = head_log_probs(student.arcs / temp, valid)
        head_term = (kl_divergence(log_q, log_p) * words).sum(-1)
        weights = torch.where(valid, log_q.exp(), torch.zeros_like(log_q))
        relations = label_kl(student.labels, teacher.labels, temp)
        label_term = (student.at_label_pairs(weights) * relations).sum((1, 2))
        return (head_term + label_term) * temp ** 2


def teacher_arc_marginals(teacher: ParserScores, temperature: float, tree: str, warn: bool = True) -> torch.Tensor:
    """`[B, n+1, n+1]` the teacher's arc marginals μ_t(d, h) at temperature T, 0 at invalid arcs:
    its tree CRF's (`tree`: matrix-tree or Eisner), or, for a teacher whose arcs are the logits of
    its own head marginals (`marginal_arcs`, a second-order parser's MFVI posteriors), the per-word
    softmax of `arcs / T` — exact marginals of a second-order tree model are intractable, so that
    teacher's structural KD uses its MFVI approximation (with a warning naming what `tree` still
    means: the student's tree distribution; callers pass `warn` once)."""
    valid = valid_arcs(teacher.mask)
    if teacher.marginal_arcs:
        if warn:
            logger.warning(
                "the teacher is a second-order parser: its arc marginals are its MFVI "
                "approximation (exact second-order tree marginals are intractable), not %s "
                "tree marginals; tree=%r applies to the student's tree distribution only", tree, tree)
        marginals = head_log_probs(teacher.arcs / temperature, valid).exp()
    else:
        _, marginals = tree_distribution(teacher.arcs / temperature, teacher.mask, tree)
    return torch.where(valid, marginals, torch.zeros_like(marginals))


@ParserDistillation.register("structural")
class StructuralParserDistillation(ParserDistillation):
    """
    Structural KD (Wang et al. 2021, "Structural Knowledge Distillation") for a first-order
    parser: the exact tree-level cross-entropy between the teacher's and the student's
    tree-CRF distributions at temperature T, factorised over the student's arcs, plus the
    relation KL on the teacher's expected arcs:

        KD = T² (log Z_s^T - Σ_{d,h} μ_t(d, h) a_s[d, h] / T)
             + T² Σ_{d,h} μ_t(d, h) KL(softmax(l_t[d, h] / T) ‖ softmax(l_s[d, h] / T))

    where the first line equals `-T² Σ_y P_t^T(y) log P_s^T(y)` over all single-root trees y
    (P^T(y) ∝ exp(Σ_{(h→d) ∈ y} a[d, h] / T)), `log Z_s^T` is the student's log-partition
    function and `μ_t(d, h) = P_t^T(head(d) = h)` the teacher's arc marginals, both from
    `allennlp_subkd.structures.tree` (`matrix_tree` for `tree="nonprojective"`, `eisner` for
    `"projective"`). The relation term is the KL (the cross-entropy minus the teacher's
    relation entropy, a constant: same gradient) of the per-arc relation distributions the
    biaffine parser factorises the labelled tree into. The first line depends on the teacher only
    through μ_t, so it is the exact cross-entropy for *any* teacher distribution with those arc
    marginals: a second-order teacher (`second_order_biaffine_parser`, Wang et al.'s case 2b
    setting) gives its MFVI approximation of them (`teacher_arc_marginals`). The parser student is locally
    normalised by default; `gold_loss: "tree"` on the model trains it as the globally
    normalised tree CRF this factorisation assumes.

    With `relation_heads = k` the relation term is taken only at each word's k best heads
    under the teacher's arc scores; what is left out is at most the marginal mass outside
    them times the largest per-arc relation KL (`relation_mass_excluded`), and it is exactly
    the dense value when the k heads carry all the mass (k >= the sentence length). The arc
    (tree) term is always exact.

    Registered as a `ParserDistillation` with name "structural".

    # Parameters

    tree : `str`, optional (default = `"nonprojective"`)
        `"nonprojective"` (all trees, matrix-tree theorem) or `"projective"` (Eisner).
    relation_heads : `int`, optional (default = `2`)
        The teacher's best heads per word at which relations are compared; `null` compares
        them at every pair (the dense `[n+1, n+1, relations]` scores of both models).
    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def __init__(self, tree: str = "nonprojective", relation_heads: Optional[int] = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tree = check_tree_type(tree, "structural tree")
        self.relation_heads = check_relation_heads(relation_heads, "structural relation_heads")
        self._warned = False  # about a second-order teacher's MFVI marginals

    def __call__(self, student, teacher):
        check_label_pairs(student, teacher)
        temp = self.temperature
        mask = student.mask
        valid = valid_arcs(mask)
        with torch.no_grad():
            marginals = teacher_arc_marginals(teacher, temp, self.tree, warn=not self._warned)
            self._warned = self._warned or teacher.marginal_arcs
        log_z, _ = tree_distribution(student.arcs / temp, mask, self.tree)
        arcs = torch.where(valid, student.arcs, torch.zeros_like(student.arcs))
        expected = (marginals * arcs).sum((1, 2)) / temp
        relations = label_kl(student.labels, teacher.labels, temp)
        label_term = (student.at_label_pairs(marginals) * relations).sum((1, 2))
        return (log_z - expected + label_term) * temp ** 2
