// Parsing student preset 'minilm_l3' (dep_minilm_l3_baseline.jsonnet) distilled with the
// objective of dep_struct_kd.jsonnet (its comment says what it is and how it was chosen).
// Not measured yet with KD (`make bench-audit`; the frontier's parsing KD runs are still to do,
// benchmarks/README.md): not a recommendation until it is; dep_minilm_l3_baseline alone keeps
// 98.9 % of the teacher's LAS on the full data.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['structural'], gold_loss='tree', student='minilm_l3')
