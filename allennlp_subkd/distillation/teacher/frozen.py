"""
The frozen, archived teacher of a distilled model.

`FrozenTeacher` loads an AllenNLP `model.tar.gz` lazily (at the first training forward
pass, so evaluating or predicting with a student archive never needs the teacher file),
keeps the teacher *outside* the student's module tree (it is not a submodule: it is not in
the student's `state_dict`, optimizer, initializer or vocabulary extension), always in
`eval()` mode, under `torch.no_grad()`, on the student's device. It aligns the teacher's
label vocabulary to the student's **by string**, computes, caches and serves its outputs
through one path (`scores` / `outputs`, driven by a `TeacherAdapter` and a `TeacherRequest`),
and rebuilds the teacher's input tensors
from the words with the teacher's own token indexers and vocabulary whenever the student's
tensors would mean something else to the teacher (a BERT teacher can teach a GloVe student).
"""
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Instance, Token, Vocabulary
from allennlp.data.fields import SequenceLabelField, TextField
from allennlp.data.token_indexers import TokenIndexer
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.nn import util

from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.cache import TeacherCache, archive_digest, stored_tensors
from allennlp_subkd.distillation.teacher.store import DEFAULT_STORE, TeacherStore, check_store, make_store

logger = logging.getLogger(__name__)


class FrozenTeacher:
    """
    A frozen teacher model read from an archive.

    # Parameters

    archive_path : `str`
        Path (or URL AllenNLP's `cached_path` understands) of the teacher's `model.tar.gz`.
    accepted_types : `Tuple[Type[Model], ...]`
        Model classes that can teach this student (subclasses included).
    student_name : `str`
        How to call the student in error messages (its registered name).
    reindex_inputs : `bool`, optional (default = `None`)
        `None` (auto): reuse the student's input tensors when the teacher's token indexers
        have the same names and output keys as the student's and every token namespace of
        the teacher's vocabulary maps tokens to the same indices as the student's, and the
        first batch's tensors equal the teacher's own indexing of its words (another
        transformer under the same indexer name has no vocabulary to compare); rebuild them
        from `metadata["words"]` otherwise. `True` always rebuilds, `False` always reuses.
    cache_mb, cache_dtype : see `TeacherCache` (the in-memory cache; `cache_mb = 0` turns
        both caches off).
    cache_dir : `str`, optional (default = `None`)
        A directory for the persistent on-disk store of the teacher's per-sentence outputs,
        shared by runs, seeds, objectives and processes; `None` keeps memory only.
    cache_dir_mb : `float`, optional (default = `2048`)
        The disk cache's bound in MiB.
    cache_store : `str`, optional (default = `"sqlite"`)
        The on-disk store: `"sqlite"` (`TeacherSqliteStore`, one database per teacher) or
        `"files"` (`TeacherDiskCache`, one file per sentence).
    """

    def __init__(
        self,
        archive_path: str,
        accepted_types: Tuple[Type[Model], ...],
        student_name: str,
        reindex_inputs: Optional[bool] = None,
        cache_mb: float = 512.0,
        cache_dtype: str = "float32",
        cache_dir: Optional[str] = None,
        cache_dir_mb: float = 2048.0,
        cache_store: str = DEFAULT_STORE,
    ) -> None:
        self.archive_path = archive_path
        self.accepted_types = accepted_types
        self.student_name = student_name
        self.reindex_inputs = reindex_inputs
        self._model: Optional[Model] = None
        self._token_indexers: Optional[Dict[str, TokenIndexer]] = None
        self._dataset_reader: Optional[DatasetReader] = None
        self._reuse: Optional[bool] = None
        self._reuse_verified = False
        self._label_maps: Dict[Tuple[str, str], torch.Tensor] = {}
        self.cache = TeacherCache(cache_mb, cache_dtype)
        check_store(cache_store)
        self.disk: Optional[TeacherStore] = None
        if cache_dir is not None and self.cache.enabled:
            self.disk = make_store(cache_store, cache_dir, cache_dir_mb, cache_dtype)
        self.digest: Optional[str] = None
        self._warned_uncached = False

    # ------------------------------------------------------------------ loading

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Model:
        """The teacher model, loading the archive on first use."""
        if self._model is None:
            self._load()
        return self._model  # type: ignore[return-value]

    @property
    def vocab(self) -> Vocabulary:
        return self.model.vocab

    @property
    def dataset_reader(self) -> DatasetReader:
        """The dataset reader of the teacher's archive (loading it on first use)."""
        self.model  # noqa: B018
        return self._dataset_reader  # type: ignore[return-value]

    def _load(self) -> None:
        path = self.archive_path
        local = "://" not in str(path)
        if local and not os.path.exists(path):
            raise ConfigurationError(f"teacher archive {path!r} does not exist")
        try:
            archive = load_archive(path, cuda_device=-1)
        except Exception as error:  # a truncated tarball, a missing config or weights, ...
            raise ConfigurationError(
                f"teacher archive {path!r} could not be loaded as an AllenNLP model archive: "
                f"{type(error).__name__}: {error}"
            ) from error
        model = archive.model
        if not isinstance(model, self.accepted_types):
            accepted = ", ".join(t.__name__ for t in self.accepted_types)
            raise ConfigurationError(
                f"teacher archive {path!r} holds a {type(model).__name__}; a {self.student_name} "
                f"can only be taught by one of: {accepted}"
            )
        indexers = getattr(archive.dataset_reader, "_token_indexers", None)
        if not isinstance(indexers, dict):
            raise ConfigurationError(
                f"the dataset reader of teacher archive {path!r} "
                f"({type(archive.dataset_reader).__name__}) exposes no token indexers, so the "
                "teacher's inputs cannot be rebuilt from the words"
            )
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        self._model = model
        self._token_indexers = indexers
        self._dataset_reader = archive.dataset_reader
        self.digest = archive_digest(path) if self.cache.enabled else None
        logger.info("Loaded frozen teacher %s from %s", type(model).__name__, path)

    def to(self, device: torch.device) -> Model:
        """The teacher on `device` (moved at most once per device change), in eval mode."""
        model = self.model
        first = next(model.parameters(), None)
        if first is not None and first.device != device:
            model.to(device)
        model.eval()
        return model

    # ------------------------------------------------------------------ outputs

    def scores(self, adapter: TeacherAdapter, batch: TeacherBatch, request: TeacherRequest) -> Any:
        """
        The teacher's scores of a student's batch for `request`, aligned with the student by
        `adapter` (no gradients): the entries of `adapter.entry_request(request)` from the
        caches where present (`outputs`), assembled for `request`. The scores object's type
        is checked against the adapter's `scores_type`, and one with a `validate` method
        against the batch (a wrong shape names the adapter).
        """
        self.to(batch.device)
        per_sentence = self.outputs(adapter, batch, adapter.entry_request(request))
        with torch.no_grad():
            assembled = adapter.assemble(self, per_sentence, batch, request)
        if not isinstance(assembled, adapter.scores_type):
            raise TypeError(
                f"the teacher adapter {adapter.name} returned a {type(assembled).__name__}, "
                f"not the {adapter.scores_type.__name__} it declares"
            )
        validate = getattr(assembled, "validate", None)
        if validate is not None:
            validate(batch, f"the teacher adapter {adapter.name}")
        return assembled

    def outputs(
        self, adapter: TeacherAdapter, batch: TeacherBatch, entry: TeacherRequest
    ) -> List[Tuple[torch.Tensor, ...]]:
        """
        The teacher's per-sentence outputs (the cache entries) of every sentence of the batch
        for the entry request `entry`, from the memory cache, else the disk cache, else
        `adapter.compute` on the missing sentences only (whose results are stored in both).
        Keys are `adapter.keys(batch)` plus `entry.key_suffix`, under the archive's digest.
        Returns a tuple of tensors per sentence, on the batch's device, floating point as
        float32 (as the caches store them: float16 storage rounds, and a sentence's outputs
        never depend on whether it was a hit).
        """
        device = batch.device

        def compute(rows: List[int]) -> List[Tuple[torch.Tensor, ...]]:
            with torch.no_grad():
                return adapter.compute(self, batch, rows, entry)

        sentence_keys = adapter.keys(batch) if self.cache.enabled else None
        if sentence_keys is None:
            if self.cache.enabled and not self._warned_uncached:
                logger.warning("teacher outputs are not cached: the batch has no metadata words")
                self._warned_uncached = True
            found = list(compute(list(range(batch.batch_size))))
            return [self._served(entry_tensors, device) for entry_tensors in found]
        self.model  # noqa: B018  (the archive's digest keys the entries)
        exact = adapter.full_precision_outputs(entry)
        sentence_keys = [(*key, *entry.key_suffix) if entry.key_suffix else key for key in sentence_keys]
        keys = [(self.digest, key) for key in sentence_keys]
        found: List[Optional[Tuple[torch.Tensor, ...]]] = [self.cache.get(key) for key in keys]
        disk = self.disk if self.disk is not None and self.disk.enabled else None
        if disk is not None:
            for i, cached in enumerate(found):
                if cached is None:
                    stored = disk.get(self.digest, sentence_keys[i])  # type: ignore[arg-type]
                    if stored is not None:
                        self.cache.put(keys[i], stored, exact)
                        found[i] = self.cache.peek(keys[i]) or stored
        missing = [i for i, cached in enumerate(found) if cached is None]
        if missing:
            for i, computed in zip(missing, compute(missing)):
                if disk is not None:
                    disk.put(self.digest, sentence_keys[i], computed, exact)  # type: ignore[arg-type]
                self.cache.put(keys[i], computed, exact)
                found[i] = self.cache.peek(keys[i]) or tuple(stored_tensors(computed, self.cache.dtype, exact))
        return [self._served(cached, device) for cached in found]  # type: ignore[arg-type]

    @staticmethod
    def _served(tensors: Sequence[torch.Tensor], device: torch.device) -> Tuple[torch.Tensor, ...]:
        return tuple(
            t.to(device=device, dtype=torch.float32) if t.is_floating_point() else t.to(device)
            for t in tensors
        )

    # ------------------------------------------------------------------ labels

    def label_map(
        self, student_vocab: Vocabulary, student_namespace: str, teacher_namespace: str
    ) -> torch.LongTensor:
        """
        `index[i]` = the teacher's index of the student's label `i` (matched by string), so
        `teacher_scores[..., index]` is in the student's label order. A `ConfigurationError`
        names the labels only one side knows.
        """
        key = (student_namespace, teacher_namespace)
        if key not in self._label_maps:
            student_labels = student_vocab.get_index_to_token_vocabulary(student_namespace)
            teacher_labels = self.vocab.get_token_to_index_vocabulary(teacher_namespace)
            student_set, teacher_set = set(student_labels.values()), set(teacher_labels)
            if student_set != teacher_set:
                raise ConfigurationError(
                    f"the teacher's labels (namespace {teacher_namespace!r} of "
                    f"{self.archive_path!r}) differ from the student's ({student_namespace!r}): "
                    f"only the student has {sorted(student_set - teacher_set)}, only the "
                    f"teacher has {sorted(teacher_set - student_set)}. Train both on the same "
                    "data, or give the student the teacher's labels with "
                    '"vocabulary": {"type": "extend", "directory": "<teacher model.tar.gz>"}'
                )
            self._label_maps[key] = torch.tensor(
                [teacher_labels[student_labels[i]] for i in range(len(student_labels))],
                dtype=torch.long,
            )
        return self._label_maps[key]

    # ------------------------------------------------------------------ inputs

    def _can_reuse(self, tokens: Dict[str, Dict[str, torch.Tensor]], student_vocab: Vocabulary) -> bool:
        if self.reindex_inputs is not None:
            return not self.reindex_inputs
        if self._reuse is None:
            indexers = self._token_indexers or {}
            same_keys = set(tokens) == set(indexers) and all(
                set(tokens[name]) == set(indexer.get_empty_token_list())
                for name, indexer in indexers.items()
            )
            teacher_vocab = self.vocab
            same_vocab = all(
                student_vocab.get_token_to_index_vocabulary(namespace)
                == teacher_vocab.get_token_to_index_vocabulary(namespace)
                for namespace in teacher_vocab.get_namespaces()
                if namespace in student_vocab.get_namespaces()
                and not _is_label_namespace(namespace)
            )
            self._reuse = same_keys and same_vocab
            logger.info(
                "Teacher inputs: %s",
                "reusing the student's tensors" if self._reuse else "re-indexed from the words",
            )
        return self._reuse

    def inputs(
        self,
        student_inputs: Dict[str, object],
        words: Optional[Sequence[Sequence[str]]],
        student_vocab: Vocabulary,
        device: torch.device,
        label_inputs: Optional[Dict[str, Tuple[str, Sequence[Sequence[str]]]]] = None,
        text_field: str = "tokens",
    ) -> Dict[str, object]:
        """
        The teacher's forward arguments for this batch.

        student_inputs : the student's arguments, `{text_field: TextFieldTensors, ...}`;
            returned as they are when the teacher reads them the same way.
        words : the batch's words (`metadata[i]["words"]`), needed when re-indexing.
        label_inputs : `{argument: (namespace, labels per sentence)}` of label sequences that
            are inputs to the teacher (the parser's `pos_tags`), indexed with the teacher's
            vocabulary when re-indexing (a label it never saw becomes its OOV token).
        text_field : the name of the words' `TextField` (and forward argument): `"tokens"`
            for the taggers' readers, `"words"` for `universal_dependencies`.
        """
        tokens = student_inputs[text_field]
        if self._can_reuse(tokens, student_vocab):  # type: ignore[arg-type]
            if self.reindex_inputs is None and not self._reuse_verified and words is not None:
                # same names, same vocabularies: check once, on this batch, that the student's
                # tensors are what the teacher's own indexers make of the words (another
                # transformer under the same indexer name has no vocabulary to compare)
                self._reuse_verified = True
                own = self._indexed(words, device, label_inputs, text_field)
                if not _same_tensors(own[text_field], tokens):
                    self._reuse = False
                    logger.warning(
                        "Teacher inputs: the %s's tensors have the teacher's names but not its "
                        "indexing of the same words (another transformer or tokenizer under the "
                        "same indexer name?): re-indexing every batch from the words",
                        self.student_name,
                    )
                    return own
            return student_inputs
        return self.rebuild_inputs(words, device, label_inputs, text_field)

    def rebuild_inputs(
        self,
        words: Optional[Sequence[Sequence[str]]],
        device: torch.device,
        label_inputs: Optional[Dict[str, Tuple[str, Sequence[Sequence[str]]]]] = None,
        text_field: str = "tokens",
    ) -> Dict[str, object]:
        """The teacher's forward arguments built from the words alone (and `label_inputs`, see
        `inputs`) with its own token indexers and vocabulary, whatever the student reads."""
        return self._indexed(words, device, label_inputs, text_field)

    def _indexed(
        self,
        words: Optional[Sequence[Sequence[str]]],
        device: torch.device,
        label_inputs: Optional[Dict[str, Tuple[str, Sequence[Sequence[str]]]]] = None,
        text_field: str = "tokens",
    ) -> Dict[str, object]:
        if words is None:
            raise ConfigurationError(
                f"the teacher's inputs must be rebuilt from the words, but the "
                f"{self.student_name}'s batch has no metadata with 'words'"
            )
        self.model  # noqa: B018  (loads the archive, and so the teacher's token indexers)
        instances: List[Instance] = []
        for i, sentence in enumerate(words):
            text = TextField([Token(w) for w in sentence], self._token_indexers)
            fields = {text_field: text}
            for argument, (namespace, labels) in (label_inputs or {}).items():
                fields[argument] = SequenceLabelField(
                    list(labels[i]), text, label_namespace=namespace
                )
            instances.append(Instance(fields))
        batch = Batch(instances)
        batch.index_instances(self.vocab)
        return util.move_to_device(batch.as_tensor_dict(), device)


def _same_tensors(own: Dict[str, Dict[str, torch.Tensor]], given: Dict[str, Dict[str, torch.Tensor]]) -> bool:
    """Whether `given` (the student's `TextFieldTensors` for some rows of its batch, padded to the
    whole batch) holds what `own` (the teacher's indexing of those rows' words, padded to them)
    does: the same keys, and each tensor equal to `own` where `own` has values and zero beyond."""
    if set(own) != set(given):
        return False
    for name in own:
        if set(own[name]) != set(given[name]):
            return False
        for key, tensor in own[name].items():
            other = given[name][key].to(tensor.device)
            if other.dim() != tensor.dim() or any(o < t for o, t in zip(other.shape, tensor.shape)):
                return False
            inside = other[tuple(slice(0, size) for size in tensor.shape)]
            if not torch.equal(inside, tensor.to(other.dtype)):
                return False
            if other.numel() != inside.numel():
                rest = other.clone()
                rest[tuple(slice(0, size) for size in tensor.shape)] = 0
                if rest.any():
                    return False
    return True


def _is_label_namespace(namespace: str) -> bool:
    return namespace.endswith("labels") or namespace.endswith("tags")
