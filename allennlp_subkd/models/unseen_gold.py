"""Gold labels the model never saw (`allennlp_subkd.data.open_label_field`) in the models: the
loss reads them as label 0, the metrics as labels no prediction matches."""
import contextlib
from typing import Dict, Iterator, Optional

import torch
from allennlp.models import Model
from allennlp.training.metrics import CategoricalAccuracy, SpanBasedF1Measure

from allennlp_subkd.data.open_label_field import split_unseen, unseen_labels


@contextlib.contextmanager
def tagger_gold(model: Model, tags: Optional[torch.Tensor], namespace: str) -> Iterator[Optional[torch.Tensor]]:
    """
    `with tagger_gold(tagger, tags, namespace) as loss_tags: output = Tagger.forward(..., tags=loss_tags)`:
    the gold tags for the stock tagger's loss (unseen labels as label 0), while its metrics
    (`model.metrics`, `model._f1_metric`) are scored against the real gold inside the block:
    accuracy with the unseen tokens as always wrong, span F1 with their labels' strings (their
    spans are gold spans no prediction has).
    """
    num_labels = model.vocab.get_vocab_size(namespace)
    if tags is None or not bool((tags >= num_labels).any()):
        yield tags
        return
    loss_tags, unseen = split_unseen(tags, num_labels)
    originals = dict(model.metrics)
    f1 = getattr(model, "_f1_metric", None)
    accuracy_gold = tags.masked_fill(unseen, -1)  # matches no class: wrong at every top-k

    def scored(metric):
        def call(predictions, gold, mask=None):
            if isinstance(metric, CategoricalAccuracy):
                metric(predictions, accuracy_gold, mask)
                return
            # span F1 checks its gold ids against the classes: columns no prediction can win
            # stand for the unseen labels
            extra = int(tags.max()) + 1 - predictions.size(-1)
            lowest = torch.finfo(predictions.dtype).min
            padded = torch.cat([predictions, predictions.new_full((*predictions.shape[:-1], extra), lowest)], -1)
            metric(padded, tags, mask)
        return call

    model.metrics = {name: scored(metric) for name, metric in originals.items()}
    labels: Optional[Dict[int, str]] = None
    if isinstance(f1, SpanBasedF1Measure):
        labels = f1._label_vocabulary
        f1._label_vocabulary = {**labels, **unseen_labels(model.vocab, namespace)}
        model._f1_metric = scored(f1)
    try:
        yield loss_tags
    finally:
        model.metrics = originals
        if labels is not None:
            f1._label_vocabulary = labels
            model._f1_metric = f1
