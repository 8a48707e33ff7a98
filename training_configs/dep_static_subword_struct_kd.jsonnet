// Parsing student preset 'static_subword' (dep_static_subword_baseline.jsonnet) distilled with
// the objective of dep_struct_kd.jsonnet (its comment says what it is and how it was chosen).
// Recommended only with a transfer set: measured on the full data with the 13k-sentence
// GUM/LinES transfer set (3 seeds, the frontier: +2.07 test LAS over dep_static_subword_baseline,
// +1.28 at 10 epochs); as shipped, without one, +0.83 dev and +0.96 test (2 seeds, a retrained
// teacher, `make bench-audit`): positive, not yet backed by three seeds.
// Add the transfer set with -o (docs/transfer_sets.md).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['structural'], gold_loss='tree', student='static_subword')
