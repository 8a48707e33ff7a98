// A softmax student of a CRF teacher (Wang et al. case 2a): the teacher's token marginals
// are the student's soft targets.
// At full data (benchmarks/results/transfer_full_ner_softmax_student.md, the tiny student, 3 seeds)
// it beats the same softmax student without KD (ner_softmax_baseline) by +1.8 dev / +1.7 test F1,
// +7.2 test with a transfer set; the CRF student of ner_struct_kd stays ahead (63.2 against 58.5
// test F1 with the transfer set): distil into a softmax tagger when the student must be one.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'posterior', alpha: 0.5 }, type='distilled_simple_tagger')
