"""Deprecated import path: `allennlp_subkd.distillation.tasks.student`."""
from allennlp_subkd.distillation._moved import forward

__getattr__ = forward(__name__, {"DistilledModelMixin": "allennlp_subkd.distillation.tasks.student"})
