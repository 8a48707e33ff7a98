"""
KD objectives for first-order dependency parsers (`distilled_biaffine_parser`).

Every objective is registered under `ParserDistillation` (a registry of its own: the names
may repeat the tagging ones) and returns the KD term **per sentence** (`[batch]`, summed
over the sentence's words / arcs); the parser then reduces it the way it reduces its gold
loss: summed over the batch and divided by the number of words in the batch (the biaffine
parser's arc and label losses are means over words).

Teacher and student scores arrive as `ParserScores` (`arcs[b, d, h]`: head h -> dependent
d, ROOT at 0; `labels[b, d, h, r]`: relation r on that arc, relations in the student's
order; `mask[b, i]`: ROOT and the real words). The objectives only ever look at the *valid
arcs* of a sentence: d a real word, h ROOT or a real word, h != d (`valid_arcs`). A word's
head distribution is `softmax_h(arcs[d, h])` over those heads; padding, the ROOT row and
self-loops never contribute, whatever the scores there are.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.scores import ParserScores
from allennlp_subkd.structures import tree as tree_structures

#: the tree distributions a parser objective (and the tree-CRF gold loss) can use
TREES = {"nonprojective": tree_structures.matrix_tree, "projective": tree_structures.eisner}

# A large finite "log zero" for masked arcs (never -inf: no inf - inf, no NaN gradients).
_NEG = -1e30


class ParserDistillation(DistillationObjective):
    """Base class of the parsing KD objectives (see `DistillationObjective` for the mixing).

    `tree` is the tree distribution the objective is defined over (`"nonprojective"` or
    `"projective"`), or `None` when it does not use one; a parser with a tree-CRF gold loss
    uses the same tree type unless told otherwise.
    """

    tree: Optional[str] = None

    def __call__(self, student: ParserScores, teacher: ParserScores) -> torch.Tensor:
        """
        student, teacher : `ParserScores` of the same batch (the teacher's without gradients,
            relations in the student's order, the student's mask).
        Returns the KD term of each sentence, `[batch]` (0 for a sentence without words).
        """
        raise NotImplementedError


# ---------------------------------------------------------------------------------------
# shared pieces


def check_tree_type(tree: str, what: str) -> str:
    """`tree` if it names a tree distribution, else a `ConfigurationError` naming it."""
    if tree not in TREES:
        raise ConfigurationError(
            f'{what} must be "nonprojective" (matrix-tree) or "projective" (Eisner), got {tree!r}'
        )
    return tree


def valid_arcs(mask: torch.Tensor) -> torch.BoolTensor:
    """`[batch, n+1, n+1]` True for the arcs h -> d a tree can use: d a real word, h ROOT or a
    real word, h != d. `mask [batch, n+1]` marks ROOT and the words (left-aligned)."""
    mask = mask.bool()
    words = mask.clone()
    words[:, 0] = False
    heads = mask.clone()
    heads[:, 0] = True
    length = mask.size(1)
    not_self = ~torch.eye(length, dtype=torch.bool, device=mask.device)
    return words.unsqueeze(2) & heads.unsqueeze(1) & not_self


def head_log_probs(arcs: torch.Tensor, valid: torch.BoolTensor) -> torch.Tensor:
    """`log softmax_h arcs[b, d, h]` over the valid heads of each word (a large negative
    number at invalid heads; rows without a valid head are meaningless and must be masked)."""
    return arcs.masked_fill(~valid, _NEG).log_softmax(-1)


def kl_divergence(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """`Σ_last q (log q - log p)` with `q = exp(log_q)`; `0 · log 0 = 0`."""
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def label_kl(
    student_labels: torch.Tensor, teacher_labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """`[batch, n+1, n+1]` KL(softmax(l_t[d, h] / T) ‖ softmax(l_s[d, h] / T)) for every pair."""
    log_q = (teacher_labels / temperature).log_softmax(-1)
    log_p = (student_labels / temperature).log_softmax(-1)
    return kl_divergence(log_q, log_p)


def tree_distribution(
    arcs: torch.Tensor, mask: torch.Tensor, tree: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """`(log Z [batch], arc marginals [batch, n+1, n+1])` of the single-root tree CRF with arc
    scores `arcs` over all trees (`"nonprojective"`, matrix-tree theorem) or the projective
    ones (`"projective"`, Eisner). `log Z` is differentiable; the marginals are constants."""
    return TREES[tree](arcs, mask.bool(), False)


def gold_tree_problems(
    heads: torch.LongTensor, mask: torch.Tensor, tree: str
) -> List[Tuple[int, str]]:
    """
    `(sentence index, reason)` for every gold tree the single-root tree CRF gives probability
    zero: a head outside the sentence, a self-loop, not exactly one word on ROOT, a cycle
    (not a tree), or, for `tree="projective"`, crossing arcs. `heads [batch, n]` are the
    words' gold heads (0 = ROOT, 1-based words), `mask [batch, n+1]` ROOT and the words.
    """
    mask = mask.bool()
    words = mask[:, 1:]
    batch_size, n = heads.shape
    lengths = words.sum(-1)
    position = torch.arange(1, n + 1, device=heads.device).unsqueeze(0)
    heads = heads.masked_fill(~words, 0)
    problems: Dict[int, str] = {}

    def note(bad: torch.Tensor, reason: str) -> None:
        for i in bad.nonzero().flatten().tolist():
            problems.setdefault(i, reason)

    note(((heads < 0) | (heads > lengths.unsqueeze(-1))).any(-1), "a head outside the sentence")
    note((heads == position).any(-1), "a word that is its own head")
    roots = ((heads == 0) & words).sum(-1)
    note((roots != 1) & (lengths > 0), "not exactly one word attached to ROOT")
    # a tree reaches ROOT (0) from every word within n steps: pointer jumping, each round
    # doubling the number of steps (ancestor[i] = the 2^k-th ancestor of i, ROOT absorbing)
    safe = heads.clamp(0, n)
    ancestor = torch.cat([heads.new_zeros(batch_size, 1), safe], 1)
    for _ in range(max(1, n).bit_length()):
        ancestor = ancestor.gather(1, ancestor)
    note(((ancestor[:, 1:] != 0) & words).any(-1), "a cycle (the heads do not form a tree)")
    if tree == "projective":
        left = torch.minimum(safe, position)
        right = torch.maximum(safe, position)
        pair = words.unsqueeze(2) & words.unsqueeze(1)
        crossing = (
            (left.unsqueeze(2) < left.unsqueeze(1))
            & (left.unsqueeze(1) < right.unsqueeze(2))
            & (right.unsqueeze(2) < right.unsqueeze(1))
            & pair
        )
        note(crossing.flatten(1).any(-1), "crossing arcs (a non-projective tree)")
    return sorted(problems.items())


def gold_tree_nll(
    arcs: torch.Tensor,
    mask: torch.Tensor,
    heads: torch.LongTensor,
    tree: str,
    sentences: Optional[Sequence[Sequence[str]]] = None,
) -> torch.Tensor:
    """
    The tree-CRF negative log-likelihood of the gold trees, per sentence `[batch]`:
    `log Z_tree - Σ_d arcs[d, head_d]`. `heads [batch, n]` are the gold heads of the words.
    A gold tree outside the CRF's support (see `gold_tree_problems`; e.g. a non-projective
    tree with `tree="projective"`) raises a `ValueError` naming the sentence, since its
    likelihood is zero and the loss would be meaningless.
    """
    problems = gold_tree_problems(heads, mask, tree)
    if problems:
        index, reason = problems[0]
        words = ""
        if sentences is not None:
            shown = list(sentences[index])
            words = f" ({' '.join(shown[:30])}{' ...' if len(shown) > 30 else ''})"
        hint = ' Use tree: "nonprojective" for treebanks with non-projective trees.' if tree == "projective" else ""
        raise ValueError(
            f"the gold tree of sentence {index} of the batch{words} has {reason}: the "
            f"{tree} single-root tree CRF gives it probability zero, so gold_loss \"tree\" "
            f"cannot be computed ({len(problems)} such sentence(s) in this batch).{hint}"
        )
    words = mask.bool()[:, 1:]
    log_z, _ = tree_distribution(arcs, mask, tree)
    gold = arcs[:, 1:, :].gather(-1, heads.masked_fill(~words, 0).unsqueeze(-1)).squeeze(-1)
    return log_z - torch.where(words, gold, torch.zeros_like(gold)).sum(-1)


# ---------------------------------------------------------------------------------------
# the objectives


@ParserDistillation.register("sub_structure")
class SubStructureParserDistillation(ParserDistillation):
    """
    Sub-structure KD (Lin et al. 2022, "Efficient Sub-structured Knowledge Distillation") for
    a first-order parser: the student matches the teacher's *scores* of every arc and of the
    relations on arcs with a squared error. No tree algorithm, no normalisation: fully
    parallel.

    Registered as a `ParserDistillation` with name "sub_structure".

    Per sentence, with `Δa = a_s - a_t` (arc scores) and `Δl = l_s - l_t` (relation scores):

        KD = Σ_{(d, h) valid} Δa[d, h]²  +  Σ_{(d, h) ∈ P} Σ_r Δl[d, h, r]²

    where the valid arcs are d a word, h ROOT or a word, h != d (padding and self-loops are
    never matched), and the relation pairs P are chosen by `label_pairs`:

    - `"all"`: every valid arc (the biaffine label classifier scores every pair, and the
      teacher's scores on all of them are sub-structures of its output);
    - `"teacher_heads"`: only each word's highest-scoring head under the teacher's arc
      scores (the arc whose relation the teacher would predict).

    Arc and relation terms are summed with equal weight. Raw scores are compared, so there is
    no temperature (`uses_temperature = False`: a temperature other than 1 is a
    `ConfigurationError`). Lin et al. use `alpha = 0.9`.

    # Parameters

    label_pairs : `str`, optional (default = `"all"`)
        `"all"` or `"teacher_heads"`.
    alpha, anneal : see `DistillationObjective`.
    """

    uses_temperature = False

    def __init__(self, label_pairs: str = "all", **kwargs) -> None:
        super().__init__(**kwargs)
        if label_pairs not in ("all", "teacher_heads"):
            raise ConfigurationError(
                f'sub_structure label_pairs must be "all" or "teacher_heads", got {label_pairs!r}'
            )
        self.label_pairs = label_pairs

    def __call__(self, student, teacher):
        valid = valid_arcs(student.mask)
        arc_error = (student.arcs - teacher.arcs).pow(2)
        arc_term = torch.where(valid, arc_error, torch.zeros_like(arc_error)).sum((1, 2))
        if self.label_pairs == "all":
            pairs = valid
        else:
            best = teacher.arcs.masked_fill(~valid, _NEG).argmax(-1)  # [batch, n+1]
            pairs = torch.nn.functional.one_hot(best, valid.size(-1)).bool() & valid
        label_error = (student.labels - teacher.labels).pow(2).sum(-1)
        label_term = torch.where(pairs, label_error, torch.zeros_like(label_error)).sum((1, 2))
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

    Registered as a `ParserDistillation` with name "local".

    # Parameters

    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def __call__(self, student, teacher):
        temp = self.temperature
        valid = valid_arcs(student.mask)
        words = valid.any(-1)
        log_q = head_log_probs(teacher.arcs / temp, valid)
        log_p = head_log_probs(student.arcs / temp, valid)
        head_term = (kl_divergence(log_q, log_p) * words).sum(-1)
        weights = torch.where(valid, log_q.exp(), torch.zeros_like(log_q))
        relations = label_kl(student.labels, teacher.labels, temp)
        label_term = (weights * relations).sum((1, 2))
        return (head_term + label_term) * temp ** 2


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
    biaffine parser factorises the labelled tree into. The parser student is locally
    normalised by default; `gold_loss: "tree"` on the model trains it as the globally
    normalised tree CRF this factorisation assumes.

    Registered as a `ParserDistillation` with name "structural".

    # Parameters

    tree : `str`, optional (default = `"nonprojective"`)
        `"nonprojective"` (all trees, matrix-tree theorem) or `"projective"` (Eisner).
    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def __init__(self, tree: str = "nonprojective", **kwargs) -> None:
        super().__init__(**kwargs)
        self.tree = check_tree_type(tree, "structural tree")

    def __call__(self, student, teacher):
        temp = self.temperature
        mask = student.mask
        valid = valid_arcs(mask)
        with torch.no_grad():
            _, marginals = tree_distribution(teacher.arcs / temp, mask, self.tree)
            marginals = torch.where(valid, marginals, torch.zeros_like(marginals))
        log_z, _ = tree_distribution(student.arcs / temp, mask, self.tree)
        arcs = torch.where(valid, student.arcs, torch.zeros_like(student.arcs))
        expected = (marginals * arcs).sum((1, 2)) / temp
        relations = label_kl(student.labels, teacher.labels, temp)
        label_term = (marginals * relations).sum((1, 2))
        return (log_z - expected + label_term) * temp ** 2
