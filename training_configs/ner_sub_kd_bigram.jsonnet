// Sub-structure KD (Lin et al. 2022) on label-bigram scores e[t, j] + A[i, j] (with start
// and end transitions): needs a CRF teacher and a CRF student.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'sub_structure', variant: 'bigram', alpha: 0.9 })
