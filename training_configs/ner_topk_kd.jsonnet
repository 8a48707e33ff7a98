// Sequence-level KD on the teacher's k best Viterbi paths (Kim & Rush 2016 style).
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'top_k', k: 3, weighting: 'teacher', alpha: 0.5 })
