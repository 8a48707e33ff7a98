"""Modules: the offline transformer and static-subword token embedders, the batched-Viterbi CRF,
the fast bilinear relation scorer."""
from allennlp_subkd.modules.offline_transformer_mismatched_embedder import (
    OfflineTransformerMismatchedEmbedder,
)
from allennlp_subkd.modules.static_subword_embedder import StaticSubwordEmbedder, mean_of_pieces
from allennlp_subkd.modules.batched_viterbi_crf import BatchedViterbiConditionalRandomField
from allennlp_subkd.modules.fast_bilinear import FastBilinear, bilinear_at, bilinear_pairs
