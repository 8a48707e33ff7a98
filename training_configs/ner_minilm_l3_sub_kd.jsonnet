// Student preset 'minilm_l3' (ner_minilm_l3_baseline.jsonnet) distilled with the objective of
// ner_sub_kd.jsonnet (its comment says what it is and how its weights were chosen).
// Not measured on the full training set (`make bench-audit`): not a recommendation at full data
// until it is; the measured config of this preset is ner_minilm_l3_struct_kd (with a
// transfer set).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.sub_structure, student='minilm_l3')
