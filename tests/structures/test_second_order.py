"""MFVI of the sibling model: its fixed point, its first-order limit and its distance to the
exact marginals (enumeration)."""
import pytest
import torch

from allennlp_subkd.structures import second_order
from allennlp_subkd.structures.arcs import head_log_probs, valid_arcs
from allennlp_subkd.structures.tree import matrix_tree

LENGTHS = [4, 2, 3]  # words, ROOT excluded


def _case(seed, scale=1.0, sibling_scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    size, length = len(LENGTHS), max(LENGTHS) + 1
    arcs = scale * torch.randn(size, length, length, generator=gen, dtype=torch.float64)
    siblings = sibling_scale * torch.randn(size, length, length, length, generator=gen, dtype=torch.float64)
    mask = torch.arange(length).unsqueeze(0) <= torch.tensor(LENGTHS).unsqueeze(1)
    return arcs, siblings, mask


def test_zero_sibling_scores_give_the_first_order_marginals():
    arcs, siblings, mask = _case(0)
    _, q = second_order.mean_field(arcs, torch.zeros_like(siblings), mask, iterations=3)
    valid = valid_arcs(mask)
    expected = torch.where(valid, head_log_probs(arcs, valid).exp(), torch.zeros_like(arcs))
    assert torch.allclose(q, expected)
    for b, n in enumerate(LENGTHS):  # and the exact marginals of the head-assignment model
        exact = second_order.enumerate_marginals(arcs[b], torch.zeros_like(siblings[b]), n)
        assert torch.allclose(q[b, : n + 1, : n + 1], exact[: n + 1, : n + 1])


def test_zero_sibling_scores_over_trees_are_the_matrix_tree_marginals():
    arcs, siblings, mask = _case(1)
    _, tree = matrix_tree(arcs, mask)
    for b, n in enumerate(LENGTHS):
        exact = second_order.enumerate_marginals(arcs[b], torch.zeros_like(siblings[b]), n, trees=True)
        assert torch.allclose(tree[b, : n + 1, : n + 1], exact[: n + 1, : n + 1], atol=1e-10)


def test_marginals_are_distributions_over_valid_heads():
    arcs, siblings, mask = _case(2)
    logits, q = second_order.mean_field(arcs, siblings, mask, iterations=3)
    valid = valid_arcs(mask)
    words = valid.any(-1)
    assert torch.allclose(q.sum(-1), words.double())
    assert (q[~valid] == 0).all()
    assert torch.allclose(q, torch.where(valid, head_log_probs(logits, valid).exp(), torch.zeros_like(q)))


def test_the_update_is_the_mean_field_equation_by_hand():
    arcs, siblings, mask = _case(3)
    _, q1 = second_order.mean_field(arcs, siblings, mask, iterations=1)
    b, n = 0, LENGTHS[0]
    q0 = torch.softmax(torch.where(valid_arcs(mask)[b], arcs[b], torch.tensor(float("-inf"), dtype=arcs.dtype)), -1)
    q0 = torch.nan_to_num(q0)
    for d in range(1, n + 1):
        logits = []
        for h in range(n + 1):
            if h == d:
                continue
            total = arcs[b, d, h]
            for s in range(1, n + 1):
                if s not in (d, h):
                    total = total + q0[s, h] * (siblings[b, d, h, s] + siblings[b, s, h, d])
            logits.append((h, total))
        expected = torch.stack([t for _, t in logits]).softmax(0)
        got = torch.stack([q1[b, d, h] for h, _ in logits])
        assert torch.allclose(got, expected)


def test_mfvi_is_close_to_the_exact_marginals_when_siblings_are_weak():
    arcs, siblings, mask = _case(4, scale=2.0, sibling_scale=0.1)
    _, q = second_order.mean_field(arcs, siblings, mask, iterations=3)
    for b, n in enumerate(LENGTHS):
        exact = second_order.enumerate_marginals(arcs[b], siblings[b], n)
        assert (q[b, : n + 1, : n + 1] - exact[: n + 1, : n + 1]).abs().max() < 0.02


def test_padding_and_garbage_are_ignored():
    arcs, siblings, mask = _case(5)
    _, q = second_order.mean_field(arcs, siblings, mask)
    arcs2, siblings2 = arcs.clone(), siblings.clone()
    pad = ~mask
    arcs2[pad] = 1e4
    siblings2[pad] = -1e4
    siblings2[:, :, :, 0] = 1e4  # ROOT is never a sibling
    idx = torch.arange(arcs.size(1))
    siblings2[:, idx, :, idx] = 1e4  # nor a word its own sibling
    _, q2 = second_order.mean_field(arcs2, siblings2, mask)
    assert torch.allclose(q, q2)


def test_stable_at_extreme_scores():
    arcs, siblings, mask = _case(6, scale=1e4, sibling_scale=1e3)
    logits, q = second_order.mean_field(arcs.float(), siblings.float(), mask)
    assert torch.isfinite(q).all()
    assert torch.allclose(q.sum(-1), valid_arcs(mask).any(-1).float(), atol=1e-5)


@pytest.mark.parametrize("iterations", [0, -1, 1.5])
def test_iterations_must_be_positive(iterations):
    arcs, siblings, mask = _case(0)
    with pytest.raises(ValueError, match="iterations >= 1"):
        second_order.mean_field(arcs, siblings, mask, iterations)


def test_enumeration_refuses_long_sentences():
    with pytest.raises(ValueError, match="at most 8 words"):
        second_order.enumerate_marginals(torch.zeros(10, 10), torch.zeros(10, 10, 10), 9)
