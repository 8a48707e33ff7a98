"""
`allennlp fill-teacher-cache`: run a frozen teacher over a data file once and store its
per-sentence outputs in a teacher disk cache, ahead of training.

    allennlp fill-teacher-cache TEACHER.tar.gz DATA --cache-dir DIR \\
        [--batch-size 32] [--cuda-device -1] [--dtype float32] [--max-mb 2048] \\
        [--relation-heads 2] --include-package allennlp_subkd

The entries are exactly what a distilled model's training writes and reads (same keys, same
per-sentence outputs), so a later `allennlp train` with `model.teacher.cache.dir: DIR` and
the same teacher archive runs no teacher forward pass for these sentences. Sentences already
in the cache are skipped, so an interrupted fill resumes where it stopped.
"""
import argparse
import logging
from typing import Dict, List, Optional

import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm
from allennlp.data import Batch, Instance
from allennlp.models.archival import load_archive
from allennlp.nn import util

from allennlp_subkd.distillation.cache import archive_digest
from allennlp_subkd.distillation.disk_cache import TeacherDiskCache
from allennlp_subkd.distillation.parsing import (
    CACHED_RELATION_HEADS,
    PARSER_TEACHERS,
    cached_relation_heads,
    parser_keys,
    parser_teacher_outputs,
)
from allennlp_subkd.distillation.tagging import TAGGER_TEACHERS, tagger_keys, tagger_teacher_outputs

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
        subparser.add_argument("--batch-size", type=int, default=32)
        subparser.add_argument("--cuda-device", type=int, default=-1)
        subparser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                               help="storage precision (the students' teacher.cache.dtype)")
        subparser.add_argument("--max-mb", type=float, default=2048.0,
                               help="bound of the cache in MiB (the students' teacher.cache.dir_mb)")
        subparser.add_argument("--relation-heads", type=int, default=CACHED_RELATION_HEADS,
                               help="parsers: cache the relation scores at the teacher's K best "
                                    "heads per word, what objectives with relation_heads <= K read "
                                    f"(default {CACHED_RELATION_HEADS}, our objectives' default); 0: "
                                    "the relation representations, for relation_heads null")
        subparser.set_defaults(func=fill_teacher_cache_from_args)
        return subparser


def fill_teacher_cache_from_args(args: argparse.Namespace) -> Dict[str, int]:
    return fill_teacher_cache(args.archive_file, args.input_file, args.cache_dir, args.batch_size,
                              args.cuda_device, args.dtype, args.max_mb, args.relation_heads or None)


def fill_teacher_cache(
    archive_file: str,
    input_file: str,
    cache_dir: str,
    batch_size: int = 32,
    cuda_device: int = -1,
    dtype: str = "float32",
    max_mb: float = 2048.0,
    relation_heads: Optional[int] = CACHED_RELATION_HEADS,
) -> Dict[str, int]:
    """Fill `cache_dir`; returns counts of `sentences`, `computed` and `cached` (already there).
    For a parser, `relation_heads` is the objective's (`None`: every pair): the entries are the
    ones a student with that objective reads (`cached_relation_heads`)."""
    if batch_size < 1:
        raise ConfigurationError(f"--batch-size must be >= 1, got {batch_size}")
    if relation_heads is not None and relation_heads < 1:
        raise ConfigurationError(f"--relation-heads must be >= 1 (or 0 for every pair), got {relation_heads}")
    relation_heads = cached_relation_heads(relation_heads)
    archive = load_archive(archive_file, cuda_device=cuda_device)
    model = archive.model
    if isinstance(model, PARSER_TEACHERS):
        kind = "parser"
    elif isinstance(model, TAGGER_TEACHERS):
        kind = "tagger"
    else:
        raise ConfigurationError(
            f"{archive_file} holds a {type(model).__name__}, which is no tagger or parser teacher"
        )
    model.eval()
    disk = TeacherDiskCache(cache_dir, max_mb, dtype)
    if not disk.enabled:
        raise ConfigurationError(f"the cache directory {cache_dir!r} is not writable")
    digest = archive_digest(archive_file)
    device = torch.device("cpu") if cuda_device < 0 else torch.device("cuda", cuda_device)
    instances: List[Instance] = list(archive.dataset_reader.read(input_file))
    # longest first, so padding is small and a memory problem shows at once
    order = sorted(range(len(instances)), key=lambda i: -len(_words(instances[i])))
    counts = {"sentences": len(instances), "computed": 0, "cached": 0}
    progress = Tqdm.tqdm(range(0, len(order), batch_size), desc="teacher outputs")
    for start in progress:
        batch_instances = [instances[i] for i in order[start:start + batch_size]]
        words = [_words(instance) for instance in batch_instances]
        if kind == "tagger":
            keys = tagger_keys(words)
        else:
            keys = parser_keys(words, [instance["metadata"]["pos"] for instance in batch_instances],
                               relation_heads)
        todo = [j for j, key in enumerate(keys) if disk.get(digest, key) is None]
        counts["cached"] += len(keys) - len(todo)
        if not todo:
            continue
        batch = Batch([batch_instances[j] for j in todo])
        batch.index_instances(model.vocab)
        tensors = util.move_to_device(batch.as_tensor_dict(), device)
        if kind == "tagger":
            outputs = tagger_teacher_outputs(model, tensors["tokens"], [len(words[j]) for j in todo])
        else:
            outputs = parser_teacher_outputs(model, tensors["words"], tensors["pos_tags"],
                                             tensors.get("metadata"), [len(words[j]) + 1 for j in todo],
                                             relation_heads)
        for j, output in zip(todo, outputs):
            disk.put(digest, keys[j], output)
        counts["computed"] += len(todo)
    logger.info("teacher cache %s: %d sentences, %d computed, %d already cached (%s)",
                cache_dir, counts["sentences"], counts["computed"], counts["cached"], disk.stats())
    return counts


def _words(instance: Instance) -> List[str]:
    metadata = instance.fields.get("metadata")
    if metadata is None or "words" not in metadata.metadata:  # type: ignore[attr-defined]
        raise ConfigurationError("the teacher's dataset reader gives no metadata words to key the cache on")
    return list(metadata["words"])  # type: ignore[index]
