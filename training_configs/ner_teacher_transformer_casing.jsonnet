// ner_teacher_transformer with the casing embedding instead of the character CNN: the
// teacher of the committed full-data NER benchmark (benchmarks/results/ner.md), trained before
// the casing measurement chose the character CNN for the default config.
local lib = import 'common.libsonnet';
local epochs = 4;

lib.ner_experiment(lib.transformer_crf_tagger(casing='embedding'), lib.transformer_indexers(casing='embedding'), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32),
}
