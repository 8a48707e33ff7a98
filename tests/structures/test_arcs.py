"""`allennlp_subkd.structures.arcs.single_root_greedy_heads` against enumeration."""
import itertools

import pytest
import torch

from allennlp_subkd.structures.arcs import single_root_greedy_heads


def _mask(lengths, n):
    """ROOT and the words of each sentence, left-aligned, `[batch, n+1]`."""
    return torch.tensor([[i <= length for i in range(n + 1)] for length in lengths])


def _brute_force(arcs, length):
    """The best head assignment (h_d != d, heads in 0..length) with exactly one word on ROOT."""
    best, argbest = None, None
    words = range(1, length + 1)
    for heads in itertools.product(range(length + 1), repeat=length):
        if any(h == d for d, h in zip(words, heads)) or sum(h == 0 for h in heads) != 1:
            continue
        score = sum(arcs[d, h].item() for d, h in zip(words, heads))
        if best is None or score > best:
            best, argbest = score, heads
    return best, argbest


def test_the_best_single_root_assignment_by_enumeration_with_padding():
    torch.manual_seed(0)
    lengths, n = [4, 1, 3, 0, 2], 4
    arcs = 3 * torch.randn(len(lengths), n + 1, n + 1)
    heads = single_root_greedy_heads(arcs, _mask(lengths, n))
    for b, length in enumerate(lengths):
        assert heads[b, 0] == 0 and (heads[b, length + 1:] == 0).all()  # ROOT and padding
        if not length:
            assert (heads[b] == 0).all()
            continue
        best, argbest = _brute_force(arcs[b], length)
        chosen = heads[b, 1:length + 1].tolist()
        assert sum(h == 0 for h in chosen) == 1 and all(0 <= h <= length and h != d + 1 for d, h in enumerate(chosen))
        assert sum(arcs[b, d + 1, h].item() for d, h in enumerate(chosen)) == pytest.approx(best)
        assert tuple(chosen) == argbest  # continuous scores: no ties


def test_a_constant_on_the_root_column_changes_nothing_where_a_greedy_argmax_puts_all_on_root():
    torch.manual_seed(1)
    lengths, n = [5, 3], 5
    arcs, mask = torch.randn(2, n + 1, n + 1), _mask(lengths, n)
    shifted = arcs.clone()
    shifted[:, :, 0] += torch.tensor([[40.0], [-40.0]])  # the tree CRF cannot tell these apart
    assert torch.equal(single_root_greedy_heads(arcs, mask), single_root_greedy_heads(shifted, mask))
    assert (shifted[0, 1:6].argmax(-1) == 0).all()  # what a per-word argmax does


def test_extreme_scores_and_padding_heads_are_never_chosen():
    lengths, n = [2, 4], 4
    arcs = torch.zeros(2, n + 1, n + 1)
    arcs[0, :, 3:] = 1e4  # padding of the first sentence scores highest
    arcs[1, 1, 0], arcs[1, 2:, 0] = 1e30, -1e30
    heads = single_root_greedy_heads(arcs, _mask(lengths, n))
    assert heads[0, 1:3].tolist() in ([0, 1], [2, 0]) and (heads[0, 3:] == 0).all()
    assert heads[1, 1] == 0 and (heads[1, 2:5] > 0).all()
