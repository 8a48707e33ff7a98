"""allennlp-subkd: knowledge distillation of structured predictors for AllenNLP.

Importing the package (``--include-package allennlp_subkd`` or the ``.allennlp_plugins``
file) registers the distilled models, the KD objectives, the trainer callback and the
offline predictors.
"""
from allennlp_subkd.version import VERSION as __version__  # noqa: F401
from allennlp_subkd import data, modules, distillation, models, predictors, training, commands  # noqa: F401
