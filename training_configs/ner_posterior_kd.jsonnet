// Posterior KD: KL between teacher and student token marginals (Wang et al. case 2a
// objective; the "margin_prob" baseline of Lin et al.).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.posterior)
