"""A `ConditionalRandomField` that decodes the whole batch at once."""
from typing import List, Optional, Union

import torch
from allennlp.modules.conditional_random_field.conditional_random_field import (
    VITERBI_DECODING,
    ConditionalRandomField,
)

from allennlp_subkd.structures import linear_chain

#: the score AllenNLP gives forbidden transitions (not -inf: the stock decoder's value)
FORBIDDEN = -10000.0


class BatchedViterbiConditionalRandomField(ConditionalRandomField):
    """
    AllenNLP's `ConditionalRandomField` with the same parameters, buffers, likelihood and
    results, whose `viterbi_tags` runs our batched k-best Viterbi
    (`allennlp_subkd.structures.linear_chain.kbest_viterbi`: one tensor recursion over time
    for the whole batch) instead of the stock loop over sentences. Constraints
    (`constrain_crf_decoding`) are applied exactly as the stock decoder does: a forbidden
    transition, start or end label scores -10000.

    The distilled CRF tagger swaps its `crf` to this class after `CrfTagger.__init__` built it
    (`use_batched_viterbi`), so its state-dict keys, and hence archives, are unchanged.

    Differences from the stock decoder: the mask must be left-aligned (AllenNLP's text-field
    masks are); when a sentence has fewer than `top_k` labellings (`labels ** length <
    top_k`) the surplus entries are all-0 paths with score `-inf` where the stock decoder
    repeats paths through forbidden (-10000) sentinel states; ties between equal-scoring paths
    may be broken differently.
    """

    def viterbi_tags(
        self, logits: torch.Tensor, mask: torch.BoolTensor = None, top_k: Optional[int] = None
    ) -> Union[List[VITERBI_DECODING], List[List[VITERBI_DECODING]]]:
        """As `ConditionalRandomField.viterbi_tags`: for each sentence, a list of `top_k`
        `(tags, score)` pairs, or with `top_k=None` one `(tags, score)` pair."""
        if mask is None:
            mask = torch.ones(*logits.shape[:2], dtype=torch.bool, device=logits.device)
        k = 1 if top_k is None else top_k
        num_tags = logits.size(-1)
        start_tag, end_tag = num_tags, num_tags + 1
        allowed = self._constraint_mask.detach()

        def constrain(scores: Optional[torch.Tensor], allowed_part: torch.Tensor) -> torch.Tensor:
            base = 0.0 if scores is None else scores.detach() * allowed_part
            return base + FORBIDDEN * (1 - allowed_part)

        transitions = constrain(self.transitions, allowed[:num_tags, :num_tags])
        with_ends = self.include_start_end_transitions
        start = constrain(self.start_transitions if with_ends else None, allowed[start_tag, :num_tags])
        end = constrain(self.end_transitions if with_ends else None, allowed[:num_tags, end_tag])
        with torch.no_grad():
            paths, scores = linear_chain.kbest_viterbi(
                logits.detach(), transitions, mask, k, start, end
            )
        lengths = mask.sum(-1).tolist()
        paths_list, scores_list = paths.tolist(), scores.tolist()
        best = [
            [(paths_list[b][r][: lengths[b]], scores_list[b][r]) for r in range(k)]
            for b in range(len(lengths))
        ]
        if top_k is None:
            return [sentence[0] for sentence in best]
        return best
