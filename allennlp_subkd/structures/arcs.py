"""
Arc-factored helpers of first-order dependency parsing, in pure PyTorch (no AllenNLP): which
arcs a tree can use, per-word head distributions, the tree distribution of arc scores and the
tree-CRF likelihood of gold trees. Used by the parser's own (gold) loss and by the KD
objectives alike.

Layout as in `allennlp_subkd.structures.tree`: `arcs[b, d, h]` is the score of head h ->
dependent d, index 0 is ROOT, `mask[b, i]` marks ROOT and the words (left-aligned).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from allennlp_subkd.structures.tree import NEG, eisner, matrix_tree

__all__ = [
    "TREES", "valid_arcs", "best_heads", "head_log_probs", "kl_divergence", "tree_distribution",
    "gold_tree_problems", "gold_tree_nll", "single_root_greedy_heads",
]

#: the tree distributions a parser objective (and the tree-CRF gold loss) can use
TREES = {"nonprojective": matrix_tree, "projective": eisner}


def best_heads(arcs: torch.Tensor, mask: torch.Tensor, k: int) -> torch.LongTensor:
    """`[batch, n+1, min(k, n+1)]`: the k highest-scoring valid heads of every dependent under
    the arc scores `arcs`, best first (the k most probable heads of its per-word head
    distribution at any temperature). Rows with fewer than k valid heads fill the remaining
    slots with invalid heads, which `valid_arcs` masks."""
    valid = valid_arcs(mask)
    k = min(k, arcs.size(-1))
    return arcs.masked_fill(~valid, NEG).topk(k, -1).indices


def single_root_greedy_heads(arcs: torch.Tensor, mask: torch.Tensor) -> torch.LongTensor:
    """
    `[batch, n+1]`: the best head of every word such that exactly one word per sentence takes
    ROOT (cycles allowed): `argmax Σ_d arcs[b, d, h_d]` over such head assignments, exactly (each
    word its best non-ROOT head, except the one word that loses least by taking ROOT). 0 at
    ROOT, at padding and for a sentence without words.

    The single-root tree CRF (`gold_tree_nll`, structural KD) gives every tree exactly one ROOT
    arc, so adding a constant to a sentence's ROOT column changes no tree's probability: the
    training never pins that column, and a per-word greedy argmax over it can put every word on
    ROOT. This decoding is invariant to that constant. Heads are real words or ROOT, never
    padding or the word itself (`valid_arcs`).
    """
    valid = valid_arcs(mask)
    scores = arcs.masked_fill(~valid, NEG)
    words = valid.any(-1)  # [batch, n+1]: the real words
    best, heads = scores[:, :, 1:].max(-1)  # each word's best word as head
    heads = heads + 1
    # what taking ROOT costs a word: its ROOT score over its best word head's (a one-word
    # sentence's word, the only candidate, has no word head and takes ROOT)
    gain = (scores[:, :, 0] - best).masked_fill(~words, float("-inf"))
    rooted = gain.argmax(-1)  # [batch]
    heads = heads.masked_fill(~words, 0)
    has_words = words.any(-1)
    heads[torch.arange(heads.size(0), device=heads.device)[has_words], rooted[has_words]] = 0
    return heads


def valid_arcs(mask: torch.Tensor) -> torch.BoolTensor:
    """`[batch, n+1, n+1]` True for the arcs h -> d a tree can use: d a real word, h ROOT or a
    real word, h != d. `mask [batch, n+1]` marks ROOT and the words (left-aligned)."""
    mask = mask.bool()
    words = mask.clone()
    words[:, 0] = False
    heads = mask.clone()
    heads[:, 0] = True
    length = mask.size(1)
    not_self = ~torch.eye(length, dtype=torch.bool, device=mask.device)
    return words.unsqueeze(2) & heads.unsqueeze(1) & not_self


def head_log_probs(arcs: torch.Tensor, valid: torch.BoolTensor) -> torch.Tensor:
    """`log softmax_h arcs[b, d, h]` over the valid heads of each word (a large negative
    number at invalid heads; rows without a valid head are meaningless and must be masked)."""
    return arcs.masked_fill(~valid, NEG).log_softmax(-1)


def kl_divergence(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """`Σ_last q (log q - log p)` with `q = exp(log_q)`; `0 · log 0 = 0`."""
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def tree_distribution(
    arcs: torch.Tensor, mask: torch.Tensor, tree: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """`(log Z [batch], arc marginals [batch, n+1, n+1])` of the single-root tree CRF with arc
    scores `arcs` over all trees (`"nonprojective"`, matrix-tree theorem) or the projective
    ones (`"projective"`, Eisner). `log Z` is differentiable; the marginals are constants."""
    return TREES[tree](arcs, mask.bool(), False)


def gold_tree_problems(
    heads: torch.LongTensor, mask: torch.Tensor, tree: str
) -> List[Tuple[int, str]]:
    """
    `(sentence index, reason)` for every gold tree the single-root tree CRF gives probability
    zero: a head outside the sentence, a self-loop, not exactly one word on ROOT, a cycle
    (not a tree), or, for `tree="projective"`, crossing arcs. `heads [batch, n]` are the
    words' gold heads (0 = ROOT, 1-based words), `mask [batch, n+1]` ROOT and the words.
    """
    mask = mask.bool()
    words = mask[:, 1:]
    batch_size, n = heads.shape
    lengths = words.sum(-1)
    position = torch.arange(1, n + 1, device=heads.device).unsqueeze(0)
    heads = heads.masked_fill(~words, 0)
    problems: Dict[int, str] = {}

    def note(bad: torch.Tensor, reason: str) -> None:
        for i in bad.nonzero().flatten().tolist():
            problems.setdefault(i, reason)

    note(((heads < 0) | (heads > lengths.unsqueeze(-1))).any(-1), "a head outside the sentence")
    note((heads == position).any(-1), "a word that is its own head")
    roots = ((heads == 0) & words).sum(-1)
    note((roots != 1) & (lengths > 0), "not exactly one word attached to ROOT")
    # a tree reaches ROOT (0) from every word within n steps: pointer jumping, each round
    # doubling the number of steps (ancestor[i] = the 2^k-th ancestor of i, ROOT absorbing)
    safe = heads.clamp(0, n)
    ancestor = torch.cat([heads.new_zeros(batch_size, 1), safe], 1)
    for _ in range(max(1, n).bit_length()):
        ancestor = ancestor.gather(1, ancestor)
    note(((ancestor[:, 1:] != 0) & words).any(-1), "a cycle (the heads do not form a tree)")
    if tree == "projective":
        left = torch.minimum(safe, position)
        right = torch.maximum(safe, position)
        pair = words.unsqueeze(2) & words.unsqueeze(1)
        crossing = (
            (left.unsqueeze(2) < left.unsqueeze(1))
            & (left.unsqueeze(1) < right.unsqueeze(2))
            & (right.unsqueeze(2) < right.unsqueeze(1))
            & pair
        )
        note(crossing.flatten(1).any(-1), "crossing arcs (a non-projective tree)")
    return sorted(problems.items())


def gold_tree_nll(
    arcs: torch.Tensor,
    mask: torch.Tensor,
    heads: torch.LongTensor,
    tree: str,
    sentences: Optional[Sequence[Sequence[str]]] = None,
) -> torch.Tensor:
    """
    The tree-CRF negative log-likelihood of the gold trees, per sentence `[batch]`:
    `log Z_tree - Σ_d arcs[d, head_d]`. `heads [batch, n]` are the gold heads of the words.
    A gold tree outside the CRF's support (see `gold_tree_problems`; e.g. a non-projective
    tree with `tree="projective"`) raises a `ValueError` naming the sentence, since its
    likelihood is zero and the loss would be meaningless.
    """
    problems = gold_tree_problems(heads, mask, tree)
    if problems:
        index, reason = problems[0]
        words = ""
        if sentences is not None:
            shown = list(sentences[index])
            words = f" ({' '.join(shown[:30])}{' ...' if len(shown) > 30 else ''})"
        hint = ' Use tree: "nonprojective" for treebanks with non-projective trees.' if tree == "projective" else ""
        raise ValueError(
            f"the gold tree of sentence {index} of the batch{words} has {reason}: the "
            f"{tree} single-root tree CRF gives it probability zero, so gold_loss \"tree\" "
            f"cannot be computed ({len(problems)} such sentence(s) in this batch).{hint}"
        )
    words = mask.bool()[:, 1:]
    log_z, _ = tree_distribution(arcs, mask, tree)
    gold = arcs[:, 1:, :].gather(-1, heads.masked_fill(~words, 0).unsqueeze(-1)).squeeze(-1)
    return log_z - torch.where(words, gold, torch.zeros_like(gold)).sum(-1)
