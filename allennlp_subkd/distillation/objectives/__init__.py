"""Registrable KD objectives: `TaggerDistillation` and `ParserDistillation` families."""
from allennlp_subkd.distillation.objectives.base import DistillationObjective
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
