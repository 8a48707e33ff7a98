"""
The `teacher` argument every distilled model takes: one `FromParams` object naming the
teacher archive (or an ensemble of archives with weights), how its inputs are built, its
caches and the adapter that reads it.

    "teacher": {
        "archive": "teacher/model.tar.gz",          // or a list: an ensemble
        "weights": null,                             // ensemble weights (default: equal)
        "reindex_inputs": null,
        "cache": {"memory_mb": 512, "dtype": "float32", "dir": "teacher_cache", "dir_mb": 2048,
                  "store": "sqlite"},
        "adapter": null,                             // default: the student's own kind
        "diagnostics": false                         // teacher-agreement metrics on validation
    }

The flat arguments of earlier releases (`teacher_archive`, `reindex_teacher_inputs`,
`teacher_cache_mb`, `teacher_cache_dtype`, `teacher_cache_dir`, `teacher_cache_dir_mb`) still
work for this release, with a `DeprecationWarning`: `teacher_from_deprecated` turns them into
this object, for configs (`rewrite_deprecated_params`) and for Python callers alike.
"""
import logging
import math
import warnings
from typing import Any, Dict, List, Optional, Union

from allennlp.common import FromParams, Params
from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.distillation.teacher.store import DEFAULT_STORE, check_store

logger = logging.getLogger(__name__)


class TeacherCacheSettings(FromParams):
    """
    The caches of a teacher's per-sentence outputs (`TeacherCache` in memory,
    `TeacherSqliteStore` or `TeacherDiskCache` on disk). Each member of an ensemble has caches of its own with these
    settings (entries are keyed on each archive's digest, so members share a directory).

    # Parameters

    memory_mb : `float`, optional (default = `512`)
        Bound of the in-memory cache in MiB (least recently used entries are evicted beyond
        it); `0` turns both caches off.
    dtype : `str`, optional (default = `"float32"`)
        `"float32"` stores the teacher's outputs exactly, `"float16"` in half the memory.
    dir : `str`, optional (default = `None`)
        A directory for the persistent on-disk store, shared by runs, seeds, objectives and
        processes (fill it ahead of training with `allennlp fill-teacher-cache`); `None`
        caches in memory only.
    dir_mb : `float`, optional (default = `2048`)
        Bound of the disk cache in MiB (per teacher).
    store : `str`, optional (default = `"sqlite"`)
        The on-disk store: `"sqlite"`, one SQLite database per teacher (`TeacherSqliteStore`),
        or `"files"`, one file per sentence (`TeacherDiskCache`, the store of earlier
        releases, kept for this release). `fill-teacher-cache --store` must match it.
    """

    def __init__(
        self,
        memory_mb: float = 512.0,
        dtype: str = "float32",
        dir: Optional[str] = None,  # noqa: A002  (the config key users write)
        dir_mb: float = 2048.0,
        store: str = DEFAULT_STORE,
    ) -> None:
        self.memory_mb = memory_mb
        self.dtype = dtype
        self.dir = dir
        self.dir_mb = dir_mb
        self.store = check_store(store)


class Teacher(FromParams):
    """
    The frozen teacher (or teachers) of a distilled model: the model argument `teacher`.

    # Parameters

    archive : `Union[str, List[str]]`
        The teacher's `model.tar.gz`, or a list of archives: an ensemble, whose KD target is
        the mixture `Σ_i w_i P_i` of the members' distributions (each objective's `mixture`
        says how it is computed exactly). Every member must teach the same labels as the
        student (matched by string) and be readable by the adapter.
    weights : `List[float]`, optional (default = `None`)
        One non-negative weight per archive (normalised to sum to 1); `None`: equal weights.
    reindex_inputs : `bool`, optional (default = `None`)
        `None` decides automatically whether the student's input tensors mean the same to a
        teacher; `True` always rebuilds the teacher's inputs from the words (needs
        `metadata`), `False` always reuses the student's.
    cache : `TeacherCacheSettings`, optional (default = `None`: the defaults)
        The memory and disk caches of the teacher's outputs.
    adapter : `TeacherAdapter`, optional (default = `None`)
        How the teacher's forward pass becomes the student's scores, by `type`; `None` takes
        the student's own (`"tagger"` for the taggers, `"parser"` for the parser). A tagger
        taught by a dependency parser uses `{"type": "dependency_labels"}`.
    diagnostics : `bool`, optional (default = `False`)
        Measure how well the student imitates the teacher on validation and evaluation data
        (`allennlp_subkd.distillation.tasks.diagnostics`: agreement with the teacher's decoded
        output, KL to its marginals, the student's calibration error). It runs the teacher on
        those sentences (once each, through the caches). With `diagnostics` a teacher may be
        given without a `distillation` objective: a plain student's imitation is measured too.
    """

    def __init__(
        self,
        archive: Union[str, List[str]],
        weights: Optional[List[float]] = None,
        reindex_inputs: Optional[bool] = None,
        cache: Optional[TeacherCacheSettings] = None,
        adapter: Optional[TeacherAdapter] = None,
        diagnostics: bool = False,
    ) -> None:
        archives = [archive] if isinstance(archive, str) else list(archive)
        if not archives or not all(isinstance(a, str) and a for a in archives):
            raise ConfigurationError(
                f"teacher.archive must be a path or a non-empty list of paths, got {archive!r}"
            )
        if weights is None:
            weights = [1.0] * len(archives)
        if len(weights) != len(archives):
            raise ConfigurationError(
                f"teacher.weights has {len(weights)} weights for {len(archives)} archives "
                f"({archives}): give one weight per archive"
            )
        if not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
            for w in weights
        ) or sum(weights) <= 0:
            raise ConfigurationError(
                f"teacher.weights must be finite numbers >= 0, not all 0, got {weights!r}"
            )
        total = float(sum(weights))
        self.archives = archives
        self.weights = [float(w) / total for w in weights]
        self.reindex_inputs = reindex_inputs
        self.cache = cache or TeacherCacheSettings()
        self.adapter = adapter
        self.diagnostics = bool(diagnostics)

    @property
    def is_ensemble(self) -> bool:
        return len(self.archives) > 1

    def members(self, adapter: TeacherAdapter, student_name: str) -> List[FrozenTeacher]:
        """One lazy `FrozenTeacher` per archive, accepting the adapter's teacher types."""
        return [
            FrozenTeacher(
                path,
                adapter.teacher_types,
                student_name,
                self.reindex_inputs,
                self.cache.memory_mb,
                self.cache.dtype,
                self.cache.dir,
                self.cache.dir_mb,
                self.cache.store,
            )
            for path in self.archives
        ]


#: the flat model arguments of earlier releases, and where they live in `teacher` now
DEPRECATED_ARGUMENTS = {
    "teacher_archive": ("archive",),
    "reindex_teacher_inputs": ("reindex_inputs",),
    "teacher_cache_mb": ("cache", "memory_mb"),
    "teacher_cache_dtype": ("cache", "dtype"),
    "teacher_cache_dir": ("cache", "dir"),
    "teacher_cache_dir_mb": ("cache", "dir_mb"),
}


def _nest(flat: Dict[str, Any], student_name: str) -> Dict[str, Any]:
    """`{"teacher_archive": a, "teacher_cache_dir": d}` -> `{"archive": a, "cache": {"dir": d}}`,
    with a `DeprecationWarning` naming the new spelling."""
    nested: Dict[str, Any] = {}
    for old, value in flat.items():
        *parents, leaf = DEPRECATED_ARGUMENTS[old]
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    spelled = ", ".join(f"{old} -> teacher.{'.'.join(DEPRECATED_ARGUMENTS[old])}" for old in flat)
    message = (
        f"{student_name}: the flat teacher arguments are deprecated and will be removed in the "
        f"next release; use the teacher object ({spelled})"
    )
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    logger.warning(message)
    return nested


def _pop_flat(arguments: Any) -> Dict[str, Any]:
    """The deprecated flat arguments in `arguments` (a dict or `Params`), removed from it."""
    return {name: arguments.pop(name) for name in list(DEPRECATED_ARGUMENTS) if name in arguments}


def _without_archive(flat: Dict[str, Any], student_name: str) -> bool:
    """True (with a warning naming them) when flat teacher settings come without
    `teacher_archive`: they configure no teacher, so they are ignored."""
    if flat.get("teacher_archive") is not None:
        return False
    message = (
        f"{student_name}: {', '.join(sorted(flat))} given without teacher_archive configure no "
        "teacher and are ignored (this student trains without KD); give teacher: {archive: ...}"
    )
    warnings.warn(message, UserWarning, stacklevel=3)
    logger.warning(message)
    return True


def rewrite_deprecated_params(params: Params, student_name: str) -> None:
    """Move a config's flat teacher arguments into its `teacher` object (in place)."""
    flat = {name: value for name, value in _pop_flat(params).items() if value is not None}  # null: not given
    if not flat:
        return
    if params.get("teacher") is not None:
        raise ConfigurationError(
            f"{student_name}: give either teacher or the deprecated flat arguments "
            f"({', '.join(flat)}), not both"
        )
    if _without_archive(flat, student_name):
        return
    params["teacher"] = _nest(flat, student_name)


def teacher_from_deprecated(
    teacher: Optional[Teacher], kwargs: Dict[str, Any], student_name: str
) -> Optional[Teacher]:
    """The model's `teacher`, built from the deprecated flat keyword arguments when a Python
    caller passes them (removed from `kwargs`, so the wrapped model never sees them)."""
    flat = _pop_flat(kwargs)
    if not flat:
        return teacher
    if teacher is not None:
        raise ConfigurationError(
            f"{student_name}: give either teacher or the deprecated flat arguments "
            f"({', '.join(flat)}), not both"
        )
    if _without_archive(flat, student_name):
        return None
    nested = _nest(flat, student_name)
    cache = nested.pop("cache", None)
    return Teacher(cache=None if cache is None else TeacherCacheSettings(**cache), **nested)
