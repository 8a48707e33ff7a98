// The NER teacher: a BiLSTM-CRF with a character CNN (Lample et al. 2016 style), trained from
// scratch offline on CPU. allennlp train training_configs/ner_teacher.jsonnet -s out/ner_teacher
local lib = import 'common.libsonnet';

lib.ner_experiment(
  lib.crf_tagger(word_dim=100, hidden=200, layers=2, char_dim=16, char_filters=64, dropout=0.3),
  lib.words_and_chars,
  epochs=15,
  lr=0.003,
)
