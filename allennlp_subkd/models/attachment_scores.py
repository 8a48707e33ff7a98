"""Attachment scores that aggregate correctly across distributed workers."""
import contextlib
from typing import Iterator, Optional

import torch
from allennlp.nn.util import dist_reduce_sum
from allennlp.training.metrics import AttachmentScores


class WorkerSafeAttachmentScores(AttachmentScores):
    """
    AllenNLP 2.10's `AttachmentScores` all-reduces per-batch `[batch, length]` tensors, which
    differ in shape between workers: distributed training of any biaffine parser aborts in
    gloo/NCCL on the first batch. This version counts locally and all-reduces six scalars,
    with the same definitions (UAS, LAS, UEM, LEM over unmasked words not in
    `ignore_classes`), so single-process results are identical to the stock metric's.
    """

    _gold_labels: Optional[torch.Tensor] = None

    @contextlib.contextmanager
    def scoring_gold_labels(self, gold_labels: torch.Tensor) -> Iterator[None]:
        """Inside the block, score against these gold labels whatever the caller passes (the
        parser's loss reads unseen relations as relation 0; LAS must see them as they are)."""
        self._gold_labels = gold_labels
        try:
            yield
        finally:
            self._gold_labels = None

    def __call__(  # type: ignore[override]
        self,
        predicted_indices: torch.Tensor,
        predicted_labels: torch.Tensor,
        gold_indices: torch.Tensor,
        gold_labels: torch.Tensor,
        mask: Optional[torch.BoolTensor] = None,
    ) -> None:
        if self._gold_labels is not None:
            gold_labels = self._gold_labels
        predicted_indices, predicted_labels, gold_indices, gold_labels, mask = self.detach_tensors(
            predicted_indices, predicted_labels, gold_indices, gold_labels, mask
        )
        mask = torch.ones_like(predicted_indices).bool() if mask is None else mask.bool()
        for label in self._ignore_classes:
            mask = mask & ~gold_labels.long().eq(label)
        heads = predicted_indices.long().eq(gold_indices.long()) & mask
        both = heads & predicted_labels.long().eq(gold_labels.long())
        counts = torch.stack(
            [
                heads.sum(),
                (heads | ~mask).all(-1).sum(),
                both.sum(),
                (both | ~mask).all(-1).sum(),
                torch.tensor(mask.size(0), device=mask.device),
                mask.sum(),
            ]
        )
        counts = dist_reduce_sum(counts)
        self._unlabeled_correct += counts[0]
        self._exact_unlabeled_correct += counts[1]
        self._labeled_correct += counts[2]
        self._exact_labeled_correct += counts[3]
        self._total_sentences += counts[4]
        self._total_words += counts[5]
