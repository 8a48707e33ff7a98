// Sub-structure KD (Lin et al. 2022): match the teacher's emission scores with a masked
// squared error; alpha = 0.9 as in the paper. variant: "bigram" matches the label-bigram
// scores e[t, j] + A[i, j] instead.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'sub_structure', variant: 'emission', alpha: 0.9 })
