"""A `torch.nn.Bilinear` whose forward pass is one matrix product and one batched product."""
import contextlib
from typing import Dict, Iterator, Optional

import torch

#: elements of one chunk of the projected second input (16 M floats = 64 MB)
_CHUNK_ELEMENTS = 1 << 24


class FastBilinear(torch.nn.Bilinear):
    """
    `torch.nn.Bilinear` with the same parameters (`weight [out, in1, in2]`, `bias [out]`),
    state-dict keys and results,

        y[..., r] = Σ_ij x1[..., i] W[r, i, j] x2[..., j] + b[r],

    computed as one matrix product that projects `x2` for every output,
    `P = x2 @ W'` with `W'` the weight viewed as `[in2, out * in1]` (no copy), and one batched
    product of `x1` with `P`, instead of the outer products `torch.nn.Bilinear` materialises on
    the CPU (`tests/modules/test_fast_bilinear.py` checks equality; the benchmark reports the
    parser's epoch time before and after).

    `sharing_projection()` skips work a biaffine parser repeats: inside the block, calls with
    the *same* `x2` tensor object reuse its projection. `BiaffineDependencyParser` scores the
    relations of the gold heads (its loss) and of the predicted heads (greedy decoding) against
    the same dependent vectors, and a distilled parser the teacher's heads too (`bilinear_at`):
    one projection serves all. The MST decoder's relation scores of all pairs come from
    `bilinear_pairs` (the `n` head and dependent vectors, not the `n²` expanded pairs).

    The distilled biaffine parser swaps its relation scorer `tag_bilinear` (built by
    `BiaffineDependencyParser.__init__` as a `torch.nn.Bilinear`) to this class, so its
    archives and a stock `biaffine_parser`'s weights load unchanged.
    """

    _shared: Optional[Dict[str, torch.Tensor]] = None

    @contextlib.contextmanager
    def sharing_projection(self) -> Iterator[None]:
        """Inside the block, the projection of an `input2` tensor is computed once and reused
        by every call with that same tensor object (see the class docstring); nothing is kept
        after the block."""
        self._shared = {}
        try:
            yield
        finally:
            self._shared = None

    def project(self, input2: torch.Tensor) -> torch.Tensor:
        """`[rows, out, in1]`: `P[m, r, i] = Σ_j W[r, i, j] input2[m, j]` over the rows of
        `input2 [..., in2]` (shared inside `sharing_projection`)."""
        shared = self._shared
        if shared is not None and shared.get("input") is input2:
            return shared["projected"]
        out_features, in1, in2 = self.weight.shape
        projected = input2.reshape(-1, in2) @ self.weight.reshape(out_features * in1, in2).t()
        projected = projected.view(-1, out_features, in1)
        if shared is not None:
            shared.update(input=input2, projected=projected)
        return projected

    def forward(self, input1: torch.Tensor, input2: torch.Tensor) -> torch.Tensor:
        """`input1 [..., in1]`, `input2 [..., in2]` (same leading shape) -> `[..., out]`."""
        out_features, in1, in2 = self.weight.shape
        leading = input1.shape[:-1]
        rows1 = input1.reshape(-1, 1, in1)
        if self._shared is not None or rows1.size(0) * out_features * in1 <= _CHUNK_ELEMENTS:
            scores = torch.bmm(rows1, self.project(input2).transpose(1, 2))
        else:
            # the projection is [rows, out * in1]: chunk the rows so that it stays ~64 MB
            rows2 = input2.reshape(-1, in2)
            chunk = max(1, _CHUNK_ELEMENTS // (out_features * in1))
            scores = torch.cat([
                torch.bmm(rows1[i:i + chunk], self.project(rows2[i:i + chunk]).transpose(1, 2))
                for i in range(0, rows1.size(0), chunk)
            ])
        scores = scores.view(*leading, out_features)
        if self.bias is not None:
            scores = scores + self.bias
        return scores


def bilinear_pairs(
    bilinear: torch.nn.Bilinear, head: torch.Tensor, child: torch.Tensor
) -> torch.Tensor:
    """
    `[batch, n, n, out]`: `bilinear(head[b, h], child[b, d])` for every dependent d and head h
    (`head`, `child`: `[batch, n, dim]`), in two contractions without building the pairs.
    Works for any `torch.nn.Bilinear` (weights are read, not the forward).
    """
    # [batch, h, out, j] = Σ_i head[b, h, i] W[r, i, j]
    projected = torch.einsum("bhi,rij->bhrj", head, bilinear.weight)
    scores = torch.einsum("bhrj,bdj->bdhr", projected, child)
    if bilinear.bias is not None:
        scores = scores + bilinear.bias
    return scores


def bilinear_at(
    bilinear: torch.nn.Bilinear,
    head: torch.Tensor,
    child: torch.Tensor,
    heads: torch.LongTensor,
) -> torch.Tensor:
    """
    `[batch, n, k, out]`: `bilinear(head[b, heads[b, d, s]], child[b, d])`, the scores of the k
    given heads `heads [batch, n, k]` of every dependent d (`head`, `child`: `[batch, n, dim]`).
    Only these `n * k` pairs are computed: the sparse counterpart of `bilinear_pairs`
    (`bilinear_at(b, h, c, all heads) == bilinear_pairs(b, h, c)`).
    """
    batch_size, n, k = heads.shape
    dim = head.size(-1)
    index = heads.reshape(batch_size, n * k, 1).expand(-1, -1, dim)
    chosen = head.gather(1, index).view(batch_size * n, k, dim)
    out_features, in1, in2 = bilinear.weight.shape
    if isinstance(bilinear, FastBilinear):  # shared with the parser's own relation scoring
        projected = bilinear.project(child)
    else:
        # [batch * n, out, in1] = Σ_j W[r, i, j] child[b, d, j]: the dependent side once per
        # word, one matrix product (W viewed as [out * in1, in2] needs no copy)
        projected = (child.reshape(-1, in2) @ bilinear.weight.reshape(out_features * in1, in2).t())
        projected = projected.view(batch_size * n, out_features, in1)
    scores = torch.bmm(chosen, projected.transpose(1, 2)).view(batch_size, n, k, out_features)
    if bilinear.bias is not None:
        scores = scores + bilinear.bias
    return scores
