// Sub-structure KD (Lin et al. 2022): match the teacher's emission scores with a squared
// error reduced as Lin et al.'s code does (reduction 'mean': a mean over batch × time × labels,
// mixed with the CRF's batch-summed NLL). alpha = 0.5 is the weight that helped in both regimes
// measured: on the full training set 0.99 was the best on dev (+3.2 dev F1 vs +1.5 at 0.5,
// benchmarks/results/ner_sweep.md; results/ner.md was measured at 0.99), but on the
// 1,000-sentence sample 0.99 made the student copy the teacher's raw scores (dev F1 23.9 vs 31.7
// at 0.5 in the demo; test F1 -15.6 vs no KD) where 0.5 helps (+0.7, transfer-set benchmark).
// With a large labeled set try -o '{"model.distillation.alpha": 0.99}'. variant: "bigram"
// matches the label-bigram scores e[t, j] + A[i, j] instead (ner_sub_kd_bigram).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.sub_structure)
