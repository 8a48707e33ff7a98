"""Run a model's forward on the non-empty sentences of a batch only.

AllenNLP's CRF, Viterbi decoding and the parsers' decoders all assume every sentence has at
least one token. A batch from a predictor (or a user's reader) may hold empty sentences: we
run the network on the others and give each empty one an empty prediction, with no loss
contribution, instead of a crash deep inside torch.
"""
from typing import Any, Callable, Dict, List, Tuple

import torch

from allennlp.nn import util

from allennlp_subkd.distillation.teacher.batch import select_rows


def _expand(value: Any, keep: List[int], batch_size: int) -> Any:
    n = len(keep)
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == n:
        full = value.new_zeros((batch_size,) + tuple(value.shape[1:]))
        full[torch.tensor(keep, device=value.device)] = value
        return full
    if isinstance(value, list) and len(value) == n:
        full_list: List[Any] = [[] for _ in range(batch_size)]
        for position, i in enumerate(keep):
            full_list[i] = value[position]
        return full_list
    return value


def forward_nonempty(
    forward: Callable[..., Dict[str, Any]],
    tokens: Dict[str, Dict[str, torch.Tensor]],
    parameters: torch.Tensor,
    metadata: List[Dict[str, Any]] = None,
    empty_keys: Tuple[str, ...] = (),
    **inputs: Any,
) -> Dict[str, Any]:
    """
    Call `forward(tokens=..., metadata=..., **inputs)` on the sentences with at least one
    token, then put the outputs back in batch order: batch-first tensors get zero rows and
    per-sentence lists get `[]` for the empty sentences. Scalars (the loss) come from the non-empty sentences alone.

    empty_keys : output keys that hold one list per sentence (`"tags"`), given as empty
        lists when the whole batch is empty, so `make_output_human_readable` still works.
    parameters : any parameter of the model, for a zero loss on its device that can be
        back-propagated when the whole batch is empty (and labels were given).
    """
    mask = util.get_text_field_mask(tokens)
    lengths = mask.sum(-1)
    batch_size = mask.size(0)
    keep = [i for i in range(batch_size) if lengths[i] > 0]
    if len(keep) == batch_size:
        return forward(tokens=tokens, metadata=metadata, **inputs)

    if not keep:
        output: Dict[str, Any] = {key: [[] for _ in range(batch_size)] for key in empty_keys}
        if metadata is not None:
            output["words"] = [m.get("words", []) for m in metadata]
        if any(v is not None for k, v in inputs.items() if isinstance(v, torch.Tensor)):
            output["loss"] = (parameters * 0.0).sum()
        return output
    sub_inputs = {k: select_rows(v, keep, batch_size) for k, v in inputs.items()}
    sub_metadata = select_rows(metadata, keep, batch_size)
    sub_tokens = select_rows(tokens, keep, batch_size)
    output = forward(tokens=sub_tokens, metadata=sub_metadata, **sub_inputs)
    return {k: _expand(v, keep, batch_size) for k, v in output.items()}
