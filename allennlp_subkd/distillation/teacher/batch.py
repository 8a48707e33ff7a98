"""Selecting sentences (rows) out of a batch of AllenNLP tensors."""
from typing import Any, List

import torch


def select_rows(value: Any, rows: List[int], batch_size: int) -> Any:
    """`value` restricted to the sentences `rows`: batch-first tensors are indexed, nested
    dicts (`TextFieldTensors`) recursively, per-sentence lists picked; anything else (a
    scalar, a tensor of another leading size) is returned as it is."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == batch_size:
        return value.index_select(0, torch.tensor(rows, dtype=torch.long, device=value.device))
    if isinstance(value, dict):
        return {k: select_rows(v, rows, batch_size) for k, v in value.items()}
    if isinstance(value, list) and len(value) == batch_size:
        return [value[i] for i in rows]
    return value
