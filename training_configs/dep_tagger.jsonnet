// Dependency parsing as sequence labelling (Strzyż et al. 2019): a softmax tagger over the
// relative-POS head labels, no teacher (the baseline of dep_tagger_struct_kd).
local lib = import 'common.libsonnet';

lib.dep_tagger_experiment()
