// Sub-structure KD (Lin et al. 2022): match the teacher's emission scores with a squared
// error reduced as Lin et al.'s code does (reduction 'mean': a mean over batch × time × labels,
// mixed with the CRF's batch-summed NLL). alpha = 0.99 was the best on dev
// (benchmarks/results/ner_sweep.md: 0.5, 0.9, 0.99, 0.999 tried). variant: "bigram" matches the
// label-bigram scores e[t, j] + A[i, j] instead (ner_sub_kd_bigram).
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'sub_structure', variant: 'emission', reduction: 'mean', alpha: 0.99 })
