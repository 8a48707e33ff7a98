// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_sub_kd.jsonnet (its comment says what it is and how it was chosen).
// A documented negative result, not a recommendation: on the full training set, as shipped (no
// transfer set), it is below dep_static_subword_baseline on dev and test (-0.51 dev, -0.63 test
// LAS, 3 seeds, `make bench-audit`), as the same objective is on the tiny student (dep_sub_kd).
// Use dep_static_subword_struct_kd.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['sub_structure'], gold_loss='local', student='static_subword')
