// Student preset 'minilm_l2' (ner_minilm_l2_baseline.jsonnet) distilled with the objective of
// ner_struct_kd.jsonnet (its comment says what it is and how its weights were chosen).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.structural, student='minilm_l2')
