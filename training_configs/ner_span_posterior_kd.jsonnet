// A softmax student of a span teacher (Wang et al. 2021, scenario 4, as in StructuralKD's case-4
// code): the token-level KL to the teacher's exact per-token tag marginals, from forward-backward
// over its distribution over non-overlapping labelled spans (the "span_ner" adapter). For this
// student the `structural` objective is the same cross-entropy up to the teacher's entropy.
local lib = import 'common.libsonnet';

lib.ner_span_kd(lib.ner_objectives.posterior, type='distilled_simple_tagger')
