// Token-level (Hinton-style) KD on the emission distributions.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'token', alpha: 0.5, temperature: 2.0 })
