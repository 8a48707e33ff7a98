// Parsing student preset 'minilm_l2' (dep_minilm_l2_baseline.jsonnet) distilled with the
// objective of dep_struct_kd.jsonnet (its comment says what it is and how it was chosen).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['structural'], gold_loss='tree', student='minilm_l2')
