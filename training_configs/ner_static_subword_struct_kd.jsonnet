// Student preset 'static_subword' (ner_static_subword_baseline.jsonnet) distilled with the
// objective of ner_struct_kd.jsonnet (its comment says what it is and how its weights were chosen).
// Recommended only with a transfer set: measured on the full data with the 13k-sentence
// GUM/LinES transfer set (3 seeds, the frontier: +2.20 test F1 over ner_static_subword_baseline,
// 98.2 % of the teacher); as shipped, without one, it gains nothing measurable at full data
// (+0.10 dev / +0.10 test F1, 3 seeds, within the seeds' spread of +-1.3: `make bench-audit`).
// Add the transfer set with -o (docs/transfer_sets.md).
local lib = import 'common.libsonnet';

lib.ner_kd(lib.ner_objectives.structural, student='static_subword')
