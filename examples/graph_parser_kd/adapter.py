"""The teacher adapter of the worked example: a `graph_parser` archive teaching a graph parser."""
from typing import Any, List, Optional, Tuple

import torch
from allennlp.models import Model
from allennlp_models.structured_prediction import GraphParser

from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.teacher import FrozenTeacher, TeacherAdapter, TeacherBatch

from examples.graph_parser_kd.scores import GraphScores, capture_graph_scores


def pos_strings(batch: TeacherBatch) -> Optional[List[List[str]]]:
    """The POS tags of each sentence as strings (the semantic_dependencies reader keeps them only
    as the student's indices), or `None` when the student reads none."""
    tags = batch.inputs.get("pos_tags")
    if tags is None:
        return None
    lengths = batch.mask.sum(-1).tolist()
    return [[batch.vocab.get_token_from_index(i, "pos") for i in row[:n]]
            for row, n in zip(tags.tolist(), lengths)]


@TeacherAdapter.register("graph_parser")
class GraphParserTeacherAdapter(TeacherAdapter):
    """
    A `graph_parser` (allennlp-models) teaching a graph parser with the same arc labels: per
    sentence its arc logits `[n, n]` and label logits `[n, n, labels]` (its own label order,
    cached), re-ordered to the student's labels. Sentences are keyed on their words and POS
    tags; the teacher's inputs are always rebuilt from them with its own vocabulary.

    Registered as a `TeacherAdapter` with name "graph_parser".
    """

    teacher_types = (GraphParser,)
    scores_type = GraphScores

    def keys(self, batch: TeacherBatch) -> Optional[List[Tuple[Any, ...]]]:
        if batch.metadata is None:
            return None
        tags = pos_strings(batch) or [[] for _ in batch.metadata]
        return [(tuple(m["tokens"]), tuple(t)) for m, t in zip(batch.metadata, tags)]

    def compute(
        self, teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int], entry: TeacherRequest
    ) -> List[Tuple[torch.Tensor, ...]]:
        # the same outputs whatever is requested: the default `entry_request` (and key) is kept
        words = [batch.metadata[i]["tokens"] for i in rows]
        tags = pos_strings(batch)
        label_inputs = None if tags is None else {"pos_tags": ("pos", [tags[i] for i in rows])}
        inputs = teacher.rebuild_inputs(words, batch.device, label_inputs, text_field="tokens")
        model: Model = teacher.model
        with capture_graph_scores(model) as captured:
            model(**inputs)
        return [(captured.arcs[j, :len(w), :len(w)], captured.labels[j, :len(w), :len(w)])
                for j, w in enumerate(words)]

    def assemble(
        self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch, request: TeacherRequest
    ) -> GraphScores:
        index = teacher.label_map(batch.vocab, batch.label_namespace, "labels").to(batch.device)
        size, length = batch.mask.shape
        arcs = batch.mask.new_zeros(size, length, length, dtype=torch.float32)
        labels = batch.mask.new_zeros(size, length, length, len(index), dtype=torch.float32)
        for i, (sentence_arcs, sentence_labels) in enumerate(per_sentence):
            n = sentence_arcs.size(0)
            arcs[i, :n, :n] = sentence_arcs
            labels[i, :n, :n] = sentence_labels.index_select(-1, index)
        return GraphScores(arcs, labels, batch.mask)

