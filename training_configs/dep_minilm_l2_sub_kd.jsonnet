// Parsing student preset 'minilm_l2' (dep_minilm_l2_baseline.jsonnet) distilled with the
// objective of dep_sub_kd.jsonnet (its comment says what it is and how it was chosen).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['sub_structure'], gold_loss='local', student='minilm_l2')
