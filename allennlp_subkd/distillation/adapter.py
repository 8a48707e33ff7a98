"""Deprecated import path: `allennlp_subkd.distillation.teacher.adapter` (and `.request`)."""
from allennlp_subkd.distillation._moved import forward

__getattr__ = forward(__name__, {
    "TeacherAdapter": "allennlp_subkd.distillation.teacher.adapter",
    "TeacherBatch": "allennlp_subkd.distillation.teacher.adapter",
})
