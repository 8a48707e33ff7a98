"""
A bounded, least-recently-used cache of a frozen teacher's per-sentence outputs.

A frozen teacher in `eval()` mode is a deterministic function of the sentence, so its
outputs can be computed once per distinct sentence and reused in every later epoch: after
the first epoch, KD costs no teacher forward pass at all. Entries are keyed on the teacher
archive's content digest and on everything the teacher reads (the words, and e.g. the POS
tags), so two teachers never share an entry and a changed archive never serves stale
outputs. Keys depend only on the sentence, never on batch composition or order, so the cache
is correct under shuffling, bucketing and multi-process data loading (the loaders' worker
processes only read data; the cache lives with the model).

Entries are stored on the CPU (bounded host memory instead of accelerator memory) in
`float32` (exact) or `float16` (half the memory; scores are rounded to 11 significant
bits, which the tests bound).
"""
import hashlib
import logging
from collections import OrderedDict
from typing import Collection, Hashable, List, Optional, Sequence, Tuple

import torch
from allennlp.common.checks import ConfigurationError

logger = logging.getLogger(__name__)

#: how the caches (memory and disk) may store floating-point outputs, by config name
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def stored_tensors(tensors: Sequence[torch.Tensor], dtype: torch.dtype,
                   exact: Collection[int] = ()) -> List[torch.Tensor]:
    """The tensors as the caches (memory and disk) keep them: detached CPU copies, floating point
    in `dtype` except those at the positions `exact` (float32); other tensors as they are."""
    copies = []
    for i, tensor in enumerate(tensors):
        tensor = tensor.detach().to("cpu")
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float32 if i in exact else dtype)
        copies.append(tensor.clone())
    return copies


def disk_bound(max_mb: float) -> int:
    """`teacher.cache.dir_mb` in bytes, or a `ConfigurationError` (the disk stores' bound)."""
    if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or max_mb <= 0:
        raise ConfigurationError(f"teacher.cache.dir_mb must be a number > 0, got {max_mb!r}")
    return int(max_mb * (1 << 20))


def storage_dtype(name: str) -> torch.dtype:
    """The torch dtype of a `teacher.cache.dtype` name, or a `ConfigurationError`."""
    if name not in STORAGE_DTYPES:
        raise ConfigurationError(f'teacher.cache.dtype must be "float32" or "float16", got {name!r}')
    return STORAGE_DTYPES[name]


def archive_digest(path: str) -> str:
    """SHA-256 of the archive file's bytes (or of the path itself when it is no local file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as archive:
            for block in iter(lambda: archive.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        digest.update(str(path).encode())
    return digest.hexdigest()


class TeacherCache:
    """
    # Parameters

    max_mb : `float`
        Upper bound of the stored tensors' bytes, in MiB; least recently used entries are
        evicted beyond it. `0` disables the cache.
    dtype : `str`, optional (default = `"float32"`)
        `"float32"` or `"float16"` storage of floating-point tensors.
    """

    def __init__(self, max_mb: float, dtype: str = "float32") -> None:
        if not isinstance(max_mb, (int, float)) or max_mb < 0:
            raise ConfigurationError(f"teacher.cache.memory_mb must be a number >= 0, got {max_mb!r}")
        self.dtype = storage_dtype(dtype)
        self.max_bytes = int(max_mb * (1 << 20))
        self._entries: "OrderedDict[Hashable, Tuple[torch.Tensor, ...]]" = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Optional[Tuple[torch.Tensor, ...]]:
        """The stored tensors (as stored: CPU, cache dtype), or `None`."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def peek(self, key: Hashable) -> Optional[Tuple[torch.Tensor, ...]]:
        """The stored tensors or `None`, without counting a hit or a miss or reordering."""
        return self._entries.get(key)

    def put(self, key: Hashable, tensors: Sequence[torch.Tensor], exact: Collection[int] = ()) -> None:
        """Store detached CPU copies (the tensors at the positions `exact` in float32 whatever
        the cache dtype); an entry larger than the whole bound is not stored."""
        if not self.enabled:
            return
        stored = tuple(stored_tensors(tensors, self.dtype, exact))
        size = sum(t.numel() * t.element_size() for t in stored)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= sum(t.numel() * t.element_size() for t in old)
        self._entries[key] = stored
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= sum(t.numel() * t.element_size() for t in evicted)
            self.evictions += 1

    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        self._entries.clear()
        self.bytes = 0

