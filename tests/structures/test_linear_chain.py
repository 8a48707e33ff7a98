"""Tests of allennlp_subkd.structures.linear_chain against brute-force enumeration."""
import itertools

import pytest
import torch

from allennlp_subkd.structures.linear_chain import (
    kbest_viterbi,
    log_partition,
    marginals,
    sequence_score,
    viterbi,
)

C = 3
T = 4


def _random_case(seed, with_boundaries, batch_size=3, seq_len=T, num_tags=C, lengths=None):
    gen = torch.Generator().manual_seed(seed)
    em = torch.randn(batch_size, seq_len, num_tags, generator=gen, dtype=torch.float64)
    trans = torch.randn(num_tags, num_tags, generator=gen, dtype=torch.float64)
    if lengths is None:
        lengths = [seq_len, 1] + [
            int(torch.randint(1, seq_len + 1, (1,), generator=gen)) for _ in range(batch_size - 2)
        ]
    mask = torch.arange(seq_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    # Garbage at padding positions must be ignored.
    em = em.masked_fill(~mask.unsqueeze(-1), 1e3)
    if with_boundaries:
        start = torch.randn(num_tags, generator=gen, dtype=torch.float64)
        end = torch.randn(num_tags, generator=gen, dtype=torch.float64)
    else:
        start = end = None
    return em, trans, mask, start, end


def _score_one(em, trans, seq, start, end):
    """Score of one label sequence (python loop, independent of the module)."""
    s = em[0, seq[0]].clone()
    if start is not None:
        s = s + start[seq[0]]
    for t in range(1, len(seq)):
        s = s + trans[seq[t - 1], seq[t]] + em[t, seq[t]]
    if end is not None:
        s = s + end[seq[-1]]
    return s


def _enumerate(em, trans, mask, start, end):
    """Per sentence: (list of sequences, tensor of their scores)."""
    out = []
    for b in range(em.size(0)):
        n = int(mask[b].sum())
        seqs = list(itertools.product(range(em.size(-1)), repeat=n))
        scores = torch.stack([_score_one(em[b], trans, s, start, end) for s in seqs])
        out.append((seqs, scores))
    return out


def _brute_marginals(em, trans, mask, start, end):
    B, L, K = em.shape
    log_z = torch.zeros(B, dtype=em.dtype)
    unary = torch.zeros(B, L, K, dtype=em.dtype)
    pair = torch.zeros(B, max(L - 1, 0), K, K, dtype=em.dtype)
    for b, (seqs, scores) in enumerate(_enumerate(em, trans, mask, start, end)):
        log_z[b] = torch.logsumexp(scores, 0)
        probs = (scores - log_z[b]).exp()
        for seq, p in zip(seqs, probs):
            for t, y in enumerate(seq):
                unary[b, t, y] += p
                if t > 0:
                    pair[b, t - 1, seq[t - 1], y] += p
    return log_z, unary, pair


@pytest.mark.parametrize("with_boundaries", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_log_partition_and_marginals_match_enumeration(seed, with_boundaries):
    em, trans, mask, start, end = _random_case(seed, with_boundaries)
    ref_log_z, ref_unary, ref_pair = _brute_marginals(em, trans, mask, start, end)

    log_z, unary, pair = marginals(em, trans, mask, start, end)
    assert unary.shape == (3, T, C) and pair.shape == (3, T - 1, C, C)
    torch.testing.assert_close(log_z, ref_log_z)
    torch.testing.assert_close(unary, ref_unary)
    torch.testing.assert_close(pair, ref_pair)
    # Zeros at padding (enumeration leaves them 0 too, but be explicit).
    assert (unary[~mask] == 0).all()
    pair_valid = mask[:, 1:] & mask[:, :-1]
    assert (pair[~pair_valid] == 0).all()

    torch.testing.assert_close(log_partition(em, trans, mask, start, end), ref_log_z)
    # Integer masks are accepted.
    torch.testing.assert_close(log_partition(em, trans, mask.long(), start, end), ref_log_z)
    torch.testing.assert_close(marginals(em, trans, mask.to(torch.uint8), start, end)[1], ref_unary)

    with torch.no_grad():
        nz, nu, npair = marginals(em, trans, mask, start, end)
    torch.testing.assert_close(nz, ref_log_z)
    torch.testing.assert_close(nu, ref_unary)
    torch.testing.assert_close(npair, ref_pair)


def test_single_token_sentences():
    em, trans, mask, start, end = _random_case(3, True, batch_size=2, seq_len=1, lengths=[1, 1])
    ref_log_z, ref_unary, _ = _brute_marginals(em, trans, mask, start, end)
    log_z, unary, pair = marginals(em, trans, mask, start, end)
    assert pair.shape == (2, 0, C, C)
    torch.testing.assert_close(log_z, ref_log_z)
    torch.testing.assert_close(unary, ref_unary)
    paths, scores = kbest_viterbi(em, trans, mask, 5, start, end)
    assert paths.shape == (2, 5, 1)
    assert torch.isinf(scores[:, C:]).all() and (scores[:, C:] < 0).all()


@pytest.mark.parametrize("with_boundaries", [False, True])
def test_sequence_score_matches_enumeration(with_boundaries):
    em, trans, mask, start, end = _random_case(4, with_boundaries)
    gen = torch.Generator().manual_seed(5)
    tags = torch.randint(0, C, (3, 2, T), generator=gen)
    tags = tags.masked_fill(~mask.unsqueeze(1), -7)  # arbitrary values at padding
    expected = torch.stack(
        [
            torch.stack(
                [
                    _score_one(em[b], trans, tags[b, j, : int(mask[b].sum())].tolist(), start, end)
                    for j in range(2)
                ]
            )
            for b in range(3)
        ]
    )
    torch.testing.assert_close(sequence_score(em, trans, tags, mask, start, end), expected)
    torch.testing.assert_close(
        sequence_score(em, trans, tags[:, 1], mask, start, end), expected[:, 1]
    )


@pytest.mark.parametrize("with_boundaries", [False, True])
@pytest.mark.parametrize("k", [1, 4, 12])
def test_kbest_viterbi_matches_enumeration(k, with_boundaries):
    # Sentence lengths 4, 1, 2: the length-1 sentence has 3 < k sequences for k > 3,
    # the length-2 one 9 < 12.
    em, trans, mask, start, end = _random_case(6, with_boundaries, lengths=[4, 1, 2])
    paths, scores = kbest_viterbi(em, trans, mask, k, start, end)
    assert paths.shape == (3, k, T) and paths.dtype == torch.long
    assert scores.shape == (3, k)
    for b, (seqs, ref_scores) in enumerate(_enumerate(em, trans, mask, start, end)):
        n = int(mask[b].sum())
        top, idx = ref_scores.sort(descending=True)
        m = min(k, len(seqs))
        torch.testing.assert_close(scores[b, :m], top[:m])
        assert torch.isneginf(scores[b, m:]).all()
        assert (paths[b, m:] == 0).all()
        assert (paths[b, :, n:] == 0).all()
        for r in range(m):
            # Random float64 scores: no ties, so the sequences are identical.
            assert tuple(paths[b, r, :n].tolist()) == seqs[int(idx[r])]
        # Scores are consistent with sequence_score of the returned paths.
        torch.testing.assert_close(
            sequence_score(em[b : b + 1], trans, paths[b : b + 1, :m], mask[b : b + 1], start, end)[0],
            top[:m],
        )


@pytest.mark.parametrize("with_boundaries", [False, True])
def test_viterbi_matches_enumeration(with_boundaries):
    em, trans, mask, start, end = _random_case(7, with_boundaries)
    path, score = viterbi(em, trans, mask, start, end)
    assert path.shape == (3, T) and score.shape == (3,)
    for b, (seqs, ref_scores) in enumerate(_enumerate(em, trans, mask, start, end)):
        n = int(mask[b].sum())
        best = int(ref_scores.argmax())
        torch.testing.assert_close(score[b], ref_scores[best])
        assert tuple(path[b, :n].tolist()) == seqs[best]
        assert (path[b, n:] == 0).all()


def test_gradcheck():
    em, trans, mask, start, end = _random_case(8, True, batch_size=2, seq_len=3, lengths=[3, 2])
    inputs = tuple(x.clone().requires_grad_() for x in (em, trans, start, end))

    def f_log_z(e, tr, s, en):
        return log_partition(e, tr, mask, s, en)

    def f_marg(e, tr, s, en):
        log_z, unary, pair = marginals(e, tr, mask, s, en)
        return log_z, unary, pair

    assert torch.autograd.gradcheck(f_log_z, inputs)
    assert torch.autograd.gradcheck(f_marg, inputs)


def test_grad_log_z_is_unary_marginal():
    em, trans, mask, start, end = _random_case(9, True)
    em = em.clone().requires_grad_()
    trans = trans.clone().requires_grad_()
    _, ref_unary, ref_pair = _brute_marginals(em.detach(), trans.detach(), mask, start, end)
    log_z, _, _ = marginals(em, trans, mask, start, end)
    g_em, g_trans = torch.autograd.grad(log_z.sum(), (em, trans))
    torch.testing.assert_close(g_em, ref_unary)
    torch.testing.assert_close(g_trans, ref_pair.sum((0, 1)))


def test_float32_stability_large_scores():
    gen = torch.Generator().manual_seed(10)
    B, L, K = 2, 200, 9
    em = (torch.randn(B, L, K, generator=gen) * 1e4).requires_grad_()
    trans = (torch.randn(K, K, generator=gen) * 1e4).requires_grad_()
    start = (torch.randn(K, generator=gen) * 1e4).requires_grad_()
    end = (torch.randn(K, generator=gen) * 1e4).requires_grad_()
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[1, 150:] = False
    log_z, unary, pair = marginals(em, trans, mask, start, end)
    for x in (log_z, unary, pair):
        assert torch.isfinite(x).all()
    sums = unary.sum(-1)
    torch.testing.assert_close(sums[mask], torch.ones_like(sums[mask]), atol=1e-3, rtol=0)
    psums = pair.sum((-1, -2))
    pvalid = mask[:, 1:]
    torch.testing.assert_close(psums[pvalid], torch.ones_like(psums[pvalid]), atol=1e-3, rtol=0)
    # Near-deterministic distribution: log Z is (relatively) the Viterbi score.
    _, vscore = viterbi(em.detach(), trans.detach(), mask, start.detach(), end.detach())
    assert torch.allclose(log_z.detach(), vscore, rtol=1e-5)

    loss = log_z.sum() + (unary * torch.randn(B, L, K, generator=gen)).sum() + pair.sum()
    grads = torch.autograd.grad(loss, (em, trans, start, end))
    for g in grads:
        assert torch.isfinite(g).all()
    assert torch.isfinite(log_partition(em, trans, mask, start, end)).all()


def test_empty_rows():
    em, trans, mask, start, end = _random_case(11, True, lengths=[4, 0, 2])
    em = em.clone().requires_grad_()
    trans = trans.clone().requires_grad_()
    start = start.clone().requires_grad_()
    end = end.clone().requires_grad_()
    log_z, unary, pair = marginals(em, trans, mask, start, end)
    assert log_z[1] == 0
    assert (unary[1] == 0).all() and (pair[1] == 0).all()
    assert log_partition(em, trans, mask, start, end)[1] == 0
    loss = log_z.sum() + (unary * 1.7).sum() + (pair * 0.3).sum()
    grads = torch.autograd.grad(loss, (em, trans, start, end))
    for g in grads:
        assert torch.isfinite(g).all()
    assert (grads[0][1] == 0).all()

    # Other rows are unchanged vs. computing them alone (and match enumeration).
    keep = torch.tensor([0, 2])
    alone = marginals(em[keep], trans, mask[keep], start, end)
    for full, sub in zip((log_z, unary, pair), alone):
        torch.testing.assert_close(full[keep], sub)
    ref_log_z, _, _ = _brute_marginals(
        em[keep].detach(), trans.detach(), mask[keep], start.detach(), end.detach()
    )
    torch.testing.assert_close(log_z[keep], ref_log_z)

    # Decoding / scoring an empty sentence: the single empty labelling, score 0.
    paths, scores = kbest_viterbi(em, trans, mask, 3, start, end)
    assert scores[1, 0] == 0 and torch.isneginf(scores[1, 1:]).all()
    assert (paths[1] == 0).all()
    tags = torch.zeros(3, T, dtype=torch.long)
    assert sequence_score(em, trans, tags, mask, start, end)[1] == 0


def test_non_finite_emissions_at_padding_are_ignored():
    em, trans, mask, start, end = _random_case(12, True, lengths=[4, 0, 2])
    ref = marginals(em, trans, mask, start, end)
    ref_paths, ref_scores = kbest_viterbi(em, trans, mask, 2, start, end)
    bad = em.clone()
    bad[1, 0] = float("nan")
    bad[1, 1] = float("-inf")
    bad[2, 2:] = float("inf")
    bad.requires_grad_()
    out = marginals(bad, trans, mask, start, end)
    for x, y in zip(out, ref):
        torch.testing.assert_close(x, y)
    (grad,) = torch.autograd.grad(out[0].sum() + out[1].sum() + out[2].sum(), bad)
    assert torch.isfinite(grad).all()
    assert (grad[~mask] == 0).all()
    torch.testing.assert_close(log_partition(bad, trans, mask, start, end), ref[0])
    paths, scores = kbest_viterbi(bad.detach(), trans, mask, 2, start, end)
    assert torch.equal(paths, ref_paths)
    torch.testing.assert_close(scores, ref_scores)
    tags = torch.zeros(3, T, dtype=torch.long)
    torch.testing.assert_close(
        sequence_score(bad, trans, tags, mask, start, end),
        sequence_score(em, trans, tags, mask, start, end),
    )
