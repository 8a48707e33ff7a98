"""
The teacher runtime: the `teacher` model argument (`Teacher`, `TeacherCacheSettings`), the
frozen teacher (`FrozenTeacher`: lazy loading, label alignment, input rebuilding and the one
path that computes, caches and assembles its outputs), its memory cache and on-disk stores, and the
adapter base (`TeacherAdapter`, `TeacherBatch`). Knows no objective and no task.
"""
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.cache import TeacherCache, archive_digest
from allennlp_subkd.distillation.teacher.disk_cache import TeacherDiskCache
from allennlp_subkd.distillation.teacher.sqlite_store import TeacherSqliteStore
from allennlp_subkd.distillation.teacher.store import cache_entries, make_store
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.distillation.teacher.config import Teacher, TeacherCacheSettings
