"""`FastBilinear`, `bilinear_pairs` and `bilinear_at` against `torch.nn.Bilinear`."""
import pytest
import torch

from allennlp_subkd.modules import fast_bilinear
from allennlp_subkd.modules.fast_bilinear import FastBilinear, bilinear_at, bilinear_pairs


def pair(in1=6, in2=5, out=4, bias=True, seed=0):
    torch.manual_seed(seed)
    slow = torch.nn.Bilinear(in1, in2, out, bias=bias).double()
    fast = FastBilinear(in1, in2, out, bias=bias).double()
    fast.load_state_dict(slow.state_dict())
    return slow, fast


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("leading", [(7,), (2, 3), (2, 3, 4), (0,)])
def test_forward_and_gradients_equal_nn_bilinear(bias, leading):
    slow, fast = pair(bias=bias)
    x1 = torch.randn(*leading, 6, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(*leading, 5, dtype=torch.float64, requires_grad=True)
    y_slow, y_fast = slow(x1, x2), fast(x1, x2)
    assert y_fast.shape == y_slow.shape == (*leading, 4)
    assert torch.allclose(y_fast, y_slow, atol=1e-12)
    weights = torch.randn_like(y_slow)
    grads_slow = torch.autograd.grad((y_slow * weights).sum(), [x1, x2, *slow.parameters()], allow_unused=True)
    grads_fast = torch.autograd.grad((y_fast * weights).sum(), [x1, x2, *fast.parameters()], allow_unused=True)
    for g_slow, g_fast in zip(grads_slow, grads_fast):
        assert torch.allclose(g_fast, g_slow, atol=1e-12)


def test_same_state_dict_keys_and_shapes():
    slow, fast = pair()
    assert {k: v.shape for k, v in slow.state_dict().items()} == {k: v.shape for k, v in fast.state_dict().items()}


def test_large_inputs_are_chunked_with_the_same_result(monkeypatch):
    slow, fast = pair()
    monkeypatch.setattr(fast_bilinear, "_CHUNK_ELEMENTS", 3 * 4 * 5)  # 3 rows a chunk
    x1, x2 = torch.randn(10, 6, dtype=torch.float64), torch.randn(10, 5, dtype=torch.float64)
    assert torch.allclose(fast(x1, x2), slow(x1, x2), atol=1e-12)


def test_bilinear_pairs_and_at_against_loops():
    slow, _ = pair(in1=5, in2=5)
    head, child = torch.randn(2, 4, 5, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)
    dense = bilinear_pairs(slow, head, child)
    for b in range(2):
        for d in range(4):
            for h in range(4):
                assert torch.allclose(dense[b, d, h], slow(head[b, h], child[b, d]), atol=1e-12)
    heads = torch.randint(0, 4, (2, 4, 3))
    sparse = bilinear_at(slow, head, child, heads)
    assert sparse.shape == (2, 4, 3, 4)
    assert torch.allclose(sparse, dense.gather(2, heads.unsqueeze(-1).expand(-1, -1, -1, 4)), atol=1e-12)
    every = torch.arange(4).expand(2, 4, 4)
    assert torch.allclose(bilinear_at(slow, head, child, every), dense, atol=1e-12)
