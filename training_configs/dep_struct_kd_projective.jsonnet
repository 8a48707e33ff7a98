// Structural KD over projective trees: the teacher's arc marginals and the student's partition
// function come from Eisner's algorithm (allennlp_subkd.structures.tree.eisner) instead of the
// matrix-tree theorem. The student's gold loss stays the per-word arc loss: UD-EWT's training
// set has 288 non-projective trees (of 12,544), which the projective tree CRF gives probability
// zero (gold_loss "tree" would stop with an error naming the first such sentence).
// Measured with one seed only (full data, 2-epoch teacher): +0.13 dev LAS, -0.29 test against the
// plain student (benchmarks/README.md, `make bench-audit`): not a recommendation until measured
// with three; `dep_struct_kd` (+1.02 test, 3 seeds) is.
local lib = import 'common.libsonnet';

lib.dep_kd({ type: 'structural', tree: 'projective', alpha: 0.5, temperature: 1.0 }, gold_loss='local')
