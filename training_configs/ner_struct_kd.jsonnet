// Structural KD (Wang et al. 2021, case 1a): exact sequence-level cross-entropy through the
// CRF teacher's forward-backward marginals.
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.structural)
