"""
The AllenNLP-facing KD machinery, in three parts that depend one way
(`tasks -> teacher`, `tasks -> objectives`; `teacher` and `objectives` know nothing of each
other, and both read the `TeacherRequest` value of `request.py`):

- `teacher/`: the teacher object, the frozen teacher, its memory and disk caches, the adapter
  base;
- `tasks/`: per structure kind, score extraction, the teacher adapter and the student mixin;
- `objectives/`: the KD terms only, `(student_scores, teacher_scores) -> [batch]`.
"""
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.objectives import *  # noqa: F401,F403
from allennlp_subkd.distillation.objectives.scores import TaggerScores, ParserScores
from allennlp_subkd.distillation.teacher import (
    FrozenTeacher,
    Teacher,
    TeacherAdapter,
    TeacherBatch,
    TeacherCacheSettings,
)
from allennlp_subkd.distillation.tasks import (
    DependencyLabelsTeacherAdapter,
    DistilledModelMixin,
    ParserTeacherAdapter,
    TaggerTeacherAdapter,
)
