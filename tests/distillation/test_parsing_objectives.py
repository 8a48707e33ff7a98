"""The parsing KD objectives against brute-force enumeration of all dependency trees and
direct loops over words, heads and relations."""
import functools
import itertools
import math

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.parsing import (
    ParserDistillation,
    label_kl,
    relation_mass_excluded,
)
from allennlp_subkd.structures.arcs import (
    best_heads as teacher_label_heads,
    gold_tree_nll,
    gold_tree_problems,
    head_log_probs,
    tree_distribution,
    valid_arcs,
)
from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.distillation.objectives.scores import ParserScores

LENGTHS = [5, 3, 1, 4, 0]  # words per sentence: padding, a one-word and an empty sentence
R = 3  # relations


# --------------------------------------------------------------------------- brute force


def is_tree(heads) -> bool:
    """heads[d - 1] = head of word d (0 = ROOT): every word reaches ROOT."""
    for d in range(1, len(heads) + 1):
        node, steps = d, 0
        while node != 0:
            node = heads[node - 1]
            steps += 1
            if steps > len(heads):
                return False
    return True


def is_projective(heads) -> bool:
    arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1)]
    return not any(
        l1 < l2 < r1 < r2 or l2 < l1 < r2 < r1
        for (l1, r1), (l2, r2) in itertools.combinations(arcs, 2)
    )


@functools.lru_cache(maxsize=None)
def trees(n: int, projective: bool):
    """All single-root dependency trees of n words (tuples of heads)."""
    out = []
    for heads in itertools.product(range(n + 1), repeat=n):
        if any(h == d for d, h in enumerate(heads, start=1)):
            continue
        if sum(h == 0 for h in heads) != 1 or not is_tree(heads):
            continue
        if projective and not is_projective(heads):
            continue
        out.append(heads)
    return out


def tree_log_probs(arcs: torch.Tensor, b: int, projective: bool, temperature: float):
    """{tree: log P(tree)} of sentence b at temperature T, straight from the definition."""
    n = LENGTHS[b]
    ys = trees(n, projective)
    scores = torch.stack(
        [sum(arcs[b, d, h] for d, h in enumerate(y, start=1)) / temperature for y in ys]
    )
    return dict(zip(ys, scores - torch.logsumexp(scores, 0)))


def relation_kl(student, teacher, b, d, h, temperature):
    q = (teacher.labels[b, d, h] / temperature).softmax(-1)
    log_p = (student.labels[b, d, h] / temperature).log_softmax(-1)
    return sum(q[r] * (q[r].log() - log_p[r]) for r in range(R))


def heads_of(b):
    """The heads a word of sentence b can take: ROOT and the other words."""
    n = LENGTHS[b]
    return {d: [h for h in range(n + 1) if h != d] for d in range(1, n + 1)}


# --------------------------------------------------------------------------- data


def mask() -> torch.Tensor:
    length = max(LENGTHS) + 1
    return torch.arange(length).unsqueeze(0) <= torch.tensor(LENGTHS).unsqueeze(1)


def random_scores(seed: int, scale: float = 1.0) -> ParserScores:
    """Random float64 scores; padding positions hold large garbage the objectives must ignore."""
    g = torch.Generator().manual_seed(seed)
    B, L = len(LENGTHS), max(LENGTHS) + 1
    arcs = torch.randn(B, L, L, generator=g, dtype=torch.float64) * scale
    labels = torch.randn(B, L, L, R, generator=g, dtype=torch.float64) * scale
    m = mask()
    pair = m.unsqueeze(2) & m.unsqueeze(1)
    arcs = torch.where(pair, arcs, torch.full_like(arcs, 777.0))
    labels = torch.where(pair.unsqueeze(-1), labels, torch.full_like(labels, -555.0))
    return ParserScores(arcs, labels, m)


def objective(**params) -> ParserDistillation:
    return ParserDistillation.from_params(Params(dict(params)))


# --------------------------------------------------------------------------- structural


@pytest.mark.parametrize("tree", ["nonprojective", "projective"])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structural_is_the_exact_tree_cross_entropy(tree, temperature, seed):
    student, teacher = random_scores(seed), random_scores(100 + seed)
    kd = objective(type="structural", tree=tree, temperature=temperature)(student, teacher)
    projective = tree == "projective"
    T = temperature
    for b, n in enumerate(LENGTHS):
        if n == 0:
            assert kd[b] == 0
            continue
        log_pt = tree_log_probs(teacher.arcs, b, projective, T)
        log_ps = tree_log_probs(student.arcs, b, projective, T)
        tree_ce = -sum(log_pt[y].exp() * log_ps[y] for y in log_pt)
        label_part = sum(
            log_pt[y].exp()
            * sum(relation_kl(student, teacher, b, d, h, T) for d, h in enumerate(y, start=1))
            for y in log_pt
        )
        expected = T ** 2 * (tree_ce + label_part)
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9), (b, n)


def test_projective_and_nonprojective_differ_only_where_trees_can_cross():
    student, teacher = random_scores(3), random_scores(4)
    both = [objective(type="structural", tree=t)(student, teacher) for t in ("nonprojective", "projective")]
    # sentences of up to 2 words have only projective trees
    for b, n in enumerate(LENGTHS):
        if n <= 2:
            assert both[0][b].item() == pytest.approx(both[1][b].item(), rel=1e-9, abs=1e-12)
        else:
            assert both[0][b].item() != pytest.approx(both[1][b].item(), rel=1e-6)


# --------------------------------------------------------------------------- local


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_local_against_loops(temperature):
    student, teacher = random_scores(5), random_scores(6)
    kd = objective(type="local", temperature=temperature)(student, teacher)
    T = temperature
    for b in range(len(LENGTHS)):
        total = torch.zeros((), dtype=torch.float64)
        for d, heads in heads_of(b).items():
            index = torch.tensor(heads)
            q = (teacher.arcs[b, d, index] / T).softmax(-1)
            log_p = (student.arcs[b, d, index] / T).log_softmax(-1)
            total = total + (q * (q.log() - log_p)).sum()
            for k, h in enumerate(heads):
                total = total + q[k] * relation_kl(student, teacher, b, d, h, T)
        assert kd[b].item() == pytest.approx((T ** 2 * total).item(), rel=1e-9, abs=1e-12)


def test_local_is_zero_when_the_student_copies_the_teacher_up_to_a_shift_per_word():
    teacher = random_scores(7)
    shift = torch.randn(len(LENGTHS), max(LENGTHS) + 1, 1, dtype=torch.float64)
    student = ParserScores(teacher.arcs + shift, teacher.labels + shift.unsqueeze(-1), teacher.mask)
    kd = objective(type="local", temperature=2.0)(student, teacher)
    assert torch.allclose(kd, torch.zeros_like(kd), atol=1e-10)


# --------------------------------------------------------------------------- sub_structure


def transformed(arcs, b, d, heads, how):
    """The arc scores of word d over its valid heads, as sub_structure's `arc_scores` says."""
    row = arcs[b, d, torch.tensor(heads)]
    if how == "centred":
        row = row - row.mean()
    elif how == "log_softmax":
        row = row.log_softmax(-1)
    return dict(zip(heads, row.tolist()))


def best_heads(teacher, b, d, heads, k):
    return sorted(heads, key=lambda h: -teacher.arcs[b, d, h].item())[:k]


@pytest.mark.parametrize("arc_scores", ["raw", "centred", "log_softmax"])
@pytest.mark.parametrize("arc_pairs, arc_heads", [("all", 2), ("teacher_heads", 1), ("teacher_heads", 2), ("teacher_heads", 9)])
@pytest.mark.parametrize("label_pairs, relation_heads", [("all", 1), ("teacher_heads", 1), ("teacher_heads", 2), ("none", 1)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("label_scores", ["raw", "log_softmax"])
def test_sub_structure_against_loops(arc_scores, arc_pairs, arc_heads, label_pairs, relation_heads, reduction,
                                     label_scores):
    student, teacher = random_scores(8), random_scores(9)
    kd = objective(
        type="sub_structure", arc_scores=arc_scores, arc_pairs=arc_pairs, arc_heads=arc_heads,
        label_pairs=label_pairs, relation_heads=relation_heads, reduction=reduction,
        label_scores=label_scores,
    )(student, teacher)

    def relation(scores, b, d, h):
        row = scores.labels[b, d, h]
        return row.log_softmax(-1) if label_scores == "log_softmax" else row

    for b in range(len(LENGTHS)):
        total = 0.0
        for d, heads in heads_of(b).items():
            s_arc = transformed(student.arcs, b, d, heads, arc_scores)
            t_arc = transformed(teacher.arcs, b, d, heads, arc_scores)
            arcs = heads if arc_pairs == "all" else best_heads(teacher, b, d, heads, arc_heads)
            arc_errors = [(s_arc[h] - t_arc[h]) ** 2 for h in arcs]
            pairs = heads if label_pairs == "all" else best_heads(teacher, b, d, heads, relation_heads)
            if label_pairs == "none":
                pairs = []
            label_errors = [((relation(student, b, d, h)[r] - relation(teacher, b, d, h)[r]) ** 2).item()
                            for h in pairs for r in range(R)]
            if reduction == "sum":
                total += sum(arc_errors) + sum(label_errors)
            else:
                total += sum(arc_errors) / len(arc_errors) + sum(label_errors) / max(1, len(label_errors))
        assert kd[b].item() == pytest.approx(total, rel=1e-9, abs=1e-12)


def test_sub_structure_log_softmax_and_centred_ignore_a_shift_per_word():
    teacher = random_scores(17)
    shift = torch.randn(len(LENGTHS), max(LENGTHS) + 1, 1, dtype=torch.float64)
    student = ParserScores(teacher.arcs + shift, teacher.labels, teacher.mask)
    for arc_scores in ("centred", "log_softmax"):
        kd = objective(type="sub_structure", arc_scores=arc_scores, arc_pairs="all")(student, teacher)
        assert torch.allclose(kd, torch.zeros_like(kd), atol=1e-10)
    raw = objective(type="sub_structure", arc_scores="raw", arc_pairs="all")(student, teacher)
    assert (raw[: LENGTHS.index(0)] > 0).all()


# --------------------------------------------------------------------------- sparse relation terms


def sparse(scores: ParserScores, heads: torch.LongTensor) -> ParserScores:
    """The same scores with the relation scores only at `heads [batch, n+1, k]`."""
    index = heads.unsqueeze(-1).expand(-1, -1, -1, scores.labels.size(-1))
    return ParserScores(scores.arcs, scores.labels.gather(2, index), scores.mask, heads)


SPARSE_OBJECTIVES = [
    {"type": "local", "temperature": 2.0},
    {"type": "structural", "tree": "nonprojective"},
    {"type": "structural", "tree": "projective", "temperature": 0.5},
    {"type": "sub_structure", "label_pairs": "teacher_heads", "relation_heads": 2},
]


@pytest.mark.parametrize("params", SPARSE_OBJECTIVES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_relation_terms_at_every_head_equal_the_dense_ones(params):
    student, teacher = random_scores(18), random_scores(19)
    kd_objective = objective(**params)
    if params["type"] == "sub_structure":
        params = dict(params, relation_heads=max(LENGTHS) + 1)
        kd_objective = objective(**params)
    k = max(LENGTHS) + 1  # k >= the sentence length: the k heads carry all the mass
    heads = teacher_label_heads(teacher.arcs, teacher.mask, k)
    dense = kd_objective(student, teacher)
    sparse_kd = kd_objective(sparse(student, heads), sparse(teacher, heads))
    assert torch.allclose(sparse_kd, dense, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("params", SPARSE_OBJECTIVES[:3], ids=lambda p: "-".join(str(v) for v in p.values()))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_what_the_sparse_relation_term_leaves_out_is_within_the_bound(params, k):
    """dense - sparse = Σ_d Σ_{h outside the k heads} w(d, h) KL(d, h), between 0 and
    Σ_d excluded(d) · max KL."""
    student, teacher = random_scores(20, scale=2.0), random_scores(21, scale=2.0)
    kd_objective = objective(**params)
    temp = kd_objective.temperature
    heads = teacher_label_heads(teacher.arcs, teacher.mask, k)
    dense = kd_objective(student, teacher)
    sparse_kd = kd_objective(sparse(student, heads), sparse(teacher, heads))
    valid = valid_arcs(teacher.mask)
    if params["type"] == "local":
        weights = head_log_probs(teacher.arcs / temp, valid).exp()
    else:
        _, weights = tree_distribution(teacher.arcs / temp, teacher.mask, params["tree"])
    weights = torch.where(valid, weights, torch.zeros_like(weights))
    excluded = relation_mass_excluded(weights, sparse(teacher, heads))
    kl = torch.where(valid, label_kl(student.labels, teacher.labels, temp), torch.zeros_like(weights))
    bound = excluded.sum(-1) * kl.flatten(1).max(-1).values * temp ** 2
    gap = dense - sparse_kd
    assert (gap >= -1e-12).all() and (gap <= bound + 1e-12).all()
    # and exactly the left-out arcs' weighted KL, by a loop over them
    for b in range(len(LENGTHS)):
        left_out = 0.0
        for d, valid_heads in heads_of(b).items():
            kept = set(heads[b, d].tolist())
            left_out += sum(weights[b, d, h].item() * kl[b, d, h].item() for h in valid_heads if h not in kept)
        assert gap[b].item() == pytest.approx(left_out * temp ** 2, rel=1e-9, abs=1e-12)
    if k == 1:
        assert (gap[: LENGTHS.index(1)] > 0).all()  # something is left out


def test_teacher_label_heads_are_the_best_valid_heads_best_first():
    teacher = random_scores(22)
    heads = teacher_label_heads(teacher.arcs, teacher.mask, 3)
    assert heads.shape == (len(LENGTHS), max(LENGTHS) + 1, 3)
    for b in range(len(LENGTHS)):
        for d, valid_heads in heads_of(b).items():
            expected = best_heads(teacher, b, d, valid_heads, 3)
            assert heads[b, d, : len(expected)].tolist() == expected
    # more heads than positions: cut to the sentence's padded length
    assert teacher_label_heads(teacher.arcs, teacher.mask, 100).size(-1) == max(LENGTHS) + 1


def test_student_and_teacher_relation_pairs_must_agree():
    student, teacher = random_scores(23), random_scores(24)
    heads = teacher_label_heads(teacher.arcs, teacher.mask, 2)
    with pytest.raises(ValueError, match="different pairs"):
        objective(type="local")(student, sparse(teacher, heads))
    with pytest.raises(ValueError, match="different pairs"):
        objective(type="structural")(sparse(student, heads.flip(-1)), sparse(teacher, heads))


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
@pytest.mark.parametrize("name", ["local", "structural", "sub_structure"])
def test_relation_heads_out_of_range(name, value):
    if isinstance(value, int) and not isinstance(value, bool):  # through a config
        with pytest.raises(ConfigurationError, match="relation_heads must be an integer >= 1"):
            objective(type=name, relation_heads=value)
    with pytest.raises(ConfigurationError, match="relation_heads must be an integer >= 1"):
        ParserDistillation.by_name(name)(relation_heads=value)


def test_arc_heads_out_of_range():
    with pytest.raises(ConfigurationError, match="arc_heads must be an integer >= 1"):
        objective(type="sub_structure", arc_pairs="teacher_heads", arc_heads=0)


def test_sub_structure_has_no_temperature():
    with pytest.raises(ConfigurationError, match="temperature"):
        objective(type="sub_structure", temperature=2.0)


# --------------------------------------------------------------------------- gradients, scale


@pytest.mark.parametrize(
    "params",
    [
        {"type": "sub_structure"},
        {"type": "sub_structure", "arc_scores": "raw", "arc_pairs": "all", "label_pairs": "all", "reduction": "sum"},
        {"type": "sub_structure", "arc_scores": "centred", "label_pairs": "teacher_heads"},
        {"type": "local", "temperature": 2.0},
        {"type": "structural", "tree": "nonprojective", "temperature": 2.0},
        {"type": "structural", "tree": "projective"},
    ],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
def test_gradcheck(params):
    kd_objective = objective(**params)
    # sentences 1 and 2 (3 words, 1 word), cut to 3 words: non-projective trees exist
    teacher, student = random_scores(10), random_scores(11)
    cut = slice(1, 3), slice(0, 4), slice(0, 4)
    teacher = ParserScores(teacher.arcs[cut], teacher.labels[cut], teacher.mask[1:3, :4])
    arcs = student.arcs[cut].clone().requires_grad_()
    labels = student.labels[cut].clone().requires_grad_()

    def f(arcs, labels):
        return kd_objective(ParserScores(arcs, labels, teacher.mask), teacher)

    assert torch.autograd.gradcheck(f, (arcs, labels), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "params",
    [
        {"type": "sub_structure"},
        {"type": "local"},
        {"type": "structural", "tree": "nonprojective"},
        {"type": "structural", "tree": "projective", "temperature": 0.5},
    ],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scores_that_would_overflow_exp_give_finite_kd_and_gradients(params, dtype):
    kd_objective = objective(**params)
    teacher = random_scores(12, scale=1e4)
    student = random_scores(13, scale=1e4)
    arcs = student.arcs.to(dtype).requires_grad_()
    labels = student.labels.to(dtype).requires_grad_()
    teacher = ParserScores(teacher.arcs.to(dtype), teacher.labels.to(dtype), teacher.mask)
    kd = kd_objective(ParserScores(arcs, labels, student.mask), teacher)
    assert torch.isfinite(kd).all() and (kd >= -1e-3 * kd.abs().max()).all()
    kd.sum().backward()
    assert torch.isfinite(arcs.grad).all() and torch.isfinite(labels.grad).all()


# --------------------------------------------------------------------------- the gold tree loss


@pytest.mark.parametrize("tree", ["nonprojective", "projective"])
def test_gold_tree_nll_is_minus_the_log_probability_of_the_tree(tree):
    scores = random_scores(14)
    gold = [(2, 0, 4, 2, 4), (0, 1, 1), (0,), (3, 3, 0, 3), ()]
    heads = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.long)
    for b, y in enumerate(gold):
        heads[b, : len(y)] = torch.tensor(y, dtype=torch.long)
    nll = gold_tree_nll(scores.arcs, scores.mask, heads, tree)
    for b, y in enumerate(gold):
        if not y:
            assert nll[b] == 0
            continue
        log_p = tree_log_probs(scores.arcs, b, tree == "projective", 1.0)
        assert nll[b].item() == pytest.approx(-log_p[y].item(), rel=1e-9)


@pytest.mark.parametrize("tree", ["nonprojective", "projective"])
def test_gold_tree_problems_flag_exactly_the_head_sequences_that_are_not_trees(tree):
    for n in range(1, 6):
        sequences = list(itertools.product(range(n + 1), repeat=n))
        flagged = dict(gold_tree_problems(torch.tensor(sequences), torch.ones(len(sequences), n + 1), tree))
        supported = set(trees(n, tree == "projective"))
        assert {i for i, y in enumerate(sequences) if y not in supported} == set(flagged), n


def test_gold_trees_outside_the_support_are_named():
    m = torch.tensor([[True] * 5, [True] * 5, [True] * 5, [True] * 5, [True, True, True, False, False]])
    heads = torch.tensor(
        [
            [2, 0, 2, 3],  # a projective tree
            [3, 4, 0, 1],  # non-projective: 1 -> 4 crosses 3 -> 1
            [0, 0, 2, 3],  # two roots
            [2, 1, 0, 3],  # a cycle 1 <-> 2
            [0, 2, 9, 9],  # a self-loop (padding ignored)
        ]
    )
    assert gold_tree_problems(heads, m, "nonprojective") == [
        (2, "not exactly one word attached to ROOT"),
        (3, "a cycle (the heads do not form a tree)"),
        (4, "a word that is its own head"),
    ]
    assert (1, "crossing arcs (a non-projective tree)") in gold_tree_problems(heads, m, "projective")
    arcs = torch.zeros(5, 5, 5)
    with pytest.raises(ValueError, match=r"sentence 1 .*\(a b c d\).*crossing arcs.*nonprojective"):
        gold_tree_nll(arcs[:2], m[:2], heads[:2], "projective", [["x"], ["a", "b", "c", "d"]])


# --------------------------------------------------------------------------- configuration


def test_parser_objectives_have_their_own_registry():
    assert ParserDistillation.by_name("sub_structure") is not TaggerDistillation.by_name("sub_structure")
    assert set(ParserDistillation.list_available()) >= {"sub_structure", "local", "structural"}
    assert "local" not in TaggerDistillation.list_available()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"type": "structural", "tree": "spanning"}, "spanning"),
        ({"type": "sub_structure", "label_pairs": "gold"}, "gold"),
        ({"type": "sub_structure", "arc_scores": "softmax"}, "arc_scores"),
        ({"type": "sub_structure", "arc_pairs": "best"}, "arc_pairs"),
        ({"type": "sub_structure", "reduction": "max"}, "reduction"),
        ({"type": "sub_structure", "label_scores": "centred"}, "label_scores"),
        ({"type": "local", "temperature": -1.0}, "temperature"),
        ({"type": "posterior"}, "posterior"),
    ],
)
def test_bad_configuration(params, message):
    with pytest.raises(ConfigurationError, match=message):
        objective(**params)


def test_an_empty_sentence_has_no_kd():
    scores = random_scores(15)
    for params in ({"type": "sub_structure"}, {"type": "local"}, {"type": "structural"}):
        kd = objective(**params)(random_scores(16), scores)
        assert kd[LENGTHS.index(0)] == 0 and math.isfinite(kd.sum().item())
