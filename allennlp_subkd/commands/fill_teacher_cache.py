"""
`allennlp fill-teacher-cache`: run a frozen teacher over a data file once and store its
per-sentence outputs in a teacher disk cache, ahead of training.

    allennlp fill-teacher-cache TEACHER.tar.gz DATA --cache-dir DIR \\
        [--adapter NAME_OR_JSON] [--relation-heads 2] [--format FORMAT] [--shard K/N] \\
        [--batch-size 32] [--cuda-device -1] [--dtype float32] [--max-mb 2048] \\
        [--store sqlite] --include-package allennlp_subkd

It drives the teacher adapter a student would use (`--adapter`: a registered name such as
`"parser"` or `"dependency_labels"`, or a JSON object with its arguments; by default the
registered adapter whose `teacher_types` hold the archive's model, among those with
`default_for_teacher_types`) through the same path as training, `FrozenTeacher.outputs`, with
the same `TeacherRequest` (`--relation-heads`, for parsers: what the students' objective asks),
so it writes exactly the entries a later `allennlp train` with `model.teacher.cache.dir: DIR`
and the same archive reads: any adapter, including one of your own (`--include-package` its
module). Batches come from the teacher's own dataset reader, indexed with its own vocabulary,
through `adapter.fill_batch`; with `--format` (`text`, `tokens`, `conll`, `conllu`) DATA is a
transfer set, read as the `transfer_set` data loader reads it and made into unlabeled
instances of the teacher's reader, so the students' transfer-set sentences are cached too.

`--store` names the on-disk store (the students' `teacher.cache.store`): `sqlite` (default, one
database per teacher) or `files` (one file per sentence).

`--shard K/N` fills only the sentences whose number (0-based, in file order) is `K - 1` modulo
`N`: N processes or machines, shards 1/N .. N/N, fill one store together. Every entry is written
atomically (one transaction, or a temporary file renamed), so the N processes of one machine may
write one directory; or each fills a directory of its own and the directories are merged: by
`allennlp merge-teacher-cache --cache-dir cache shard*/` for `sqlite` (`merge_stores`), by
copying their files into one for `files` (`cp -r shard*/. cache/`). No two shards write the same
entry unless the same sentence is in two shards, and then both are the same entry. Processes on
several machines sharing a network file system need `--store files` (SQLite's WAL mode needs the
processes on one machine), or directories of their own, merged. Sentences already in the cache
are skipped, so an interrupted fill resumes where it stopped.
"""
import argparse
import json
import logging
from typing import Dict, List, Optional, Tuple, Union

import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm
from allennlp.data import Batch, Instance
from allennlp.nn import util

from allennlp_subkd.data.transfer_set import check_format, read_all
from allennlp_subkd.data.transfer_set_data_loader import unlabeled_instance
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.parser import CACHED_RELATION_HEADS
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.distillation.teacher.sqlite_store import merge_stores
from allennlp_subkd.distillation.teacher.store import DEFAULT_STORE, STORES

logger = logging.getLogger(__name__)


@Subcommand.register("fill-teacher-cache")
class FillTeacherCache(Subcommand):
    """
    Registered as a `Subcommand` with name "fill-teacher-cache" (see the module docstring).
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = "Fill a teacher disk cache with a frozen teacher's outputs on a data file."
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("archive_file", type=str, help="the teacher's model.tar.gz")
        subparser.add_argument("input_file", type=str,
                               help="data the teacher's own dataset reader reads (the students' training file)")
        subparser.add_argument("--cache-dir", type=str, required=True,
                               help="the directory given to the students as teacher.cache.dir")
        subparser.add_argument("--adapter", type=str, default=None,
                               help="the students' teacher adapter: a registered name, or a JSON "
                                    'object with its arguments (\'{"type": "dependency_labels"}\'); '
                                    "default: the adapter registered for the teacher's model type")
        subparser.add_argument("--format", type=str, default=None,
                               help="DATA is a transfer set of this format (text, tokens, conll, conllu), "
                                    "as the transfer_set data loader reads it; default: the teacher's "
                                    "own dataset reader reads DATA")
        subparser.add_argument("--shard", type=str, default=None,
                               help="K/N: fill only the sentences numbered K-1 modulo N (N processes "
                                    "fill one store together, shards 1/N .. N/N)")
        subparser.add_argument("--batch-size", type=int, default=32)
        subparser.add_argument("--cuda-device", type=int, default=-1)
        subparser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                               help="storage precision (the students' teacher.cache.dtype)")
        subparser.add_argument("--max-mb", type=float, default=2048.0,
                               help="bound of the cache in MiB (the students' teacher.cache.dir_mb)")
        subparser.add_argument("--store", choices=sorted(STORES), default=DEFAULT_STORE,
                               help="the on-disk store (the students' teacher.cache.store): sqlite, one "
                                    "database per teacher, or files, one file per sentence")
        subparser.add_argument("--relation-heads", type=int, default=CACHED_RELATION_HEADS,
                               help="parsers: the relation_heads of the students' objective (the "
                                    "entries hold the relation scores at the teacher's best "
                                    f"max(K, {CACHED_RELATION_HEADS}) heads; default "
                                    f"{CACHED_RELATION_HEADS}, our objectives' default); 0: every "
                                    "pair (relation_heads null). Other adapters ignore it")
        subparser.set_defaults(func=fill_teacher_cache_from_args)
        return subparser


def fill_teacher_cache_from_args(args: argparse.Namespace) -> Dict[str, int]:
    adapter: Optional[Union[str, Dict]] = args.adapter
    if adapter is not None and adapter.lstrip().startswith("{"):
        try:
            adapter = json.loads(adapter)
        except ValueError as error:
            raise ConfigurationError(f"--adapter is neither a registered name nor JSON: {error}") from error
    return fill_teacher_cache(args.archive_file, args.input_file, args.cache_dir, args.batch_size,
                              args.cuda_device, args.dtype, args.max_mb, args.relation_heads or None,
                              adapter, args.format, parse_shard(args.shard), args.store)


@Subcommand.register("merge-teacher-cache")
class MergeTeacherCache(Subcommand):
    """
    Registered as a `Subcommand` with name "merge-teacher-cache": copies the entries of SQLite
    teacher stores (directories filled by `fill-teacher-cache --shard`, each on a machine of its
    own) into one store (`merge_stores`). Stores of `--store files` are merged by copying their
    files (`cp -r shard*/. cache/`).
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = "Merge SQLite teacher caches (fill-teacher-cache --shard) into one."
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("sources", nargs="+", help="cache directories to merge")
        subparser.add_argument("--cache-dir", type=str, required=True,
                               help="the directory that receives every entry (the students' teacher.cache.dir)")
        subparser.set_defaults(func=merge_teacher_cache_from_args)
        return subparser


def merge_teacher_cache_from_args(args: argparse.Namespace) -> Dict[str, int]:
    added = merge_stores(args.cache_dir, args.sources)
    for name, count in sorted(added.items()):
        logger.info("teacher cache %s: %d entries added to %s", args.cache_dir, count, name)
    if not added:
        logger.warning("no SQLite teacher cache (*.sqlite3) under %s", ", ".join(args.sources))
    return added


def default_adapter_name(model: torch.nn.Module) -> str:
    """The registered adapter for a teacher of this model type: the one, among the adapters with
    `default_for_teacher_types`, whose `teacher_types` hold the most specific class of `model`
    (a `ConfigurationError` when none does)."""
    candidates = []
    for name in TeacherAdapter.list_available():
        cls = TeacherAdapter.by_name(name)
        if cls.default_for_teacher_types and isinstance(model, cls.teacher_types):
            # how close the nearest accepted class is in the model's MRO (0: exactly it)
            depth = min(type(model).__mro__.index(t) for t in type(model).__mro__
                        if t in cls.teacher_types or any(issubclass(t, a) for a in cls.teacher_types))
            candidates.append((depth, name))
    if not candidates:
        raise ConfigurationError(
            f"no registered teacher adapter reads a {type(model).__name__} teacher; give "
            "--adapter (and --include-package the module that registers it)"
        )
    return min(candidates)[1]


def fill_teacher_cache(
    archive_file: str,
    input_file: str,
    cache_dir: str,
    batch_size: int = 32,
    cuda_device: int = -1,
    dtype: str = "float32",
    max_mb: float = 2048.0,
    relation_heads: Optional[int] = CACHED_RELATION_HEADS,
    adapter: Optional[Union[str, Dict, TeacherAdapter]] = None,
    transfer_format: Optional[str] = None,
    shard: Optional[Tuple[int, int]] = None,
    store: str = DEFAULT_STORE,
) -> Dict[str, int]:
    """Fill `cache_dir` with the entries `adapter` (a registered name, a params dict, an adapter,
    or `None`: the default for the teacher's type) computes for `TeacherRequest(relation_heads)`
    (`None`: every pair), on `input_file` read by the teacher's dataset reader or, with
    `transfer_format`, as a transfer set of that format (only the sentences of `shard = (K, N)`,
    see `--shard`), in the on-disk `store` (`"sqlite"` or `"files"`); returns counts of `sentences`, `computed` and `cached` (already
    there)."""
    if batch_size < 1:
        raise ConfigurationError(f"--batch-size must be >= 1, got {batch_size}")
    if transfer_format is not None:
        check_format(transfer_format)
    if shard is not None:
        check_shard(*shard)
    if relation_heads is not None and relation_heads < 1:
        raise ConfigurationError(f"--relation-heads must be >= 1 (or 0 for every pair), got {relation_heads}")
    teacher = FrozenTeacher(archive_file, (torch.nn.Module,), "fill-teacher-cache",
                            cache_mb=1.0, cache_dtype=dtype, cache_dir=cache_dir, cache_dir_mb=max_mb,
                            cache_store=store)
    if teacher.disk is None or not teacher.disk.enabled:
        raise ConfigurationError(f"the cache directory {cache_dir!r} is not writable")
    model = teacher.model
    if adapter is None:
        adapter = default_adapter_name(model)
    if isinstance(adapter, str):
        adapter = {"type": adapter}
    if isinstance(adapter, dict):
        adapter = TeacherAdapter.from_params(Params(adapter))
    if not isinstance(model, adapter.teacher_types):
        accepted = ", ".join(t.__name__ for t in adapter.teacher_types)
        raise ConfigurationError(
            f"{archive_file} holds a {type(model).__name__}; the teacher adapter {adapter.name} "
            f"reads {accepted}"
        )
    device = torch.device("cpu") if cuda_device < 0 else torch.device("cuda", cuda_device)
    teacher.to(device)
    entry = adapter.entry_request(TeacherRequest(relation_heads=relation_heads))
    k, n = shard or (1, 1)
    if transfer_format is None:
        instances: List[Instance] = [instance for i, instance in enumerate(teacher.dataset_reader.read(input_file))
                                     if i % n == k - 1]
    else:
        source = f"transfer set {input_file!r}"
        instances = [unlabeled_instance(teacher.dataset_reader, sentence, source)
                     for i, sentence in enumerate(read_all(input_file, transfer_format)) if i % n == k - 1]
    # longest first, so padding is small and a memory problem shows at once
    order = sorted(range(len(instances)), key=lambda i: -len(_words(instances[i])))
    counts = {"sentences": len(instances), "computed": 0, "cached": 0}
    disk = teacher.disk
    progress = Tqdm.tqdm(range(0, len(order), batch_size), desc="teacher outputs")
    for start in progress:
        batch_instances = [instances[i] for i in order[start:start + batch_size]]
        batch = Batch(batch_instances)
        batch.index_instances(teacher.vocab)
        tensors = util.move_to_device(batch.as_tensor_dict(), device)
        writes = disk.writes
        teacher.outputs(adapter, adapter.fill_batch(teacher, tensors), entry)
        if not disk.enabled:  # it could not open or write its store (one warning says why)
            raise ConfigurationError(f"the teacher cache in {cache_dir!r} cannot be written (see the "
                                     "warning above); nothing more is stored")
        counts["computed"] += disk.writes - writes
        teacher.cache.clear()  # the memory cache only passes entries on: keep it empty
    counts["cached"] = counts["sentences"] - counts["computed"]
    disk.close()  # a SQLite store: its last-used times written, its write-ahead log folded in
    logger.info("teacher cache %s: %d sentences, %d computed, %d already cached (%s)",
                cache_dir, counts["sentences"], counts["computed"], counts["cached"], disk.stats())
    return counts


def check_shard(k: int, n: int) -> Tuple[int, int]:
    """`(k, n)` if `1 <= k <= n`, else a `ConfigurationError`."""
    if not (isinstance(k, int) and isinstance(n, int) and n >= 1 and 1 <= k <= n):
        raise ConfigurationError(f"--shard K/N needs 1 <= K <= N, got {k}/{n}")
    return k, n


def parse_shard(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """`"K/N"` as `(K, N)` (checked), `None` for no sharding."""
    if text is None:
        return None
    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigurationError(f"--shard must be K/N with whole numbers, e.g. 2/4; got {text!r}")
    return check_shard(int(parts[0]), int(parts[1]))


def _words(instance: Instance) -> List[str]:
    metadata = instance.fields.get("metadata")
    if metadata is None:
        raise ConfigurationError("the teacher's dataset reader gives no metadata to key the cache on")
    meta = metadata.metadata  # type: ignore[attr-defined]
    words = meta.get("words", meta.get("tokens"))
    if words is None:
        raise ConfigurationError("the teacher's dataset reader gives no metadata words to key the cache on")
    return list(words)
