"""Modules: the offline transformer token embedder, the batched-Viterbi CRF, the fast bilinear\nrelation scorer."""
from allennlp_subkd.modules.offline_transformer_mismatched_embedder import (
    OfflineTransformerMismatchedEmbedder,
)
from allennlp_subkd.modules.batched_viterbi_crf import BatchedViterbiConditionalRandomField
from allennlp_subkd.modules.fast_bilinear import FastBilinear, bilinear_at, bilinear_pairs
