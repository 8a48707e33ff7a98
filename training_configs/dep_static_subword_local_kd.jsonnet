// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_local_kd.jsonnet (its comment says what it is and how it was chosen).
// On the full training set, as shipped (no transfer set): +0.49 dev, +0.39 test LAS over
// dep_static_subword_baseline with 2 seeds (`make bench-audit`): not a recommendation at full data
// until three seeds back it; dep_static_subword_struct_kd gains more (+0.96 test).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local'], gold_loss='local', student='static_subword')
