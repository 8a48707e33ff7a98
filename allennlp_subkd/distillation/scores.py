"""Deprecated import path: `allennlp_subkd.distillation.objectives.scores`."""
from allennlp_subkd.distillation._moved import forward

__getattr__ = forward(__name__, {
    name: "allennlp_subkd.distillation.objectives.scores"
    for name in ("TaggerScores", "ParserScores", "check_shape")
})
