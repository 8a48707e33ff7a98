"""Deprecated import path: `allennlp_subkd.distillation.teacher.config`."""
from allennlp_subkd.distillation._moved import forward

__getattr__ = forward(__name__, {
    name: "allennlp_subkd.distillation.teacher.config"
    for name in ("Teacher", "TeacherCacheSettings", "teacher_from_deprecated")
})
