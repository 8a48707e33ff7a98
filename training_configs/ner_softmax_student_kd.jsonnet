// A softmax student of a CRF teacher (Wang et al. case 2a): the teacher's token marginals
// are the student's soft targets.
// A scenario of Wang et al. for the comparison (benchmarks/results/scenarios_full.md measures the
// span teacher's case 4 into a softmax student, not this config): not measured on the full
// training set (`make bench-audit`), not a recommendation; distil CRF taggers with ner_struct_kd.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'posterior', alpha: 0.5 }, type='distilled_simple_tagger')
