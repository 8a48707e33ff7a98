import functools
import itertools

import pytest
import torch

from allennlp_subkd.structures.tree import (
    _matrix_tree_direct,
    _matrix_tree_logspace,
    _prepare,
    eisner,
    matrix_tree,
)

ALGORITHMS = {"matrix_tree": matrix_tree, "eisner": eisner}


@pytest.fixture(autouse=True)
def _single_thread():
    # The tensors here are small: one thread avoids oversubscription on a
    # busy machine (intra-op parallelism makes these tests slower, not faster).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- #
# Brute force
# --------------------------------------------------------------------------- #
def _is_tree(heads):
    """heads[d - 1] is the head of word d (1-based); True iff every word reaches ROOT."""
    n = len(heads)
    for d in range(1, n + 1):
        seen = 0
        node = d
        while node != 0:
            node = heads[node - 1]
            seen += 1
            if seen > n:
                return False
    return True


def _is_projective(heads):
    arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1)]
    for (l1, r1), (l2, r2) in itertools.combinations(arcs, 2):
        if l1 < l2 < r1 < r2 or l2 < l1 < r2 < r1:
            return False
    return True


@functools.lru_cache(maxsize=None)
def _trees(n, projective, multiroot):
    out = []
    for heads in itertools.product(range(n + 1), repeat=n):
        if any(h == d for d, h in enumerate(heads, start=1)):
            continue
        if not _is_tree(heads):
            continue
        if not multiroot and sum(h == 0 for h in heads) != 1:
            continue
        if projective and not _is_projective(heads):
            continue
        out.append(heads)
    return torch.tensor(out, dtype=torch.long).view(len(out), n)


def _brute_force(scores, lengths, projective, multiroot):
    """log Z [B] and marginals [B, L, L] by enumerating all trees (float64)."""
    batch_size, length, _ = scores.shape
    log_z = torch.zeros(batch_size, dtype=torch.float64)
    marginals = torch.zeros(batch_size, length, length, dtype=torch.float64)
    for b in range(batch_size):
        n = int(lengths[b])
        if n == 0:
            continue
        trees = _trees(n, projective, multiroot)  # [T, n]
        deps = torch.arange(1, n + 1)
        tree_scores = scores[b].double()[deps.unsqueeze(0), trees].sum(-1)  # [T]
        log_z[b] = tree_scores.logsumexp(0)
        probs = (tree_scores - log_z[b]).exp()
        for t in range(trees.size(0)):
            marginals[b, deps, trees[t]] += probs[t]
    return log_z, marginals


def test_tree_counts():
    # Cayley: (n+1)^(n-1) trees rooted at ROOT, n^(n-1) with a single root
    # arc; projective ones: OEIS A006013 (1, 2, 7, 30, 143) for a single
    # root arc and A001764 (1, 3, 12, 55, 273) for several.
    sizes = range(1, 6)
    assert [len(_trees(n, False, True)) for n in sizes] == [(n + 1) ** (n - 1) for n in sizes]
    assert [len(_trees(n, False, False)) for n in sizes] == [n ** (n - 1) for n in sizes]
    assert [len(_trees(n, True, False)) for n in range(1, 6)] == [1, 2, 7, 30, 143]
    assert [len(_trees(n, True, True)) for n in range(1, 6)] == [1, 3, 12, 55, 273]


def _random_batch(lengths, seed, scale=1.0, length=None, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    length = int(lengths.max()) + 1 if length is None else length
    scores = torch.randn(len(lengths), length, length, generator=gen, dtype=dtype) * scale
    # Garbage in the ignored entries: must not leak into anything.
    mask = torch.arange(length).unsqueeze(0) <= lengths.unsqueeze(1)
    arc_ok = mask.unsqueeze(1) & mask.unsqueeze(2)
    garbage = torch.randn(scores.shape, generator=gen, dtype=dtype) * 1e3
    scores = torch.where(arc_ok, scores, garbage)
    scores[:, 0, :] = float("nan")
    scores.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return scores, mask, lengths


CASES = [
    ("matrix_tree", False, False),
    ("matrix_tree", True, False),
    ("eisner", False, True),
    ("eisner", True, True),
]


def _check_zeros(marginals, mask):
    valid = _prepare(marginals, mask)[1]
    assert (marginals[~valid] == 0).all()
    assert (marginals[:, 0] == 0).all()
    assert (marginals.diagonal(dim1=1, dim2=2) == 0).all()


@pytest.mark.parametrize("name,multiroot,projective", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_against_brute_force(name, multiroot, projective, seed):
    lengths = [3, 5, 1, 4, 2] if seed == 0 else [5, 2, 5, 3]
    scores, mask, lengths = _random_batch(lengths, seed, length=7)
    log_z, marginals = ALGORITHMS[name](scores, mask, multiroot=multiroot)
    expected_log_z, expected_marginals = _brute_force(scores, lengths, projective, multiroot)
    assert log_z.dtype == marginals.dtype == torch.float64
    assert log_z.shape == (len(lengths),) and marginals.shape == scores.shape
    torch.testing.assert_close(log_z, expected_log_z, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(marginals, expected_marginals, atol=1e-9, rtol=1e-9)
    _check_zeros(marginals, mask)


@pytest.mark.parametrize("name,multiroot,projective", CASES)
@pytest.mark.parametrize("scale", [30.0, 300.0, 1e4])
def test_peaked_scores_against_brute_force(name, multiroot, projective, scale):
    # Very peaked distributions: cancellation in the Laplacian for matrix_tree.
    scores, mask, lengths = _random_batch([5, 4, 5, 3, 5, 5], 3, scale=scale, length=6)
    # Force mutual preferences (a 2-cycle of best heads), the worst case.
    scores[:, 1, 2] = scores[:, 2, 1] = 2 * scale * 3
    log_z, marginals = ALGORITHMS[name](scores, mask, multiroot=multiroot)
    expected_log_z, expected_marginals = _brute_force(scores, lengths, projective, multiroot)
    torch.testing.assert_close(log_z, expected_log_z, atol=1e-8 * scale, rtol=1e-9)
    torch.testing.assert_close(marginals, expected_marginals, atol=1e-7, rtol=0)
    _check_zeros(marginals, mask)


@pytest.mark.parametrize("multiroot", [False, True])
def test_matrix_tree_logspace_against_brute_force(multiroot):
    # The fallback of matrix_tree, tested on its own at a normal scale.
    scores, mask, lengths = _random_batch([3, 5, 1, 0, 4, 2], 4, length=7)
    words, arc_valid, lengths_ = _prepare(scores, mask)
    s = scores.clone().requires_grad_(True)
    log_z = _matrix_tree_logspace(s, words, lengths_, multiroot)
    (marginals,) = torch.autograd.grad(log_z.sum(), s)
    expected_log_z, expected_marginals = _brute_force(scores, lengths, False, multiroot)
    torch.testing.assert_close(log_z.detach(), expected_log_z, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(marginals, expected_marginals, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("multiroot", [False, True])
def test_matrix_tree_direct_against_brute_force(multiroot):
    # The fast path of matrix_tree on its own: accepted at a normal scale, and exact.
    scores, mask, lengths = _random_batch([3, 5, 1, 0, 4, 2], 10, length=7)
    words, arc_valid, lengths_ = _prepare(scores, mask)
    log_z, marginals, ok = _matrix_tree_direct(scores, words, arc_valid, lengths_, multiroot)
    assert ok.all()
    expected_log_z, expected_marginals = _brute_force(scores, lengths, False, multiroot)
    torch.testing.assert_close(log_z, expected_log_z, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(marginals, expected_marginals, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("multiroot", [False, True])
def test_matrix_tree_direct_rejects_inaccurate_results(multiroot):
    # Whatever the fast path accepts must be accurate; peaked scores with
    # cycles of preferred heads must be (at least partly) rejected.
    rejected = 0
    for seed, scale in itertools.product(range(3), [3.0, 6.0, 10.0, 20.0, 40.0]):
        scores, mask, lengths = _random_batch([5, 5, 4, 5, 3, 5, 5, 2], seed, scale=scale, length=6)
        scores[::2, 1, 2] = scores[::2, 2, 1] = 4 * scale
        scores[1::4, 3, 5] = scores[1::4, 5, 4] = scores[1::4, 4, 3] = 4 * scale
        words, arc_valid, lengths_ = _prepare(scores, mask)
        log_z, marginals, ok = _matrix_tree_direct(scores, words, arc_valid, lengths_, multiroot)
        expected_log_z, expected_marginals = _brute_force(scores, lengths, False, multiroot)
        torch.testing.assert_close(log_z[ok], expected_log_z[ok], atol=1e-5, rtol=0)
        torch.testing.assert_close(marginals[ok], expected_marginals[ok], atol=1e-5, rtol=0)
        rejected += int((~ok).sum())
    assert rejected > 0


@pytest.mark.parametrize("name,multiroot,projective", CASES)
def test_gradient_is_marginals(name, multiroot, projective):
    scores, mask, lengths = _random_batch([4, 2, 5], 5, length=6)
    s = scores.clone().requires_grad_(True)
    log_z, marginals = ALGORITHMS[name](s, mask, multiroot=multiroot)
    assert log_z.requires_grad and not marginals.requires_grad
    weights = torch.tensor([0.5, -2.0, 1.5], dtype=torch.float64)
    (grad,) = torch.autograd.grad((log_z * weights).sum(), s)
    expected_marginals = _brute_force(scores, lengths, projective, multiroot)[1]
    expected_grad = expected_marginals * weights[:, None, None]
    torch.testing.assert_close(grad, expected_grad, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(grad, marginals * weights[:, None, None])


@pytest.mark.parametrize("name,multiroot,projective", CASES)
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_gradcheck(name, multiroot, projective, scale):
    # At scale 30, with a 2-cycle of preferred heads, matrix_tree (multi-root)
    # takes its log-space fallback for the first sentence.
    scores, mask, _ = _random_batch([3, 1, 2], 6, scale=scale, length=4)
    scores[0, 1, 2] = scores[0, 2, 1] = 3 * scale
    s = scores.clone().requires_grad_(True)
    fn = ALGORITHMS[name]
    assert torch.autograd.gradcheck(
        lambda x: fn(x, mask, multiroot=multiroot)[0], (s,), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("name,multiroot,projective", CASES)
def test_no_grad_and_dtype(name, multiroot, projective):
    scores, mask, lengths = _random_batch([4, 3], 7, dtype=torch.float32)
    with torch.no_grad():
        log_z, marginals = ALGORITHMS[name](scores, mask.long(), multiroot=multiroot)
    assert log_z.dtype == marginals.dtype == torch.float32
    expected_log_z, expected_marginals = _brute_force(scores, lengths, projective, multiroot)
    torch.testing.assert_close(log_z.double(), expected_log_z, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(marginals.double(), expected_marginals, atol=1e-5, rtol=1e-4)
    # uint8 mask, and a float32 input requiring grad inside no_grad.
    with torch.no_grad():
        log_z2, marginals2 = ALGORITHMS[name](
            scores.requires_grad_(True), mask.to(torch.uint8), multiroot=multiroot
        )
    torch.testing.assert_close(log_z2, log_z)
    torch.testing.assert_close(marginals2, marginals)


@pytest.mark.parametrize("name,multiroot,projective", CASES)
def test_empty_and_one_word_sentences(name, multiroot, projective):
    scores, mask, lengths = _random_batch([3, 0, 1, 4], 8, length=6)
    fn = ALGORITHMS[name]
    s = scores.clone().requires_grad_(True)
    log_z, marginals = fn(s, mask, multiroot=multiroot)
    (grad,) = torch.autograd.grad(log_z.sum(), s)
    assert torch.isfinite(grad).all() and (grad[1] == 0).all()
    # Only ROOT: log Z = 0 and nothing else.
    assert log_z[1].item() == 0.0
    assert (marginals[1] == 0).all()
    # One word: attached to ROOT with probability one.
    assert log_z[2].item() == pytest.approx(scores[2, 1, 0].item())
    expected_one = torch.zeros(6, 6, dtype=torch.float64)
    expected_one[1, 0] = 1.0
    torch.testing.assert_close(marginals[2], expected_one, atol=1e-12, rtol=0)
    # The other rows do not depend on their neighbours.
    for b in (0, 3):
        n = int(lengths[b]) + 1
        alone_z, alone_m = fn(scores[b : b + 1, :n, :n], mask[b : b + 1, :n], multiroot=multiroot)
        torch.testing.assert_close(log_z[b : b + 1], alone_z, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(marginals[b : b + 1, :n, :n], alone_m, atol=1e-10, rtol=1e-10)
    # A batch of only empty sentences.
    z0, m0 = fn(scores[1:2, :1, :1], mask[1:2, :1], multiroot=multiroot)
    assert z0.item() == 0.0 and (m0 == 0).all()
    _check_zeros(marginals, mask)


@pytest.mark.parametrize("name,multiroot,projective", CASES)
def test_stability_large_scores(name, multiroot, projective):
    gen = torch.Generator().manual_seed(9)
    batch_size, n = 2, 200
    scores = (torch.randn(batch_size, n + 1, n + 1, generator=gen) * 1e4).requires_grad_(True)
    lengths = torch.tensor([n, 150])
    mask = torch.arange(n + 1).unsqueeze(0) <= lengths.unsqueeze(1)
    log_z, marginals = ALGORITHMS[name](scores, mask, multiroot=multiroot)
    (grad,) = torch.autograd.grad(log_z.sum(), scores)
    assert log_z.dtype == torch.float32
    assert torch.isfinite(log_z).all() and torch.isfinite(marginals).all()
    assert torch.isfinite(grad).all()
    row_sums = marginals.sum(-1)
    expected_sums = mask.float() * (torch.arange(n + 1) > 0)
    torch.testing.assert_close(row_sums, expected_sums, atol=1e-3, rtol=0)
    assert (marginals >= 0).all() and (marginals <= 1 + 1e-3).all()
    _check_zeros(marginals, mask)
    # Peaked: log Z is (almost) the score of the best tree it picks.
    heads = marginals.argmax(-1)
    best = scores.detach().gather(2, heads.unsqueeze(-1)).squeeze(-1)[:, 1:]
    best = (best * mask[:, 1:]).double().sum(-1)
    assert ((log_z.double() - best).abs() < 1.0).all()
    if not multiroot:
        assert ((heads[:, 1:] == 0) & mask[:, 1:]).sum(-1).tolist() == [1, 1]
