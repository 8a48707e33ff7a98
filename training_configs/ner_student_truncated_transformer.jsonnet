// A truncated-transformer student: the first 2 of all-MiniLM-L6-v2's 6 layers (`layers` may
// also list layer indices, DistilBERT-style [0, 2, 4]), fine-tuned with a character CNN and a
// CRF, as ner_teacher_transformer but shallower. k = 2 is a default, not a measured choice.
// Trained on the gold labels here; distil into it as ner_static_subword_baseline.jsonnet says.
local lib = import 'common.libsonnet';
local epochs = 4;

lib.ner_experiment(
  lib.transformer_crf_tagger(casing='chars', layers=2), lib.transformer_indexers(casing='chars'), epochs
) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32),
}
