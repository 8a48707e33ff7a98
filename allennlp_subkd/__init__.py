"""allennlp-subkd: knowledge distillation of structured predictors for AllenNLP.

Importing the package (``--include-package allennlp_subkd`` or the ``.allennlp_plugins``
file) registers the distilled models, the KD objectives, the trainer callback and the
offline predictors.

It also changes one thing in AllenNLP itself: `allennlp_subkd.training.atomic_archive` replaces
`allennlp.models.archival.archive_model` (and its references `allennlp.models.archive_model` and
`allennlp.commands.train.archive_model`) with a function that writes the same `model.tar.gz`
to a temporary file and renames it into place when complete, so a full disk or a killed run
never leaves a truncated archive under the real name. Set the environment variable
`ALLENNLP_SUBKD_ATOMIC_ARCHIVE=0` (or `false`, `no`, `off`, any case) before the import to keep AllenNLP's
stock function; `allennlp_subkd.training.atomic_archive.uninstall()` restores it at run time.
"""
from allennlp_subkd.version import VERSION as __version__  # noqa: F401
from allennlp_subkd import data, modules, distillation, models, predictors, training, commands  # noqa: F401
