// Student preset 'static_subword' (ner_static_subword_baseline.jsonnet) distilled with the
// objective of ner_sub_kd.jsonnet (its comment says what it is and how its weights were chosen).
// Not measured on the full training set (`make bench-audit`): not a recommendation at full data
// until it is; the measured config of this preset is ner_static_subword_struct_kd (with a
// transfer set; the 1,000-sentence sample's results: benchmarks/README.md).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.sub_structure, student='static_subword')
