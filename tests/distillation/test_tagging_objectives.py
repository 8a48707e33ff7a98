"""The tagging KD objectives against brute-force enumeration of all label sequences."""
import itertools
import math

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.distillation.objectives.scores import TaggerScores

LENGTHS = [3, 1, 0, 2]  # with an empty and a one-token sentence, and padding
C = 3


def random_scores(crf: bool, seed: int, scale: float = 1.0) -> TaggerScores:
    g = torch.Generator().manual_seed(seed)
    B, T = len(LENGTHS), max(LENGTHS)

    def r(*shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).requires_grad_()

    if not crf:
        return TaggerScores(r(B, T, C), mask=mask())
    return TaggerScores(r(B, T, C), r(C, C), r(C), r(C), mask())


def mask() -> torch.Tensor:
    return torch.arange(max(LENGTHS)).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)


def path_score(s: TaggerScores, b: int, y) -> torch.Tensor:
    """Score of label sequence y for sentence b, straight from the definition."""
    total = s.emissions.new_zeros(())
    for t, label in enumerate(y):
        total = total + s.emissions[b, t, label]
        if s.is_crf and t > 0:
            total = total + s.transitions[y[t - 1], label]
    if s.is_crf and y:
        total = total + s.start[y[0]] + s.end[y[-1]]
    return total


def log_probs(s: TaggerScores, b: int, temperature: float = 1.0):
    """{y: log P(y)} over all sequences of sentence b at temperature T (a softmax tagger's
    distribution is the product of its per-token softmaxes = the same formula with no
    transitions)."""
    n = LENGTHS[b]
    seqs = list(itertools.product(range(C), repeat=n))
    scores = torch.stack([path_score(s, b, y) / temperature for y in seqs])
    return dict(zip(seqs, scores - torch.logsumexp(scores, 0)))


def brute_marginals(s: TaggerScores, b: int, temperature: float = 1.0):
    lp = log_probs(s, b, temperature)
    n = LENGTHS[b]
    unary = torch.zeros(n, C, dtype=torch.float64)
    for y, l in lp.items():
        for t in range(n):
            unary[t, y[t]] += l.exp()
    return unary


def objective(**params) -> TaggerDistillation:
    return TaggerDistillation.from_params(Params(params))


@pytest.mark.parametrize("teacher_crf", [True, False])
@pytest.mark.parametrize("student_crf", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_structural_is_exact_sequence_cross_entropy(teacher_crf, student_crf, temperature):
    teacher, student = random_scores(teacher_crf, 1), random_scores(student_crf, 2)
    kd = objective(type="structural", temperature=temperature)(student, teacher)
    for b, n in enumerate(LENGTHS):
        lp_t, lp_s = log_probs(teacher, b, temperature), log_probs(student, b, temperature)
        expected = -sum(lp_t[y].exp() * lp_s[y] for y in lp_t) * temperature ** 2
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("teacher_crf", [True, False])
@pytest.mark.parametrize("student_crf", [True, False])
def test_posterior_is_kl_of_token_marginals(teacher_crf, student_crf):
    temperature = 1.7
    teacher, student = random_scores(teacher_crf, 3), random_scores(student_crf, 4)
    kd = objective(type="posterior", temperature=temperature)(student, teacher)
    for b, n in enumerate(LENGTHS):
        q = brute_marginals(teacher, b, temperature)
        p = brute_marginals(student, b, temperature)
        expected = (q * (q.log() - p.log())).sum() * temperature ** 2 if n else torch.tensor(0.0)
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


def test_token_kd_is_kl_of_emission_softmaxes():
    temperature = 3.0
    teacher, student = random_scores(True, 5), random_scores(True, 6)
    kd = objective(type="token", temperature=temperature)(student, teacher)
    for b, n in enumerate(LENGTHS):
        expected = 0.0
        for t in range(n):
            q = (teacher.emissions[b, t] / temperature).softmax(-1)
            p = (student.emissions[b, t] / temperature).softmax(-1)
            expected += float((q * (q / p).log()).sum()) * temperature ** 2
        assert kd[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean", "token_mean"])
@pytest.mark.parametrize("variant", ["emission", "bigram"])
def test_sub_structure_is_squared_error_of_every_sub_structure(variant, reduction):
    teacher, student = random_scores(True, 7), random_scores(True, 8)
    kd = objective(type="sub_structure", variant=variant, reduction=reduction)(student, teacher)
    per_token = C if variant == "emission" else C * C
    # Lin et al.'s nn.MSELoss(reduction="mean"): every element of the padded batch counts
    divisor = {"sum": 1, "mean": len(LENGTHS) * max(LENGTHS) * per_token,
               "token_mean": sum(LENGTHS) * per_token}[reduction]

    def bigram_scores(s, b, n):
        """Every sub-structure score: (START, j) for t=1, (i, j) for t>1, (i, END)."""
        out = [s.start[j] + s.emissions[b, 0, j] for j in range(C)] if n else []
        for t in range(1, n):
            out += [s.emissions[b, t, j] + s.transitions[i, j] for i in range(C) for j in range(C)]
        out += [s.end[i] for i in range(C)] if n else []
        return out

    for b, n in enumerate(LENGTHS):
        if variant == "emission":
            expected = sum(
                float((student.emissions[b, t, y] - teacher.emissions[b, t, y]) ** 2)
                for t in range(n) for y in range(C)
            )
        else:
            expected = sum(
                float((x - y) ** 2) for x, y in zip(bigram_scores(student, b, n), bigram_scores(teacher, b, n))
            )
        assert kd[b].item() == pytest.approx(expected / divisor, rel=1e-9, abs=1e-12)


def test_sub_structure_mean_is_lin_et_al_mse_on_an_unpadded_batch():
    """With no padding, `reduction="mean"` summed over the batch is exactly
    `torch.nn.MSELoss(reduction="mean")` of the emissions (Lin et al.'s code)."""
    g = torch.Generator().manual_seed(3)
    full = torch.ones(2, 4, dtype=torch.bool)
    student, teacher = (TaggerScores(torch.randn(2, 4, C, generator=g, dtype=torch.float64), mask=full) for _ in range(2))
    kd = objective(type="sub_structure", reduction="mean")(student, teacher).sum()
    expected = torch.nn.MSELoss(reduction="mean")(student.emissions, teacher.emissions)
    assert kd.item() == pytest.approx(expected.item(), rel=1e-12)


def test_sub_structure_centre_ignores_per_token_offsets():
    """Centring compares each token's scores up to a constant over its labels: adding any
    per-token offset to the teacher changes nothing, and the value is the squared error of
    the centred differences."""
    teacher, student = random_scores(True, 9), random_scores(True, 10)
    centred = objective(type="sub_structure", centre=True, reduction="sum")
    kd = centred(student, teacher)
    shifted = TaggerScores(teacher.emissions + torch.randn(len(LENGTHS), max(LENGTHS), 1, dtype=torch.float64) * 50,
                           teacher.transitions, teacher.start, teacher.end, teacher.mask)
    assert torch.allclose(kd, centred(student, shifted), rtol=1e-9, atol=1e-9)
    for b, n in enumerate(LENGTHS):
        expected = 0.0
        for t in range(n):
            d = student.emissions[b, t] - teacher.emissions[b, t]
            expected += float(((d - d.mean()) ** 2).sum())
        assert kd[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("student_crf", [True, False])
@pytest.mark.parametrize("weighting", ["uniform", "teacher"])
def test_top_k_is_weighted_nll_of_teacher_k_best(student_crf, weighting):
    k, temperature = 4, 2.0
    teacher, student = random_scores(True, 9), random_scores(student_crf, 10)
    kd = objective(type="top_k", k=k, weighting=weighting, temperature=temperature)(student, teacher)
    for b, n in enumerate(LENGTHS):
        seqs = list(itertools.product(range(C), repeat=n))
        ranked = sorted(seqs, key=lambda y: -float(path_score(teacher, b, y)))[:k]
        lp_s = log_probs(student, b)
        if weighting == "uniform":
            weights = [1.0 / len(ranked)] * len(ranked)
        else:
            logits = torch.stack([path_score(teacher, b, y) / temperature for y in ranked])
            weights = logits.softmax(0).tolist()
        expected = -sum(w * float(lp_s[y]) for w, y in zip(weights, ranked))
        assert kd[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", ["structural", "posterior", "token", "top_k", "sub_structure"])
def test_gradients_flow_to_the_student_only_and_are_finite(name):
    teacher, student = random_scores(True, 11), random_scores(True, 12)
    kd = objective(type=name)(student, teacher).sum()
    kd.backward()
    assert torch.isfinite(student.emissions.grad).all()
    assert student.emissions.grad.abs().sum() > 0
    assert teacher.emissions.grad is None or not teacher.emissions.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["structural", "posterior", "token", "top_k", "sub_structure"])
def test_extreme_scores_give_finite_kd_and_gradients(name):
    teacher = random_scores(True, 13, scale=1e4)
    student = random_scores(True, 14, scale=1e4)
    f32 = lambda s: TaggerScores(*(x.detach().float().requires_grad_() for x in (s.emissions, s.transitions, s.start, s.end)), mask=s.mask)  # noqa: E731
    teacher, student = f32(teacher), f32(student)
    kd = objective(type=name)(student, teacher)
    assert torch.isfinite(kd).all()
    kd.sum().backward()
    for grad in (student.emissions.grad, student.transitions.grad, student.start.grad):
        assert grad is None or torch.isfinite(grad).all()
    assert student.emissions.grad is not None


def test_structural_kd_is_minimal_when_student_equals_teacher():
    """CE(P_t, P_s) >= H(P_t), with equality at P_s = P_t: the gradient vanishes there."""
    teacher = random_scores(True, 15)
    student = TaggerScores(*(x.detach().clone().requires_grad_() for x in (teacher.emissions, teacher.transitions, teacher.start, teacher.end)),
                           mask=teacher.mask)
    kd = objective(type="structural")(student, teacher).sum()
    kd.backward()
    assert student.emissions.grad.abs().max() < 1e-9
    assert student.transitions.grad.abs().max() < 1e-9


@pytest.mark.parametrize(
    "params, message",
    [
        ({"type": "nonsense"}, "nonsense"),
        ({"type": "structural", "alpha": 1.5}, "alpha"),
        ({"type": "structural", "alpha": -0.1}, "alpha"),
        ({"type": "structural", "temperature": 0}, "temperature"),
        ({"type": "posterior", "temperature": -1.0}, "temperature"),
        ({"type": "sub_structure", "temperature": 2.0}, "temperature"),
        ({"type": "sub_structure", "variant": "trigram"}, "trigram"),
        ({"type": "sub_structure", "reduction": "median"}, "median"),
        ({"type": "sub_structure", "variant": "bigram", "centre": True}, "centre"),
        ({"type": "top_k", "k": 0}, "k"),
        ({"type": "top_k", "weighting": "softmax"}, "softmax"),
        ({"type": "token", "anneal": -5}, "anneal"),
    ],
)
def test_bad_objective_configuration_is_a_configuration_error(params, message):
    with pytest.raises(ConfigurationError, match=message):
        objective(**params)


def test_objectives_that_need_crfs_say_so():
    softmax, crf = random_scores(False, 16), random_scores(True, 17)
    bigram = objective(type="sub_structure", variant="bigram")
    with pytest.raises(ConfigurationError, match="CRF teacher"):
        bigram.check(crf, softmax)
    with pytest.raises(ConfigurationError, match="CRF student"):
        bigram.check(softmax, crf)


def test_annealing_schedule():
    obj = objective(type="structural", alpha=0.3, anneal=25.0)
    assert [obj.alpha_at(e) for e in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    with pytest.raises(ConfigurationError, match="distillation_epoch"):
        obj.alpha_at(None)
    assert objective(type="structural", alpha=0.3).alpha_at(None) == 0.3
    assert math.isclose(objective(type="token", alpha=0.0).alpha_at(3), 0.0)
