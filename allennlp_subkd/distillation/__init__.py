"""The AllenNLP-facing KD machinery: the frozen teacher, the objectives, the callback."""
from allennlp_subkd.distillation.scores import TaggerScores, ParserScores
from allennlp_subkd.distillation.objectives import *  # noqa: F401,F403
from allennlp_subkd.distillation.teacher import FrozenTeacher
from allennlp_subkd.distillation.student import DistilledModelMixin
from allennlp_subkd.distillation.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher_config import Teacher, TeacherCacheSettings
from allennlp_subkd.distillation.tagging import TaggerTeacherAdapter
from allennlp_subkd.distillation.parsing import ParserTeacherAdapter
from allennlp_subkd.distillation.dependency_labels import DependencyLabelsTeacherAdapter
from allennlp_subkd.distillation.callback import DistillationEpochCallback
