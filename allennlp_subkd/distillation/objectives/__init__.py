"""Registrable KD objectives, the `TaggerDistillation` and `ParserDistillation` families, and
the scores they compare. Each objective is `(student_scores, teacher_scores) -> [batch]`."""
from allennlp_subkd.distillation.objectives.base import DistillationObjective
from allennlp_subkd.distillation.objectives.scores import ParserScores, TaggerScores
from allennlp_subkd.distillation.objectives.tagging import (
    TaggerDistillation,
    SubStructureTaggerDistillation,
    StructuralTaggerDistillation,
    PosteriorTaggerDistillation,
    TokenTaggerDistillation,
    TopKTaggerDistillation,
)
from allennlp_subkd.distillation.objectives.parsing import (
    ParserDistillation,
    SubStructureParserDistillation,
    LocalParserDistillation,
    StructuralParserDistillation,
)
