"""The `transfer_set` data loader: the labeled training data plus a transfer set's unlabeled
sentences, in batches of their own."""
import logging
import math
import random
from typing import Iterator, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import DataLoader, DatasetReader, Instance, Token
from allennlp.data.data_loaders.data_collator import DefaultDataCollator
from allennlp.data.data_loaders.data_loader import TensorDict
from allennlp.data.data_loaders.multiprocess_data_loader import MultiProcessDataLoader
from allennlp.data.dataset_readers import Conll2003DatasetReader
from allennlp.nn import util as nn_util
from allennlp_models.structured_prediction.dataset_readers.universal_dependencies import (
    UniversalDependenciesDatasetReader,
)

from allennlp_subkd.data.dependency_label_reader import DependencyLabelsDatasetReader
from allennlp_subkd.data.transfer_set import TransferSet, UnlabeledSentence

logger = logging.getLogger(__name__)


def unlabeled_instance(reader: DatasetReader, sentence: UnlabeledSentence, source: str = "the transfer set") -> Instance:
    """
    An instance of `reader`'s kind without gold labels: the fields the model reads (words, and
    POS tags for the readers whose instances carry them), no label field. Readers: `conll2003`
    (and `checked_conll2003`; POS tags only where its `feature_labels` embed them),
    `universal_dependencies` and `dependency_labels` (both need the POS tags: a raw-text
    transfer set for them is a `ConfigurationError`).
    """
    if isinstance(reader, Conll2003DatasetReader):
        embeds_pos = "pos" in reader.feature_labels
        if embeds_pos and sentence.pos is None:
            raise ConfigurationError(
                f"the student's reader embeds POS tags (feature_labels: pos), but {source} has none: "
                'give it as format "conll" or "conllu" with the tags'
            )
        instance = reader.text_to_instance([Token(w) for w in sentence.words],
                                           pos_tags=sentence.pos if embeds_pos else None)
        reader.apply_token_indexers(instance)
        return instance
    if isinstance(reader, (UniversalDependenciesDatasetReader, DependencyLabelsDatasetReader)):
        if sentence.pos is None:
            raise ConfigurationError(
                f"a {type(reader).__name__} student reads UPOS tags (its POS input, the teacher's, "
                f'decoding), but {source} has none: give it as format "conllu" (or "conll" with '
                "the tags in the second column)"
            )
        instance = reader.text_to_instance(sentence.words, sentence.pos)
        reader.apply_token_indexers(instance)
        return instance
    raise ConfigurationError(
        f"transfer sets are read for the dataset readers conll2003, checked_conll2003, "
        f"universal_dependencies and dependency_labels, not {type(reader).__name__}"
    )


def _distributed() -> tuple:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


@DataLoader.register("transfer_set")
class TransferSetDataLoader(MultiProcessDataLoader):
    """
    AllenNLP's `MultiProcessDataLoader` over the labeled training data (every argument of the
    `multiprocess` loader, unchanged) plus a transfer set: each epoch, `sentences_per_epoch`
    unlabeled sentences (a fresh sample, each distributed worker its share) are made into
    instances of the labeled reader's kind without their label fields
    (`unlabeled_instance`) and batched apart from the labeled ones, with the same
    `batch_sampler` or `batch_size`; the two kinds of batches are interleaved at random.

    **Why separate batches.** An AllenNLP batch needs identical fields in all its instances, and
    the models compute their gold loss over the whole batch: a batch without the label field is
    what a model already reads as "no gold" (`loss = unlabeled_weight · KD`, see
    `DistillationObjective`), with no dummy labels to mask and no change to any model's loss.

    A distilled model learns from these batches only through its teacher: a student without
    `teacher` and `distillation` gets a clear error at the first unlabeled batch.

    **Training only.** The unlabeled batches are served to loops that compute gradients: an
    iteration (or `len`) under `torch.no_grad()` — AllenNLP's validation and its evaluation of
    the test set, which build their loaders from these same params when the config gives no
    `validation_data_loader` — gets the labeled batches alone.

    Registered as a `DataLoader` with name "transfer_set".

    # Parameters

    reader, data_path, **kwargs
        As `MultiProcessDataLoader` (`batch_size`, `batch_sampler`, `shuffle`, `num_workers`,
        `max_instances_in_memory`, `cuda_device`, ...), for the labeled data.
    transfer_set : `TransferSet`
        The unlabeled sentences (`path`, `format`, `sentences_per_epoch`, `seed`, `vocabulary`).
    """

    def __init__(self, reader: DatasetReader, data_path: str, transfer_set: TransferSet, **kwargs) -> None:
        self.transfer_set = transfer_set
        self._epoch = 0
        self._collate = DefaultDataCollator()
        self._preloading = True  # the base class reads the labeled instances in its constructor
        super().__init__(reader, data_path, **kwargs)
        self._preloading = False

    def set_epoch(self, epoch: int) -> None:
        """The (0-based) epoch the next `__iter__` serves (the `distillation_epoch` callback
        calls it, so a run resumed with `--recover` draws the epoch's own sample)."""
        self._epoch = epoch

    # -- the transfer set's part

    def _unlabeled_batches(self, epoch: int) -> List[List[Instance]]:
        rank, world_size = _distributed()
        numbers = self.transfer_set.epoch_sample(epoch, rank, world_size)
        source = f"transfer set {self.transfer_set.path!r}"
        instances = [unlabeled_instance(self.reader, s, source) for s in self.transfer_set.sentences(numbers)]
        if self.batch_sampler is not None:
            return [[instances[i] for i in batch] for batch in self.batch_sampler.get_batch_indices(instances)]
        size = self.batch_size or 1
        return [instances[i:i + size] for i in range(0, len(instances), size)]

    def _unlabeled_batch_count(self) -> int:
        _, world_size = _distributed()
        share = math.ceil(self.transfer_set.epoch_size() / world_size)
        if self.batch_sampler is not None:
            size = getattr(self.batch_sampler, "batch_size", None) or 1
        else:
            size = self.batch_size or 1
        return math.ceil(share / size)

    def _tensorize(self, batch: List[Instance]) -> TensorDict:
        for instance in batch:
            instance.index_fields(self._vocab)
        tensors = self._collate(batch)
        if self.cuda_device is not None:
            tensors = nn_util.move_to_device(tensors, self.cuda_device)
        return tensors

    # -- DataLoader

    def __len__(self) -> int:
        if not torch.is_grad_enabled():  # validation or evaluation: labeled batches only
            return super().__len__()
        return super().__len__() + self._unlabeled_batch_count()

    def __iter__(self) -> Iterator[TensorDict]:
        if not torch.is_grad_enabled():  # validation or evaluation: labeled batches only
            yield from super().__iter__()
            return
        epoch = self._epoch
        self._epoch += 1
        labeled = super().__iter__()
        unlabeled = self._unlabeled_batches(epoch)
        try:
            labeled_count: Optional[int] = super().__len__()
        except TypeError:  # a lazy loader without batches_per_epoch: counts unknown
            labeled_count = None
        rng = random.Random(self.transfer_set.seed * 7919 + epoch)
        if labeled_count is None:
            # alternate, then whatever remains of either
            for batch in unlabeled:
                yield self._tensorize(batch)
                yield from _take(labeled, 1)
            yield from labeled
            return
        schedule = [True] * labeled_count + [False] * len(unlabeled)
        rng.shuffle(schedule)
        pending = iter(unlabeled)
        for is_labeled in schedule:
            if is_labeled:
                yield from _take(labeled, 1)
            else:
                yield self._tensorize(next(pending))
        yield from labeled  # a labeled count that was an estimate

    def iter_instances(self) -> Iterator[Instance]:
        """The labeled instances, then (with `transfer_set.vocabulary`, for building the
        vocabulary) every sentence of the transfer set once, without labels."""
        yield from super().iter_instances()
        if self.transfer_set.vocabulary and self._vocab is None and not self._preloading:
            source = f"transfer set {self.transfer_set.path!r}"
            numbers = list(range(len(self.transfer_set)))
            for sentence in self.transfer_set.sentences(numbers):
                yield unlabeled_instance(self.reader, sentence, source)


def _take(iterator: Iterator[TensorDict], count: int) -> Iterator[TensorDict]:
    for _ in range(count):
        try:
            yield next(iterator)
        except StopIteration:
            return
