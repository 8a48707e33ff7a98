"""
Model archives written atomically.

AllenNLP's `archive_model` writes `model.tar.gz` in place: a disk that fills (or a process
killed) while it writes leaves a truncated archive under the real name, which a later
`allennlp predict`, `evaluate` or a student's `teacher.archive` would try to read. Importing
`allennlp_subkd` (`--include-package allennlp_subkd` or the plugin file) makes `allennlp train`
write the archive to a temporary file beside it and rename it into place only once it is
complete (`os.replace`, atomic on POSIX): the archive is then either the whole new one or
whatever was there before, and the error (`OSError: [Errno 28] No space left on device`) is
AllenNLP's, raised as before.
"""
import logging
import os
from pathlib import Path
from typing import List, Optional, Union

from allennlp.commands import train as train_command
from allennlp.models import archival

logger = logging.getLogger(__name__)

_stock_archive_model = archival.archive_model


def archive_model(
    serialization_dir: Union[str, os.PathLike],
    weights: str = archival._DEFAULT_WEIGHTS,
    archive_path: Union[str, os.PathLike] = None,
    include_in_archive: Optional[List[str]] = None,
) -> str:
    """`allennlp.models.archival.archive_model` (same arguments, same archive), written to
    `<archive>.partial-<pid>` and renamed to `<archive>` when complete; the partial file is
    removed on any error, which is re-raised."""
    if archive_path is not None and os.path.isdir(archive_path):
        final = Path(archive_path) / "model.tar.gz"
    else:
        final = Path(archive_path) if archive_path is not None else Path(serialization_dir) / "model.tar.gz"
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    try:
        _stock_archive_model(serialization_dir, weights, str(partial), include_in_archive)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return str(final)


def install() -> None:
    """Make AllenNLP's archiving (the function and the `train` command's reference) atomic."""
    archival.archive_model = archive_model
    train_command.archive_model = archive_model
