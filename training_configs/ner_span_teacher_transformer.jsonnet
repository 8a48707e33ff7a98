// A span-based NER teacher (Yu et al. 2020, `biaffine_span_tagger`): all-MiniLM-L6-v2 fine-tuned
// (offline, as ner_teacher_transformer) + the same character CNN, every span of at most 16 words
// scored for every entity type and "no entity" by a biaffine product, decoded exactly into
// non-overlapping spans. It teaches the taggers of ner_span_*_kd (Wang et al.'s scenario 4):
//   allennlp train training_configs/ner_span_teacher_transformer.jsonnet -s out/span_teacher \
//     --include-package allennlp_subkd
local lib = import 'common.libsonnet';
local epochs = 4;

lib.ner_experiment(lib.transformer_span_tagger(casing='chars'), lib.transformer_indexers(casing='chars'), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32),
}
