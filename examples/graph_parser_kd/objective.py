"""KD objectives for graph parsers: a `DistillationObjective` family of its own."""
import torch

from allennlp_subkd.distillation.objectives.base import DistillationObjective

from examples.graph_parser_kd.scores import GraphScores


class GraphDistillation(DistillationObjective):
    """Base class of the graph-parser KD objectives (the mixing, temperature and annealing of
    `DistillationObjective`); each returns the KD term per sentence, `[batch]`."""

    scores_type = GraphScores

    def __call__(self, student: GraphScores, teacher: GraphScores) -> torch.Tensor:
        raise NotImplementedError


@GraphDistillation.register("structural")
class StructuralGraphDistillation(GraphDistillation):
    """
    The exact cross-entropy between the teacher's and the student's distributions over
    labelled graphs at temperature T. Arcs are independent Bernoulli variables and labels
    independent given the arcs, so with `q = sigmoid(a_t / T)`:

        KD = T² Σ_{h,d} [ BCE(q[h, d], a_s[h, d] / T)
                          + q[h, d] · CE(softmax(l_t[h, d] / T), softmax(l_s[h, d] / T)) ]

    over every pair of words (the graph parser scores the diagonal too). Teacher ensembles use
    `DistillationObjective.mixture`'s weighted sum, exact since this is a cross-entropy.

    Registered as a `GraphDistillation` with name "structural".

    # Parameters

    alpha, temperature, anneal : see `DistillationObjective`.
    """

    def __call__(self, student: GraphScores, teacher: GraphScores) -> torch.Tensor:
        temp = self.temperature
        pairs = student.mask.unsqueeze(1) & student.mask.unsqueeze(2)
        with torch.no_grad():
            q = (teacher.arcs.detach() / temp).sigmoid()
            q_labels = (teacher.labels.detach() / temp).softmax(-1)
        arc = torch.nn.functional.binary_cross_entropy_with_logits(student.arcs / temp, q, reduction="none")
        label = -(q_labels * (student.labels / temp).log_softmax(-1)).sum(-1)
        term = arc + q * label
        return torch.where(pairs, term, torch.zeros_like(term)).sum((1, 2)) * temp ** 2
