// Structural KD from a softmax teacher into a CRF student (Wang et al. case 3): the
// teacher's bigram marginals are products of its token distributions.
// Its teacher is a fixture (a softmax tagger trained 3 epochs on the NER sample,
// scripts/make_fixture_teachers.py): a demonstration of case 3, not measured on the full training
// set (`make bench-audit`), not a recommendation.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'structural', alpha: 0.5 }) + {
  model+: { teacher: { archive: 'fixtures/teachers/ner_softmax_teacher.tar.gz' } },
}
