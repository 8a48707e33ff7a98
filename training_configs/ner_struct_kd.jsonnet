// Structural KD (Wang et al. 2021, case 1a): exact sequence-level cross-entropy through the
// CRF teacher's forward-backward marginals.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'structural', alpha: 0.5, temperature: 1.0 })
