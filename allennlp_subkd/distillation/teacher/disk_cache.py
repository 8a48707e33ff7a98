"""
A persistent, on-disk store of a frozen teacher's per-sentence outputs, one file per sentence:
`teacher.cache.store: "files"`, the store of earlier releases, kept for this release (the
default is one SQLite database per teacher, `sqlite_store.TeacherSqliteStore`, which stores the
same `encode` bytes under the same `key_hash`). The entry format, its checks and the helpers both
stores use live here.

The in-memory `TeacherCache` lives as long as one training process. `TeacherDiskCache` keeps
the same per-sentence entries in a directory, so a teacher runs once per sentence across
runs, seeds, objectives and processes (distributed workers each read and write the same
directory; the `fill-teacher-cache` command fills it ahead of training).

Layout: `<directory>/<archive digest[:16]>/<key hash[:2]>/<key hash>.skd`, one file per
sentence, the key hash a SHA-256 of the archive digest and the sentence key (the words, and
for a parser the POS tags). A file holds

    b"SKDC" | header length (4 bytes, little endian) | JSON header | raw tensor bytes | SHA-256

the header naming the archive digest, the key and each tensor's dtype and shape, the
trailing SHA-256 covering everything before it. An entry is written to a temporary file in
the same directory and renamed into place (`os.replace` is atomic), so a killed run never
leaves a partial entry under a real name, and two processes writing the same entry each
rename a complete file. On reading, a wrong magic, length or checksum (a truncated or corrupt
file), or a header whose digest or key differ from what was asked (a file from another
teacher, or a hash collision) is treated as a miss: the file is removed, the teacher
recomputes the entry, and one warning is logged.

The directory is bounded: beyond `max_mb` of entry bytes, the least recently used entries
(by modification time, refreshed on every read) of this process's view are deleted.
Size: about 1 KiB a sentence for a 9-label NER tagger in float32 (15 tokens a sentence:
540 bytes of scores, plus header and checksum), i.e. about 10 MB per 10k sentences of entry
bytes (file-system blocks round each file up, typically to 4 KiB). `float16` halves the
scores.

A directory that cannot be created or written turns the disk cache off with one warning;
training goes on with the in-memory cache.
"""
import hashlib
import json
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Collection, Dict, Hashable, List, Optional, Sequence, Tuple

import numpy
import torch

from allennlp_subkd.distillation.teacher.cache import disk_bound, storage_dtype, stored_tensors

logger = logging.getLogger(__name__)

MAGIC = b"SKDC"
SUFFIX = ".skd"
_NUMPY = {torch.float32: "<f4", torch.float16: "<f2", torch.int64: "<i8", torch.int32: "<i4",
          torch.bool: "|b1", torch.uint8: "|u1"}


def _jsonable(key: Hashable):
    """The key as JSON values (tuples become lists), for the header and the hash."""
    if isinstance(key, (tuple, list)):
        return [_jsonable(k) for k in key]
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    raise TypeError(f"a disk-cache key must be made of tuples, strings and numbers, got {type(key)}")


def encode(digest: str, key: Hashable, tensors: Sequence[torch.Tensor]) -> bytes:
    """The bytes of one entry (see the module docstring)."""
    arrays = []
    specs = []
    for tensor in tensors:
        tensor = tensor.detach().to("cpu").contiguous()
        if tensor.dtype not in _NUMPY:
            raise TypeError(f"cannot store a {tensor.dtype} tensor in the teacher's disk cache")
        array = tensor.numpy().astype(_NUMPY[tensor.dtype], copy=False)
        specs.append({"dtype": str(tensor.dtype).replace("torch.", ""), "shape": list(tensor.shape)})
        arrays.append(array.tobytes())
    header = json.dumps({"digest": digest, "key": _jsonable(key), "tensors": specs},
                        ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = MAGIC + struct.pack("<I", len(header)) + header + b"".join(arrays)
    return body + hashlib.sha256(body).digest()


def decode(data: bytes, digest: str, key: Hashable) -> Optional[Tuple[torch.Tensor, ...]]:
    """The tensors of an entry, or `None` when the bytes are not a complete, uncorrupted entry
    of this digest and key."""
    if len(data) < 8 + 32 or data[:4] != MAGIC:
        return None
    body, checksum = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != checksum:
        return None
    (length,) = struct.unpack("<I", body[4:8])
    try:
        header = json.loads(body[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if header.get("digest") != digest or header.get("key") != _jsonable(key):
        return None
    offset = 8 + length
    tensors = []
    for spec in header["tensors"]:
        dtype = getattr(torch, spec["dtype"])
        count = int(numpy.prod(spec["shape"])) if spec["shape"] else 1
        size = count * torch.empty((), dtype=dtype).element_size()
        chunk = body[offset:offset + size]
        if len(chunk) != size:
            return None
        array = numpy.frombuffer(chunk, dtype=_NUMPY[dtype]).reshape(spec["shape"])
        tensors.append(torch.from_numpy(array.copy()))
        offset += size
    if offset != len(body):
        return None
    return tuple(tensors)


def writable_directory(directory: Path, log: logging.Logger) -> bool:
    """Whether `directory` exists (created if missing) and takes a new file; one warning when
    not (the caller then caches in memory only)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
        return True
    except OSError as error:
        log.warning(
            "the teacher's disk cache %s is not writable (%s: %s): teacher outputs are "
            "cached in memory only", directory, type(error).__name__, error,
        )
        return False


def key_hash(digest: str, key: Hashable) -> str:
    text = json.dumps([digest, _jsonable(key)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TeacherDiskCache:
    """
    # Parameters

    directory : `str`
        Where entries live (created if missing). Shared safely by concurrent processes.
    max_mb : `float`, optional (default = `2048`)
        Upper bound of the entry bytes under this teacher's folder, in MiB; least recently
        used entries are deleted beyond it. Must be > 0.
    dtype : `str`, optional (default = `"float32"`)
        Storage of floating-point tensors: `"float32"` (exact) or `"float16"`.
    """

    def __init__(self, directory: str, max_mb: float = 2048.0, dtype: str = "float32") -> None:
        self.max_bytes = disk_bound(max_mb)
        self.dtype = storage_dtype(dtype)
        self.directory = Path(directory)
        self.enabled = self._writable()
        self._sizes: Dict[str, Dict[Path, int]] = {}  # per digest folder: file -> bytes
        self._totals: Dict[str, int] = {}  # per digest folder: the sum of its sizes
        self.hits = self.misses = self.writes = self.corrupt = self.evictions = 0

    def _writable(self) -> bool:
        return writable_directory(self.directory, logger)

    def _path(self, digest: str, key: Hashable) -> Path:
        name = key_hash(digest, key)
        return self.directory / digest[:16] / name[:2] / (name + SUFFIX)

    def _folder_sizes(self, digest: str) -> Dict[Path, int]:
        """Entry sizes of one teacher's folder, scanned once per process."""
        if digest not in self._sizes:
            sizes: Dict[Path, int] = {}
            root = self.directory / digest[:16]
            if root.is_dir():
                for path in root.glob(f"*/*{SUFFIX}"):
                    try:
                        sizes[path] = path.stat().st_size
                    except OSError:
                        pass
            self._sizes[digest] = sizes
            self._totals[digest] = sum(sizes.values())
        return self._sizes[digest]

    def get(self, digest: str, key: Hashable) -> Optional[Tuple[torch.Tensor, ...]]:
        """The stored tensors or `None` (missing, truncated, corrupt or another teacher's)."""
        if not self.enabled:
            return None
        path = self._path(digest, key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        tensors = decode(data, digest, key)
        if tensors is None:
            self.corrupt += 1
            if self.corrupt == 1:
                logger.warning("teacher disk cache: %s is truncated, corrupt or another teacher's "
                               "entry; it is recomputed (further cases are counted, not logged)", path)
            self._remove(digest, path)
            self.misses += 1
            return None
        try:
            os.utime(path)  # least recently used = oldest modification time
        except OSError:
            pass
        self.hits += 1
        return tensors

    def put(self, digest: str, key: Hashable, tensors: Sequence[torch.Tensor], exact: Collection[int] = ()) -> None:
        """Write one entry atomically (temporary file + rename); errors only warn. Floating-point
        tensors are stored in the cache dtype, those at the positions `exact` in float32."""
        if not self.enabled:
            return
        data = encode(digest, key, stored_tensors(tensors, self.dtype, exact))
        path = self._path(digest, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, path)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        except OSError as error:
            logger.warning("teacher disk cache: cannot write %s (%s); caching in memory only",
                           path, error)
            self.enabled = False
            return
        self.writes += 1
        sizes = self._folder_sizes(digest)
        self._totals[digest] += len(data) - sizes.get(path, 0)
        sizes[path] = len(data)
        if self._totals[digest] > self.max_bytes:
            self._evict(digest, sizes)

    def _remove(self, digest: str, path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass
        self._totals[digest] = self._totals.get(digest, 0) - self._folder_sizes(digest).pop(path, 0)

    def _evict(self, digest: str, sizes: Dict[Path, int]) -> None:
        """Delete the least recently used entries until the folder is within the bound."""
        def mtime(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        for path in sorted(sizes, key=mtime):
            if self._totals[digest] <= self.max_bytes * 0.9:  # leave room: not an eviction per write
                break
            self._remove(digest, path)
            self.evictions += 1

    def stats(self) -> str:
        return (f"{self.hits} hits, {self.misses} misses, {self.writes} writes, "
                f"{self.corrupt} corrupt, {self.evictions} evictions")

    def flush(self) -> None:
        """Nothing to do: every read and write is on disk already (the SQLite store batches
        its last-used times)."""

    def close(self) -> None:
        """Nothing to do: no file stays open."""


def entry_files(directory: str) -> List[Path]:
    """Every entry file under a cache directory (for reports and tests)."""
    return sorted(Path(directory).glob(f"*/*/*{SUFFIX}"))
