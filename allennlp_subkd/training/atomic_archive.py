"""
Model archives written atomically: the one patch this package applies to AllenNLP.

AllenNLP's `archive_model` writes `model.tar.gz` in place: a disk that fills (or a process
killed) while it writes leaves a truncated archive under the real name, which a later
`allennlp predict`, `evaluate` or a student's `teacher.archive` would try to read. This
module's `archive_model` takes the same arguments and writes the same archive, to a temporary
file beside it (`<archive>.partial-<pid>`) that it renames into place only once it is complete
(`os.replace`, atomic on POSIX): the archive is then either the whole new one or whatever was
there before, and the error (`OSError: [Errno 28] No space left on device`) is AllenNLP's,
raised as before.

What is patched. Importing `allennlp_subkd` (`--include-package allennlp_subkd`, the
`.allennlp_plugins` file, or `import allennlp_subkd.training`) calls `install()`, which
replaces AllenNLP's function at the three places it is looked up:

- `allennlp.models.archival.archive_model` (the definition),
- `allennlp.models.archive_model` (the package's re-export),
- `allennlp.commands.train.archive_model` (what `allennlp train` calls).

A module that did `from allennlp.models.archival import archive_model` *before* the import
keeps the stock function in its own namespace; every AllenNLP code path goes through the
three names above.

Switching it off. `ALLENNLP_SUBKD_ATOMIC_ARCHIVE=0` (or `false`, `no`, `off`, in any case) in
the environment when `allennlp_subkd` is imported leaves AllenNLP's stock function
everywhere; any other value, or none, installs the atomic one. In Python, `uninstall()`
restores the stock functions and `install()` puts the atomic one back (both idempotent);
`installed()` says which is in force.
"""
import logging
import os
from pathlib import Path
from typing import List, Optional, Union

import allennlp.models
from allennlp.commands import train as train_command
from allennlp.models import archival

logger = logging.getLogger(__name__)

#: the environment variable that turns the patch off when set to one of `OFF_VALUES`
ENVIRONMENT_VARIABLE = "ALLENNLP_SUBKD_ATOMIC_ARCHIVE"
OFF_VALUES = ("0", "false", "no", "off")

#: AllenNLP's own function, whatever was installed later
_stock_archive_model = archival.archive_model

#: the modules holding a reference to `archive_model` that AllenNLP code calls through
_PATCHED_MODULES = (archival, allennlp.models, train_command)


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


def enabled_by_environment() -> bool:
    """False when `ALLENNLP_SUBKD_ATOMIC_ARCHIVE` is `0`, `false`, `no` or `off` (any case)."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() not in OFF_VALUES


def install() -> None:
    """Make AllenNLP's archiving atomic at every place it is looked up (idempotent)."""
    for module in _PATCHED_MODULES:
        module.archive_model = archive_model


def uninstall() -> None:
    """Restore AllenNLP's stock `archive_model` at every place `install` patched (idempotent)."""
    for module in _PATCHED_MODULES:
        module.archive_model = _stock_archive_model


def installed() -> bool:
    """Whether the atomic `archive_model` is in force at every patched place."""
    return all(module.archive_model is archive_model for module in _PATCHED_MODULES)


def install_from_environment() -> bool:
    """`install()` unless the environment turns the patch off; what happens on importing the
    package. Returns whether the atomic archiving is installed."""
    if enabled_by_environment():
        install()
        return True
    logger.info("%s=%s: AllenNLP's stock archive_model is kept (archives are written in place)",
                ENVIRONMENT_VARIABLE, os.environ.get(ENVIRONMENT_VARIABLE))
    return False
