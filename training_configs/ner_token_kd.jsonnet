// Token-level (Hinton-style) KD on the emission distributions.
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.token)
