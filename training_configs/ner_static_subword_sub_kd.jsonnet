// Student preset 'static_subword' (ner_static_subword_baseline.jsonnet) distilled with the
// objective of ner_sub_kd.jsonnet (its comment says what it is and how its weights were chosen).
// Not a recommendation: as shipped (no transfer set) it is below ner_static_subword_baseline
// at full data (-0.72 dev / -1.37 test F1, 3 seeds, `make bench-audit`; +1.81 on UNER-PUD): on labeled
// sentences alone this student gains nothing from the teacher. Recommended only with a
// transfer set (-o, docs/transfer_sets.md), where KD pays;
// the measured config of this preset is ner_static_subword_struct_kd with a transfer set
// (+2.20 test F1 at full data, the frontier; the 1,000-sentence sample's results: benchmarks/README.md).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.sub_structure, student='static_subword')
