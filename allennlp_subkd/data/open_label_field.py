"""
Gold labels a model never saw: counted as wrong, not a crash.

A model's label namespaces (`labels`, `head_tags`) have no out-of-vocabulary entry, so AllenNLP's
`SequenceLabelField` raises a `KeyError` when an evaluation file has a gold label the training
data lacked (`dep` in UD English-GUM, `csubj:pass` in the EWT test for a sample-trained parser).
`OpenSequenceLabelField` gives each such label an index of its own past the namespace's last
(`size`, `size + 1`, ... in the order they are met, per vocabulary and namespace) and logs one
warning per unseen label naming it. No model can predict those indices, so the metrics count
the tokens as wrong (span F1, accuracy, LAS), and the models' losses read them as label 0
(`split_unseen`): the loss of an impossible label is not defined, the metrics are exact.

Our readers (`checked_conll2003`, `checked_universal_dependencies`, `dependency_labels`) build
their label fields with it, and our models read the indices (`allennlp_subkd.models.unseen_gold`,
the parser's `scoring_gold_labels`); a stock archive gets the same treatment when evaluated
through both (`--overrides '{"dataset_reader.type": "checked_universal_dependencies",
"model.type": "distilled_biaffine_parser"}'`; `checked_conll2003` and `distilled_crf_tagger` or
`distilled_simple_tagger` for taggers): their weights load unchanged.
"""
import logging
from typing import Dict, Tuple

import torch
from allennlp.data import Vocabulary
from allennlp.data.fields import SequenceLabelField

logger = logging.getLogger(__name__)

#: the attribute of a `Vocabulary` (which is not hashable, so it cannot key a registry) that
#: holds, per namespace, the unseen labels met so far and their indices
_UNSEEN = "_subkd_unseen_labels"


def _tables(vocab: Vocabulary) -> Dict[str, Dict[str, int]]:
    if not hasattr(vocab, _UNSEEN):
        setattr(vocab, _UNSEEN, {})
    return getattr(vocab, _UNSEEN)


def unseen_labels(vocab: Vocabulary, namespace: str) -> Dict[int, str]:
    """`{index: label}` of the unseen gold labels given indices in this vocabulary's
    namespace so far."""
    return {index: label for label, index in _tables(vocab).get(namespace, {}).items()}


def unseen_index(vocab: Vocabulary, namespace: str, label: str) -> int:
    """The index of a label outside the namespace (a new one past the last, once per label,
    with a warning naming it)."""
    table = _tables(vocab).setdefault(namespace, {})
    if label not in table:
        table[label] = vocab.get_vocab_size(namespace) + len(table)
        logger.warning(
            "gold label %r is not in the model's %r labels (it never saw it in training): it is "
            "counted as a wrong label by the metrics", label, namespace,
        )
    return table[label]


class OpenSequenceLabelField(SequenceLabelField):
    """A `SequenceLabelField` (same arguments) whose labels outside the vocabulary get indices
    past it instead of a `KeyError` (see the module docstring)."""

    def index(self, vocab: Vocabulary) -> None:
        if self._skip_indexing:
            return
        known = vocab.get_token_to_index_vocabulary(self._label_namespace)
        self._indexed_labels = [
            known[label] if label in known else unseen_index(vocab, self._label_namespace, label)
            for label in self.labels
        ]


def opened(field: SequenceLabelField) -> OpenSequenceLabelField:
    """The same labels over the same sequence as an `OpenSequenceLabelField`."""
    return OpenSequenceLabelField(list(field.labels), field.sequence_field, field._label_namespace)


def split_unseen(gold: torch.Tensor, num_labels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """`(gold for the loss, unseen mask)`: the unseen labels (indices >= `num_labels`) read as
    label 0 by a loss, and where they are."""
    unseen = gold >= num_labels
    return gold.masked_fill(unseen, 0), unseen
