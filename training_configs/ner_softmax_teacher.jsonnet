// A softmax (per-token) NER teacher: the same network as ner_teacher without the CRF.
// Teaches CRF students through Wang et al.'s case 3 (structural KD with a factorised teacher).
local lib = import 'common.libsonnet';

lib.ner_experiment(
  lib.simple_tagger(word_dim=100, hidden=200, layers=2, char_dim=16, char_filters=64),
  lib.words_and_chars,
  epochs=15,
  lr=0.003,
)
