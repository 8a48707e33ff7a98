"""What a graph parser's KD objective compares, and how it is read from a forward pass."""
import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
from allennlp.models import Model

from allennlp_subkd.distillation.objectives.scores import check_shape


@dataclass
class GraphScores:
    """
    Scores of a graph parser (allennlp-models' `GraphParser`) over one batch.

    arcs : `[batch, n, n]` arc logits, `arcs[b, h, d]` for the arc h -> d (the parser's
        `arc_attention` output, before its padding mask).
    labels : `[batch, n, n, labels]` label logits of each arc, labels in the *student's* order.
    mask : `[batch, n]` bool, the words.
    """

    arcs: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor

    def validate(self, batch: Any, source: str) -> None:
        """Shapes against the student's batch (called by `DistilledModelMixin.teacher_scores`)."""
        size, length = batch.mask.shape
        labels = batch.vocab.get_vocab_size(batch.label_namespace)
        check_shape(self.arcs, (size, length, length), "arc scores", source)
        check_shape(self.labels, (size, length, length, labels), "label scores", source)


@dataclass
class CapturedGraph:
    arcs: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None


@contextlib.contextmanager
def capture_graph_scores(model: Model) -> Iterator[CapturedGraph]:
    """`with capture_graph_scores(parser) as captured: parser(...)` keeps the arc logits
    (`arc_attention`'s output) and the label logits (`tag_bilinear`'s output, `[batch, labels,
    n, n]`, moved to `[batch, n, n, labels]`) of that forward pass."""
    captured = CapturedGraph()

    def arcs(module, inputs, output):
        captured.arcs = output

    def labels(module, inputs, output):
        captured.labels = output.permute(0, 2, 3, 1)

    handles = [model.arc_attention.register_forward_hook(arcs),
               model.tag_bilinear.register_forward_hook(labels)]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
