// A softmax student of a CRF teacher (Wang et al. case 2a): the teacher's token marginals
// are the student's soft targets.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'posterior', alpha: 0.5 }, type='distilled_simple_tagger')
