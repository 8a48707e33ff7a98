// Sub-structure KD (Lin et al. 2022) on label-bigram scores e[t, j] + A[i, j] (with start
// and end transitions), reduced as Lin et al.'s code does (a mean over batch × time × labels²):
// needs a CRF teacher and a CRF student. alpha = 0.9 was the best on dev
// (benchmarks/results/ner_sweep.md: 0.9, 0.99 tried).
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'sub_structure', variant: 'bigram', reduction: 'mean', alpha: 0.9 })
