// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_sub_kd.jsonnet (its comment says what it is and how it was chosen).
// Not measured on the full training set (`make bench-audit`): not a recommendation; on the tiny
// student the same objective is a negative result (dep_sub_kd.jsonnet).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['sub_structure'], gold_loss='local', student='static_subword')
