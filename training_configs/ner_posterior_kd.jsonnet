// Posterior KD: KL between teacher and student token marginals (Wang et al. case 2a
// objective; the "margin_prob" baseline of Lin et al.).
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'posterior', alpha: 0.5, temperature: 1.0 })
