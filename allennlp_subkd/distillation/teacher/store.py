"""
The teacher's on-disk stores, by name (`teacher.cache.store`, `fill-teacher-cache --store`):

- `"sqlite"` (the default): `TeacherSqliteStore`, one SQLite database per teacher
  (`<dir>/<digest[:16]>.sqlite3`);
- `"files"`: `TeacherDiskCache`, one file per sentence (`<dir>/<digest[:16]>/<2 hex>/<hash>.skd`),
  kept for one release.

Both hold the same entry bytes (`disk_cache.encode`) under the same key hash and have one
interface (`get`, `put`, `enabled`, `hits misses writes corrupt evictions`, `stats`, `flush`,
`close`, `dtype`, `directory`, `max_bytes`). `cache_entries` lists a directory's entries
whichever store wrote them.
"""
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from allennlp.common.checks import ConfigurationError

from allennlp_subkd.distillation.teacher.disk_cache import SUFFIX as FILE_SUFFIX, TeacherDiskCache
from allennlp_subkd.distillation.teacher.sqlite_store import (
    SUFFIX as SQLITE_SUFFIX,
    TeacherSqliteStore,
    database_entries,
)

STORES = {"sqlite": TeacherSqliteStore, "files": TeacherDiskCache}
DEFAULT_STORE = "sqlite"

TeacherStore = Union[TeacherSqliteStore, TeacherDiskCache]


def check_store(name: str) -> str:
    if name not in STORES:
        raise ConfigurationError(
            f"teacher.cache.store must be one of {sorted(STORES)}, got {name!r}"
        )
    return name


def make_store(store: str, directory: str, max_mb: float = 2048.0, dtype: str = "float32") -> TeacherStore:
    """The on-disk store named `store` over `directory`."""
    return STORES[check_store(store)](directory, max_mb, dtype)


def cache_entries(directory, store: Optional[str] = None) -> Dict[Tuple[str, str], bytes]:
    """Every entry under a cache directory as `{(digest[:16], key hash): entry bytes}`, the
    digest prefix naming the teacher's folder (`files`) or database (`sqlite`), for both stores
    (`store=None`) or one. The bytes are as stored: `decode` them to check them."""
    if store is not None:
        check_store(store)
    root = Path(directory)
    entries: Dict[Tuple[str, str], bytes] = {}
    if store in (None, "files"):
        for path in sorted(root.glob(f"*/*/*{FILE_SUFFIX}")):
            if not path.name.startswith("."):
                entries[(path.parent.parent.name, path.stem)] = path.read_bytes()
    if store in (None, "sqlite"):
        for path in sorted(root.glob(f"*{SQLITE_SUFFIX}")):
            prefix = path.name[: -len(SQLITE_SUFFIX)]
            for name, data in database_entries(path).items():
                entries[(prefix, name)] = data
    return entries
