"""
The tasks: per structure kind, how scores are read from a model, its teacher adapter and its
student mixin — taggers (`"tagger"`), biaffine parsers (`"parser"`) and a parser teaching a
sequence-labelling parser (`"dependency_labels"`), a span-based NER model teaching taggers
(`"span_ner"`) — plus what every student shares
(`DistilledModelMixin`) and the teacher diagnostics.
"""
from allennlp_subkd.distillation.tasks.student import DistilledModelMixin
from allennlp_subkd.distillation.tasks.diagnostics import TeacherDiagnostics
from allennlp_subkd.distillation.tasks.tagger import DistilledTaggerMixin, TaggerTeacherAdapter
from allennlp_subkd.distillation.tasks.parser import DistilledParserMixin, ParserTeacherAdapter
from allennlp_subkd.distillation.tasks.dependency_labels import DependencyLabelsTeacherAdapter
from allennlp_subkd.distillation.tasks.span_ner import SpanNerTeacherAdapter, SpanScoringModel
