"""Training utilities: the `distillation_epoch` callback (teacher annealing), the epoch timer
the demo and the benchmarks read, and atomic archives (`atomic_archive`: installed on import
unless `ALLENNLP_SUBKD_ATOMIC_ARCHIVE=0`)."""
from allennlp_subkd.training.distillation_epoch import DistillationEpochCallback
from allennlp_subkd.training.epoch_timer import EpochTimerCallback
from allennlp_subkd.training.atomic_archive import install_from_environment as _install_atomic_archives

_install_atomic_archives()
