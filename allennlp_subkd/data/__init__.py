"""Registered token indexers (the offline transformer's word pieces, each word's static subwords,
word casing, characters capped per word), the dependency-label and checked CoNLL-2003 dataset
readers, and transfer sets (`TransferSet`, the `transfer_set` data loader)."""
from allennlp_subkd.data.offline_transformer_mismatched_indexer import (
    OfflineTransformerMismatchedIndexer,
)
from allennlp_subkd.data.static_subword_indexer import StaticSubwordIndexer
from allennlp_subkd.data.casing_indexer import CasingIndexer
from allennlp_subkd.data.capped_characters_indexer import CappedTokenCharactersIndexer
from allennlp_subkd.data.dependency_label_reader import DependencyLabelsDatasetReader
from allennlp_subkd.data.checked_conll2003_reader import CheckedConll2003DatasetReader
from allennlp_subkd.data.transfer_set import TransferSet
from allennlp_subkd.data.transfer_set_data_loader import TransferSetDataLoader
from allennlp_subkd.data.checked_universal_dependencies_reader import CheckedUniversalDependenciesDatasetReader
