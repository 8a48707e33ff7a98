// Structural KD from a softmax teacher into a CRF student (Wang et al. case 3): the
// teacher's bigram marginals are products of its token distributions.
// Its teacher here is a fixture (a softmax tagger trained 3 epochs on the NER sample,
// scripts/make_fixture_teachers.py); give your own with -o. With ner_softmax_teacher trained on the
// full training set (62.2 test F1, benchmarks/results/transfer_full_ner_softmax_teacher.md, 3 seeds)
// it beats ner_baseline by +0.5 dev / +1.0 test F1 (within the seeds' spread), +3.3 test with a
// transfer set: a teacher barely above its student has little to give without unlabeled text.
local lib = import 'common.libsonnet';

lib.ner_kd({ type: 'structural', alpha: 0.5 }) + {
  model+: { teacher: { archive: 'fixtures/teachers/ner_softmax_teacher.tar.gz' } },
}
