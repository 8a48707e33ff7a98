"""Registered token embedders: the offline transformer."""
from allennlp_subkd.modules.offline_transformer_mismatched_embedder import (
    OfflineTransformerMismatchedEmbedder,
)
from allennlp_subkd.modules.batched_viterbi_crf import BatchedViterbiConditionalRandomField
