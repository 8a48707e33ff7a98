"""Registered `allennlp` subcommands."""
from allennlp_subkd.commands.fill_teacher_cache import FillTeacherCache, MergeTeacherCache
