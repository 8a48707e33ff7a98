// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_local_kd.jsonnet (its comment says what it is and how it was chosen).
// On the full training set, as shipped (no transfer set) but for the benchmark's 10 epochs: +0.49
// dev, +0.54 test LAS over dep_static_subword_baseline (3 seeds, a retrained teacher, `make
// bench-audit`); its structural twin gains about twice as much (dep_static_subword_struct_kd:
// +1.00 dev, +1.05 test): prefer it.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local'], gold_loss='local', student='static_subword')
