"""Training utilities: the epoch timer the demo and the benchmarks read."""
from allennlp_subkd.training.epoch_timer import EpochTimerCallback
