"""Teacher ensembles, checked by enumeration: the KD target of every objective is the mixture
`Σ_i w_i P_i` of the teachers' distributions (scores averaged for sub_structure)."""
import pytest
import torch
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.objectives.scores import ParserScores, TaggerScores
from tests.distillation import test_parsing_objectives as parsing
from tests.distillation import test_tagging_objectives as tagging

WEIGHTS = [0.7, 0.2, 0.1]


def tagger_mixture_log_probs(teachers, b, temperature):
    """{y: log Σ_i w_i P_i(y)} over every label sequence of sentence b."""
    per_teacher = [tagging.log_probs(t, b, temperature) for t in teachers]
    return {
        y: torch.logsumexp(torch.stack([torch.log(torch.tensor(w, dtype=torch.float64)) + lp[y]
                                        for w, lp in zip(WEIGHTS, per_teacher)]), 0)
        for y in per_teacher[0]
    }


def teachers_of(kinds, seed):
    return [tagging.random_scores(crf, seed + i) for i, crf in enumerate(kinds)]


@pytest.mark.parametrize("student_crf", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_tagger_structural_is_the_cross_entropy_with_the_mixture(student_crf, temperature):
    teachers = teachers_of([True, False, True], 10)
    student = tagging.random_scores(student_crf, 20)
    objective = tagging.objective(type="structural", temperature=temperature)
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    for b, n in enumerate(tagging.LENGTHS):
        mix = tagger_mixture_log_probs(teachers, b, temperature)
        lp_s = tagging.log_probs(student, b, temperature)
        expected = -sum(mix[y].exp() * lp_s[y] for y in mix) * temperature ** 2
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("student_crf", [True, False])
def test_tagger_posterior_is_the_kl_of_the_mixtures_token_marginals(student_crf):
    temperature = 1.5
    teachers = teachers_of([True, True, False], 30)
    student = tagging.random_scores(student_crf, 40)
    objective = tagging.objective(type="posterior", temperature=temperature)
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    for b, n in enumerate(tagging.LENGTHS):
        mix = tagger_mixture_log_probs(teachers, b, temperature)
        q = torch.zeros(n, tagging.C, dtype=torch.float64)
        for y, log_p in mix.items():
            for t in range(n):
                q[t, y[t]] += log_p.exp()
        p = tagging.brute_marginals(student, b, temperature)
        expected = (q * (q.log() - p.log())).sum() * temperature ** 2 if n else torch.tensor(0.0)
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


def test_tagger_token_is_the_kl_of_the_mixed_emission_softmaxes():
    temperature = 2.0
    teachers = teachers_of([True, False, False], 50)
    student = tagging.random_scores(False, 60)
    objective = tagging.objective(type="token", temperature=temperature)
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    for b, n in enumerate(tagging.LENGTHS):
        expected = 0.0
        for t in range(n):
            q = sum(w * (s.emissions[b, t] / temperature).softmax(-1) for w, s in zip(WEIGHTS, teachers))
            log_p = (student.emissions[b, t] / temperature).log_softmax(-1)
            expected += (q * (q.log() - log_p)).sum().item() * temperature ** 2
        assert kd[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_tagger_sub_structure_matches_the_weighted_mean_of_the_scores():
    teachers = teachers_of([True, True, False], 70)  # the softmax teacher's transitions are 0
    student = tagging.random_scores(True, 80)
    objective = tagging.objective(type="sub_structure", variant="bigram", reduction="sum")
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    # the reference, written out: every potential averaged, a softmax teacher's missing
    # transitions / start / end counting as zeros
    emissions = sum(w * t.emissions for w, t in zip(WEIGHTS, teachers))
    transitions = WEIGHTS[0] * teachers[0].transitions + WEIGHTS[1] * teachers[1].transitions
    start = WEIGHTS[0] * teachers[0].start + WEIGHTS[1] * teachers[1].start
    end = WEIGHTS[0] * teachers[0].end + WEIGHTS[1] * teachers[1].end
    mean = TaggerScores(emissions, transitions, start, end, tagging.mask())
    assert torch.allclose(kd, objective(student, mean))
    # and by the definition: the squared errors of the bigram scores against the mean teacher
    for b, n in enumerate(tagging.LENGTHS):
        expected = 0.0
        for t in range(n):
            for j in range(tagging.C):
                de = float(student.emissions[b, t, j] - emissions[b, t, j])
                if t == 0:
                    expected += (float(student.start[j] - start[j]) + de) ** 2
                else:
                    expected += sum((de + float(student.transitions[i, j] - transitions[i, j])) ** 2
                                    for i in range(tagging.C))
        if n:
            expected += float(((student.end - end) ** 2).sum())
        assert kd[b].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_one_teacher_is_exactly_the_objective_itself():
    teacher, student = tagging.random_scores(True, 1), tagging.random_scores(True, 2)
    for name in ("structural", "posterior", "token", "sub_structure", "top_k"):
        objective = tagging.objective(type=name)
        assert torch.equal(objective.mixture([(student, teacher)], [1.0]),
                           objective(student, teacher))


def test_identical_teachers_give_the_single_teachers_term():
    teacher, student = tagging.random_scores(True, 3), tagging.random_scores(True, 4)
    for name in ("structural", "posterior", "token", "sub_structure"):
        objective = tagging.objective(type=name)
        mixed = objective.mixture([(student, teacher)] * 3, WEIGHTS)
        assert torch.allclose(mixed, objective(student, teacher))


def test_ensemble_gradients_reach_the_student_only():
    teachers = teachers_of([True, True], 90)
    student = tagging.random_scores(True, 95)
    objective = tagging.objective(type="posterior")
    objective.mixture([(student, t) for t in teachers], [0.5, 0.5]).sum().backward()
    assert student.emissions.grad is not None and torch.isfinite(student.emissions.grad).all()
    assert all(t.emissions.grad is None for t in teachers)


def test_top_k_has_no_ensemble_target():
    with pytest.raises(ConfigurationError, match="no teacher-ensemble target"):
        tagging.objective(type="top_k").check_ensemble()


# --------------------------------------------------------------------------- parsers


def tree_mixture_log_probs(teachers, b, projective, temperature):
    per_teacher = [parsing.tree_log_probs(t.arcs, b, projective, temperature) for t in teachers]
    return per_teacher, {
        y: torch.logsumexp(torch.stack([torch.log(torch.tensor(w, dtype=torch.float64)) + lp[y]
                                        for w, lp in zip(WEIGHTS, per_teacher)]), 0)
        for y in per_teacher[0]
    }


@pytest.mark.parametrize("tree", ["nonprojective", "projective"])
def test_parser_structural_is_the_tree_cross_entropy_with_the_mixture(tree):
    """The arc term is `-Σ_y P_mix(y) log P_s(y)` over all trees; the relation term each
    teacher's relation KL on its own trees, weighted: the labelled-tree cross-entropy with the
    mixture, minus a constant of the teachers (their relation entropies)."""
    temperature = 1.5
    teachers = [parsing.random_scores(seed) for seed in (10, 11, 12)]
    student = parsing.random_scores(13)
    objective = parsing.objective(type="structural", tree=tree, temperature=temperature, relation_heads=None)
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    projective = tree == "projective"
    for b, n in enumerate(parsing.LENGTHS):
        if n == 0:
            assert kd[b] == 0
            continue
        per_teacher, mix = tree_mixture_log_probs(teachers, b, projective, temperature)
        log_ps = parsing.tree_log_probs(student.arcs, b, projective, temperature)
        tree_ce = -sum(mix[y].exp() * log_ps[y] for y in mix)
        label_part = sum(
            w * sum(lp[y].exp() * sum(parsing.relation_kl(student, t, b, d, h, temperature)
                                      for d, h in enumerate(y, start=1)) for y in lp)
            for w, t, lp in zip(WEIGHTS, teachers, per_teacher)
        )
        expected = temperature ** 2 * (tree_ce + label_part)
        assert kd[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


def test_parser_local_has_the_gradient_of_the_kl_to_the_mixture():
    """Per word, KL(Σ_i w_i q_i(h, r) ‖ p(h, r)) of the joint (head, relation) distributions:
    the mixture term differs from it by a constant of the teachers, so the gradients agree."""
    teachers = [parsing.random_scores(seed) for seed in (20, 21, 22)]
    student = parsing.random_scores(23)
    arcs = student.arcs.clone().requires_grad_()
    labels = student.labels.clone().requires_grad_()
    student = ParserScores(arcs, labels, student.mask)
    objective = parsing.objective(type="local", relation_heads=None)
    objective.mixture([(student, t) for t in teachers], WEIGHTS).sum().backward()

    arcs_ref = arcs.detach().clone().requires_grad_()
    labels_ref = labels.detach().clone().requires_grad_()
    total = 0.0
    for b, heads in ((b, parsing.heads_of(b)) for b in range(len(parsing.LENGTHS))):
        for d, candidates in heads.items():
            index = torch.tensor(candidates)

            def joint(scores_arcs, scores_labels):
                head = scores_arcs[b, d, index].log_softmax(-1)
                return (head.unsqueeze(-1) + scores_labels[b, d, index].log_softmax(-1)).reshape(-1)

            q = sum(w * joint(t.arcs, t.labels).exp() for w, t in zip(WEIGHTS, teachers))
            total = total + (q * (q.log() - joint(arcs_ref, labels_ref))).sum()
    total.backward()
    assert torch.allclose(arcs.grad, arcs_ref.grad, atol=1e-10)
    assert torch.allclose(labels.grad, labels_ref.grad, atol=1e-10)


def test_parser_sub_structure_matches_the_mean_scores_and_refuses_per_teacher_relation_heads():
    teachers = [parsing.random_scores(seed) for seed in (30, 31, 32)]
    student = parsing.random_scores(33)
    objective = parsing.objective(type="sub_structure", label_pairs="all", arc_pairs="all")
    kd = objective.mixture([(student, t) for t in teachers], WEIGHTS)
    mean = ParserScores(sum(w * t.arcs for w, t in zip(WEIGHTS, teachers)),
                        sum(w * t.labels for w, t in zip(WEIGHTS, teachers)), student.mask)
    assert torch.allclose(kd, objective(student, mean))
    objective.check_ensemble()  # every pair: fine
    parsing.objective(type="sub_structure").check_ensemble()  # no relation term: fine
    with pytest.raises(ConfigurationError, match="teacher ensemble"):
        parsing.objective(type="sub_structure", label_pairs="teacher_heads").check_ensemble()
