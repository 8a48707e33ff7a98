// Parsing student preset 'minilm_l3' (dep_minilm_l3_baseline.jsonnet) distilled with the
// objective of dep_local_kd.jsonnet (its comment says what it is and how it was chosen).
// Not measured on the full training set (`make bench-audit`): not a recommendation at full data
// until it is; the measured config of this preset is none yet (the frontier's KD runs for
// parsing are still to do: benchmarks/README.md).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local'], gold_loss='local', student='minilm_l3')
