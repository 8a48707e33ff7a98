"""Registered token indexers (the offline transformer's word pieces, word casing) and the
dependency-label dataset reader."""
from allennlp_subkd.data.offline_transformer_mismatched_indexer import (
    OfflineTransformerMismatchedIndexer,
)
from allennlp_subkd.data.casing_indexer import CasingIndexer
from allennlp_subkd.data.dependency_label_reader import DependencyLabelsDatasetReader
from allennlp_subkd.data.checked_conll2003_reader import CheckedConll2003DatasetReader
