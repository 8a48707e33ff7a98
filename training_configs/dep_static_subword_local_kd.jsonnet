// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_local_kd.jsonnet (its comment says what it is and how it was chosen).
// Not measured on the full training set (`make bench-audit`): not a recommendation at full data
// until it is; the measured config of this preset is dep_static_subword_struct_kd (with a
// transfer set).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local'], gold_loss='local', student='static_subword')
