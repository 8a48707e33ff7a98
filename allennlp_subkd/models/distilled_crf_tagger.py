"""`distilled_crf_tagger`: allennlp-models' `CrfTagger` taught by a frozen archived teacher."""
import functools
import logging
from typing import Any, Dict, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model
from allennlp.modules import ConditionalRandomField
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.distillation.tasks.tagger import DistilledTaggerMixin, tagger_scores
from allennlp_subkd.distillation.teacher.config import Teacher, teacher_from_deprecated
from allennlp_subkd.models.nonempty import forward_nonempty
from allennlp_subkd.models.unseen_gold import tagger_gold
from allennlp_subkd.modules.batched_viterbi_crf import BatchedViterbiConditionalRandomField

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def batched_viterbi_class(crf_class: type) -> type:
    """`crf_class` with `BatchedViterbiConditionalRandomField`'s decoder: the class itself for
    the plain CRF, else a subclass of both (a weighted CRF's `forward` is kept)."""
    if issubclass(crf_class, BatchedViterbiConditionalRandomField):
        return crf_class
    if crf_class is ConditionalRandomField:
        return BatchedViterbiConditionalRandomField
    return type(f"BatchedViterbi{crf_class.__name__}", (BatchedViterbiConditionalRandomField, crf_class), {})


@Model.register("distilled_crf_tagger")
class DistilledCrfTagger(DistilledTaggerMixin, CrfTagger):
    """
    A `CrfTagger` student that learns from a frozen teacher tagger as well as from the gold
    labels: `loss = (1 - alpha) * crf_nll + alpha * KD`, both summed over the batch (the CRF
    negative log-likelihood of AllenNLP is a batch sum, so every KD term is too). Without
    `distillation` it trains exactly like `CrfTagger` (the no-KD baseline). KD is added in
    training only; validation, `allennlp evaluate` and `allennlp predict` never load the
    teacher, so a student archive works with the teacher's archive gone.

    Empty sentences in a batch get an empty prediction and no loss instead of an error.

    Registered as a `Model` with name "distilled_crf_tagger".

    # Parameters

    vocab, text_field_embedder, encoder, **kwargs
        Exactly as `CrfTagger` (allennlp-models), which receives every other argument
        (`label_namespace`, `feedforward`, `label_encoding`, `include_start_end_transitions`,
        `constrain_crf_decoding`, `calculate_span_f1`, `dropout`, `verbose_metrics`,
        `initializer`, `top_k`, `ignore_loss_on_o_tags`, ...). `label_weights` (a weighted
        CRF) cannot be combined with `distillation`: the objectives assume the plain CRF.
    teacher : `Teacher`, optional (default = `None`)
        The frozen teacher (`allennlp_subkd.distillation.teacher.config.Teacher`): its
        `archive` (a `crf_tagger`, `simple_tagger`, `distilled_crf_tagger` or
        `distilled_simple_tagger` with the same label set, matched by string, any order; or
        a list of them, an ensemble, with `weights`), `reindex_inputs`, `cache` and
        `adapter`. Loaded lazily at the first training batch. The flat arguments of earlier
        releases (`teacher_archive`, `reindex_teacher_inputs`, `teacher_cache_mb`,
        `teacher_cache_dtype`, `teacher_cache_dir`, `teacher_cache_dir_mb`) still work, with
        a `DeprecationWarning`.
    distillation : `TaggerDistillation`, optional (default = `None`)
        The KD objective, by `type`: `sub_structure`, `structural`, `posterior`, `token` or
        `top_k`, with `alpha`, `temperature` and `anneal`. Needs `teacher`.
    use_batched_viterbi : `bool`, optional (default = `True`)
        Decode (in training for the metrics, in validation and in `predict`) with
        `BatchedViterbiConditionalRandomField`, one batched recursion instead of the stock
        per-sentence `viterbi_tags`: the same paths (tested, with BIO constraints and
        `top_k`), several times faster. `False` keeps the stock decoder.
    """

    default_predictor = "pretokenized_tagger"
    student_name = "distilled_crf_tagger"
    default_adapter = "tagger"

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        teacher: Optional[Teacher] = None,
        distillation: Optional[TaggerDistillation] = None,
        use_batched_viterbi: bool = True,
        **kwargs,
    ) -> None:
        teacher = teacher_from_deprecated(teacher, kwargs, self.student_name)
        super().__init__(vocab, text_field_embedder, encoder, **kwargs)
        if use_batched_viterbi:
            # the same module (parameters, constraint buffers, state-dict keys) with the
            # batched decoder: re-classed rather than rebuilt, since CrfTagger computed its
            # constraints from the label encoding inside its constructor; a weighted CRF
            # (`label_weights`) keeps its own likelihood, only the decoder is swapped
            self.crf.__class__ = batched_viterbi_class(type(self.crf))
        if distillation is not None and kwargs.get("label_weights"):
            raise ConfigurationError(
                "distilled_crf_tagger: label_weights (a weighted CRF) cannot be combined with "
                "distillation, whose objectives assume the plain CRF likelihood"
            )
        self._setup_distillation(teacher, distillation, self.label_namespace)

    def forward(  # type: ignore
        self,
        tokens: TextFieldTensors,
        tags: torch.LongTensor = None,
        metadata: List[Dict[str, Any]] = None,
        ignore_loss_on_o_tags: Optional[bool] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """As `CrfTagger.forward`; in training with a teacher the loss also holds the KD term
        and the output a detached `kd_loss`."""
        return forward_nonempty(
            self._forward,
            tokens,
            self.crf.transitions,
            metadata=metadata,
            empty_keys=("tags",),
            tags=tags,
            ignore_loss_on_o_tags=ignore_loss_on_o_tags,
            **kwargs,
        )

    def _forward(self, tokens, metadata=None, tags=None, **kwargs) -> Dict[str, torch.Tensor]:
        self._check_learnable(tags is not None)
        with tagger_gold(self, tags, self.label_namespace) as loss_tags:  # unseen gold labels
            output = super().forward(tokens, tags=loss_tags, metadata=metadata, **kwargs)
        if self._distilling:
            student = tagger_scores(self, output["logits"], output["mask"])
            kd = self._tagger_distillation(student, tokens, metadata)
            self._mix_distillation(output, kd.sum())
        elif self._diagnosing:
            mask = output["mask"]
            predicted = torch.zeros_like(mask, dtype=torch.long)
            for i, path in enumerate(output["tags"]):
                predicted[i, : len(path)] = torch.tensor(path, dtype=torch.long)
            self._tagger_diagnostics(tagger_scores(self, output["logits"], mask), predicted, tokens, metadata, tags)
        return output

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = super().get_metrics(reset)
        metrics.update(self._distillation_metrics(reset))
        return metrics
