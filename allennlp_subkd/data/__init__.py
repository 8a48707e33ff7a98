"""Registered token indexers: the offline transformer's word pieces and word casing."""
from allennlp_subkd.data.offline_transformer_mismatched_indexer import (
    OfflineTransformerMismatchedIndexer,
)
from allennlp_subkd.data.casing_indexer import CasingIndexer
