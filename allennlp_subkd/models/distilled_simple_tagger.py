"""`distilled_simple_tagger`: a softmax (per-token) tagger student of a frozen teacher."""
from typing import Any, Dict, List, Optional

import torch
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model, SimpleTagger
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp.nn import util

from allennlp_subkd.distillation.objectives.scores import TaggerScores
from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.distillation.tasks.tagger import DistilledTaggerMixin
from allennlp_subkd.distillation.teacher.config import Teacher, teacher_from_deprecated
from allennlp_subkd.models.nonempty import forward_nonempty
from allennlp_subkd.models.unseen_gold import tagger_gold


@Model.register("distilled_simple_tagger")
class DistilledSimpleTagger(DistilledTaggerMixin, SimpleTagger):
    """
    The softmax student of Wang et al. (2021, case 2a): AllenNLP's `SimpleTagger` (one
    softmax per token, no transitions), taught by a CRF or softmax teacher. Its gold loss is
    `sequence_cross_entropy_with_logits` (per-sentence token mean, averaged over sentences),
    and each sentence's KD term is reduced the same way: divided by its length, averaged
    over the batch. Objectives: `token`, `posterior` (the teacher's CRF marginals as soft
    targets: case 2a), `structural` (exact for a factorised student), `top_k` and
    `sub_structure` with `variant: "emission"`.

    Registered as a `Model` with name "distilled_simple_tagger".

    # Parameters

    vocab, text_field_embedder, encoder, **kwargs
        Exactly as `SimpleTagger` (`calculate_span_f1`, `label_encoding`, `label_namespace`,
        `verbose_metrics`, `initializer`, ...).
    teacher, distillation
        As for `distilled_crf_tagger` (the flat teacher arguments are deprecated likewise).
    """

    default_predictor = "pretokenized_tagger"
    student_name = "distilled_simple_tagger"
    default_adapter = "tagger"
    #: per-sentence outputs, given as empty lists for a batch of empty sentences
    _empty_keys = ("tags",)

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        teacher: Optional[Teacher] = None,
        distillation: Optional[TaggerDistillation] = None,
        **kwargs,
    ) -> None:
        teacher = teacher_from_deprecated(teacher, kwargs, self.student_name)
        super().__init__(vocab, text_field_embedder, encoder, **kwargs)
        self._setup_distillation(teacher, distillation, self.label_namespace)

    def forward(  # type: ignore
        self,
        tokens: TextFieldTensors,
        tags: torch.LongTensor = None,
        metadata: List[Dict[str, Any]] = None,
        ignore_loss_on_o_tags: bool = False,
    ) -> Dict[str, torch.Tensor]:
        """As `SimpleTagger.forward`; in training with a teacher the loss also holds the KD
        term and the output a detached `kd_loss`."""
        return forward_nonempty(
            self._forward,
            tokens,
            next(self.tag_projection_layer.parameters()),
            metadata=metadata,
            empty_keys=self._empty_keys,
            tags=tags,
            ignore_loss_on_o_tags=ignore_loss_on_o_tags,
        )

    def _forward(self, tokens, metadata=None, tags=None, **kwargs) -> Dict[str, torch.Tensor]:
        self._check_learnable(tags is not None)
        with tagger_gold(self, tags, self.label_namespace) as loss_tags:  # unseen gold labels
            output = super().forward(tokens, tags=loss_tags, metadata=metadata, **kwargs)
        if self._distilling:
            mask = util.get_text_field_mask(tokens)
            per_sentence = self._tagger_distillation(TaggerScores(output["logits"], mask=mask), tokens, metadata)
            kd = (per_sentence / mask.sum(-1).clamp(min=1)).mean()
            self._mix_distillation(output, kd)
        elif self._diagnosing:
            logits = output["logits"]
            student = TaggerScores(logits, mask=util.get_text_field_mask(tokens))
            self._tagger_diagnostics(student, logits.argmax(-1), tokens, metadata, tags)
        return output

    def make_output_human_readable(
        self, output_dict: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """As `SimpleTagger`'s, but each sentence's tags are cut to its own length (the stock
        one labels padding too) and an all-empty batch has empty tags."""
        if "class_probabilities" in output_dict:
            output_dict = super().make_output_human_readable(output_dict)
        if "words" in output_dict:
            output_dict["tags"] = [
                tags[: len(words)] for tags, words in zip(output_dict["tags"], output_dict["words"])
            ]
        return output_dict

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = super().get_metrics(reset)
        metrics.update(self._distillation_metrics(reset))
        return metrics
