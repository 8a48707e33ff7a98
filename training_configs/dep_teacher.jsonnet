// The parsing teacher: a BiLSTM biaffine parser (Dozat & Manning 2017) with a character CNN
// and POS tags, trained from scratch offline on CPU.
// allennlp train training_configs/dep_teacher.jsonnet -s out/dep_teacher --include-package allennlp_subkd
local lib = import 'common.libsonnet';

lib.dep_experiment(
  lib.biaffine_parser(
    word_dim=100, hidden=200, layers=3, char_dim=16, char_filters=64, pos_dim=32,
    arc_dim=200, tag_dim=100, dropout=0.33, input_dropout=0.33,
  ),
  lib.words_and_chars,
  epochs=30,
  patience=8,
)
