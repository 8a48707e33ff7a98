// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_sub_kd.jsonnet (its comment says what it is and how it was chosen).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['sub_structure'], gold_loss='local', student='static_subword')
