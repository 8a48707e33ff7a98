"""Tests of allennlp_subkd.structures.segments against enumerating every segmentation."""
import math

import pytest
import torch

from allennlp_subkd.structures import segments as seg


def _segmentations(n, max_length, num_labels):
    """Every segmentation of n tokens: a list of (start, end inclusive, label), outside tokens
    left implicit."""
    if n == 0:
        return [[]]
    found = []

    def extend(i, acc):
        if i == n:
            found.append(list(acc))
            return
        extend(i + 1, acc)  # token i outside
        for k in range(min(max_length, n - i)):
            for c in range(num_labels):
                extend(i + k + 1, acc + [(i, i + k, c)])

    extend(0, [])
    return found


def _score(spans, outside, segmentation, n):
    covered = set()
    total = spans.new_zeros(())
    for start, end, label in segmentation:
        total = total + spans[start, end - start, label]
        covered.update(range(start, end + 1))
    for t in range(n):
        if t not in covered:
            total = total + outside[t]
    return total


def _case(seed, lengths, max_length=3, num_labels=2, with_outside=True, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    size, length = len(lengths), max(lengths)
    spans = scale * torch.randn(size, length, max_length, num_labels, generator=gen, dtype=torch.float64)
    outside = scale * torch.randn(size, length, generator=gen, dtype=torch.float64) if with_outside else None
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    # garbage at padding and in spans that run past the sentence must be ignored
    spans = spans.masked_fill(~mask.view(size, length, 1, 1), 1e3)
    if outside is not None:
        outside = outside.masked_fill(~mask, -1e3)
    return spans, outside, mask


def _brute(spans, outside, mask, encoding="BIO"):
    """Per sentence: log Z, span marginals, outside marginals, tag unary and pairwise marginals."""
    size, length, max_length, num_labels = spans.shape
    names = seg.tag_names([str(c) for c in range(num_labels)], encoding)
    index = {name: i for i, name in enumerate(names)}
    results = []
    for b in range(size):
        n = int(mask[b].sum())
        out = outside[b] if outside is not None else spans.new_zeros(length)
        all_s = _segmentations(n, max_length, num_labels)
        scores = torch.stack([_score(spans[b], out, s, n) for s in all_s]) if n else spans.new_zeros(1)
        log_z = scores.logsumexp(0)
        probs = (scores - log_z).exp()
        span_m = spans.new_zeros(length, max_length, num_labels)
        out_m = spans.new_zeros(length)
        unary = spans.new_zeros(length, len(names))
        pairwise = spans.new_zeros(max(length - 1, 0), len(names), len(names))
        for p, s in zip(probs, all_s):
            covered = set()
            for start, end, label in s:
                span_m[start, end - start, label] += p
                covered.update(range(start, end + 1))
            for t in range(n):
                if t not in covered:
                    out_m[t] += p
            tags = seg.segments_to_tags([(a, e, str(c)) for a, e, c in s], n, encoding)
            for t, tag in enumerate(tags):
                unary[t, index[tag]] += p
            for t in range(1, n):
                pairwise[t - 1, index[tags[t - 1]], index[tags[t]]] += p
        best = max(range(len(all_s)), key=lambda i: float(scores[i]))
        results.append((log_z if n else spans.new_zeros(()), span_m, out_m, unary, pairwise,
                        all_s[best], float(scores[best]) if n else 0.0))
    return results


LENGTH_SETS = [[4, 1, 3], [5, 2, 5, 4], [1]]


@pytest.mark.parametrize("lengths", LENGTH_SETS)
@pytest.mark.parametrize("with_outside", [True, False])
def test_log_partition_and_span_marginals_match_enumeration(lengths, with_outside):
    spans, outside, mask = _case(len(lengths), lengths, with_outside=with_outside)
    log_z, span_m, out_m = seg.marginals(spans, mask, outside)
    assert torch.allclose(seg.log_partition(spans, mask, outside), log_z)
    for b, (z, sm, om, *_) in enumerate(_brute(spans, outside, mask)):
        assert torch.allclose(log_z[b], z)
        assert torch.allclose(span_m[b], sm, atol=1e-10)
        assert torch.allclose(out_m[b], om, atol=1e-10)


@pytest.mark.parametrize("encoding", ["BIO", "BIOUL"])
@pytest.mark.parametrize("lengths", LENGTH_SETS)
def test_tag_marginals_match_enumeration(encoding, lengths):
    spans, outside, mask = _case(7, lengths, max_length=3, num_labels=2)
    log_z, unary, pairwise = seg.tag_marginals(spans, mask, encoding, outside)
    for b, (z, _, _, u, pw, _, _) in enumerate(_brute(spans, outside, mask, encoding)):
        assert torch.allclose(log_z[b], z)
        assert torch.allclose(unary[b], u, atol=1e-10)
        assert torch.allclose(pairwise[b], pw, atol=1e-10)
    # a CRF reads them: each valid position sums to one, pairs agree with their tokens
    n = mask.sum(-1)
    for b in range(len(lengths)):
        assert torch.allclose(unary[b, : n[b]].sum(-1), torch.ones(int(n[b]), dtype=unary.dtype))
        if n[b] > 1:
            assert torch.allclose(pairwise[b, : n[b] - 1].sum(-1), unary[b, : n[b] - 1])
            assert torch.allclose(pairwise[b, : n[b] - 1].sum(-2), unary[b, 1 : n[b]])


def test_max_length_one_and_longer_than_the_sentence():
    for max_length in (1, 6):
        spans, outside, mask = _case(3, [4, 2], max_length=max_length, num_labels=3)
        log_z, unary, pairwise = seg.tag_marginals(spans, mask, "BIOUL", outside)
        for b, (z, _, _, u, pw, _, _) in enumerate(_brute(spans, outside, mask, "BIOUL")):
            assert torch.allclose(log_z[b], z)
            assert torch.allclose(unary[b], u, atol=1e-10)
            assert torch.allclose(pairwise[b], pw, atol=1e-10)


def test_span_marginals_are_the_gradient_of_log_z():
    spans, outside, mask = _case(11, [5, 3], max_length=3, num_labels=2)
    spans.requires_grad_(True)
    outside.requires_grad_(True)
    log_z = seg.log_partition(spans, mask, outside)
    grad_spans, grad_outside = torch.autograd.grad(log_z.sum(), (spans, outside))
    _, span_m, out_m = seg.marginals(spans.detach(), mask, outside.detach())
    assert torch.allclose(grad_spans, span_m, atol=1e-10)
    assert torch.allclose(grad_outside, out_m, atol=1e-10)


def test_viterbi_matches_enumeration():
    spans, outside, mask = _case(5, [5, 1, 4, 3], max_length=3, num_labels=3)
    found, best = seg.viterbi(spans, mask, outside)
    for b, (*_, segmentation, score) in enumerate(_brute(spans, outside, mask)):
        assert found[b] == segmentation
        assert math.isclose(float(best[b]), score, rel_tol=1e-9)


def test_stable_at_extreme_scores_and_long_sentences():
    gen = torch.Generator().manual_seed(0)
    spans = 1e4 * torch.randn(2, 60, 8, 4, generator=gen)
    mask = torch.arange(60).unsqueeze(0) < torch.tensor([[60], [37]])
    log_z, unary, pairwise = seg.tag_marginals(spans, mask, "BIO")
    assert torch.isfinite(log_z).all() and torch.isfinite(unary).all() and torch.isfinite(pairwise).all()
    assert torch.allclose(unary.sum(-1), mask.float(), atol=1e-4)
    # with scores this peaked the marginals are the Viterbi segmentation's tags
    found, _ = seg.viterbi(spans, mask)
    names = seg.tag_names([str(c) for c in range(4)], "BIO")
    for b in range(2):
        n = int(mask[b].sum())
        tags = seg.segments_to_tags([(a, e, str(c)) for a, e, c in found[b]], n)
        assert [names[i] for i in unary[b, :n].argmax(-1).tolist()] == tags


def test_empty_sentence_has_one_empty_segmentation():
    spans = torch.randn(2, 3, 2, 2)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    log_z, unary, pairwise = seg.tag_marginals(spans, mask)
    assert log_z[1] == 0 and unary[1].abs().sum() == 0 and pairwise[1].abs().sum() == 0
    assert seg.viterbi(spans, mask)[0][1] == []


def test_bad_input():
    with pytest.raises(ValueError, match="encoding"):
        seg.tag_marginals(torch.zeros(1, 2, 2, 1), torch.ones(1, 2, dtype=torch.bool), "IOB1")
    with pytest.raises(ValueError, match="max_length, labels"):
        seg.marginals(torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not match"):
        seg.marginals(torch.zeros(1, 2, 2, 1), torch.ones(1, 3, dtype=torch.bool))


def test_segments_to_tags():
    assert seg.segments_to_tags([(0, 1, "PER"), (3, 3, "LOC")], 5) == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert seg.segments_to_tags([(0, 2, "PER"), (3, 3, "LOC")], 4, "BIOUL") == ["B-PER", "I-PER", "L-PER", "U-LOC"]
    assert seg.tag_names(["PER"], "BIOUL") == ["O", "B-PER", "I-PER", "L-PER", "U-PER"]
