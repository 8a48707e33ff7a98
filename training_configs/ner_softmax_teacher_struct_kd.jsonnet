// Structural KD from a softmax teacher into a CRF student (Wang et al. case 3): the
// teacher's bigram marginals are products of its token distributions.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'structural', alpha: 0.5 }) + {
  model+: { teacher: { archive: 'fixtures/teachers/ner_softmax_teacher.tar.gz' } },
}
