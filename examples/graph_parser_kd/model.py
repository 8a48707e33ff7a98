"""The student of the worked example: allennlp-models' `GraphParser` with a teacher."""
from typing import Any, Dict, List, Optional

import torch
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp_models.structured_prediction import GraphParser

from allennlp_subkd.distillation.tasks import DistilledModelMixin
from allennlp_subkd.distillation.teacher import Teacher

from examples.graph_parser_kd.adapter import GraphParserTeacherAdapter  # noqa: F401 (registers "graph_parser")
from examples.graph_parser_kd.objective import GraphDistillation
from examples.graph_parser_kd.scores import GraphScores, capture_graph_scores


@Model.register("distilled_graph_parser")
class DistilledGraphParser(DistilledModelMixin, GraphParser):
    """
    allennlp-models' `GraphParser` (semantic dependencies) taught by a frozen `graph_parser`:
    `loss = (1 - alpha) * gold + alpha * KD`, the per-sentence KD terms summed over the batch and
    divided by its number of word pairs. Without `distillation` it is exactly `GraphParser`.

    Registered as a `Model` with name "distilled_graph_parser".

    # Parameters

    vocab, text_field_embedder, encoder, **kwargs
        Exactly as `GraphParser` (`tag_representation_dim`, `arc_representation_dim`, ...).
    teacher : `Teacher`, optional (default = `None`)
        The teacher object of every distilled model; its adapter defaults to `"graph_parser"`.
    distillation : `GraphDistillation`, optional (default = `None`)
        The KD objective, by `type` (`structural`).
    """

    student_name = "distilled_graph_parser"
    default_adapter = "graph_parser"

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        teacher: Optional[Teacher] = None,
        distillation: Optional[GraphDistillation] = None,
        **kwargs,
    ) -> None:
        super().__init__(vocab, text_field_embedder, encoder, **kwargs)
        self._setup_distillation(teacher, distillation, "labels")

    def forward(  # type: ignore
        self,
        tokens: TextFieldTensors,
        pos_tags: torch.LongTensor = None,
        metadata: List[Dict[str, Any]] = None,
        arc_tags: torch.LongTensor = None,
    ) -> Dict[str, torch.Tensor]:
        """As `GraphParser.forward`; in training with a teacher the loss also holds the KD term."""
        if not self._distilling:
            return super().forward(tokens, pos_tags, metadata, arc_tags)
        with capture_graph_scores(self) as captured:
            output = super().forward(tokens, pos_tags, metadata, arc_tags)
        mask = output["mask"]
        student = GraphScores(captured.arcs, captured.labels, mask)
        batch = self._teacher_batch({"tokens": tokens, "pos_tags": pos_tags}, metadata, mask)
        kd = self._distill(lambda teacher: student, self.teacher_scores(batch))
        pairs = (mask.sum(-1) ** 2).sum().clamp(min=1)
        return self._mix_distillation(output, kd.sum() / pairs)

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = super().get_metrics(reset)
        metrics.update(self._distillation_metrics(reset))
        return metrics
