// Structural KD (Wang et al. 2021): exact tree-level cross-entropy through the teacher's
// matrix-tree arc marginals (tree: "projective" uses Eisner's algorithm instead), plus the
// relation KL on the teacher's expected arcs. The student's own gold loss is the tree-CRF
// likelihood (gold_loss: "tree"), the globally normalised student the factorisation assumes;
// -o '{"model.gold_loss": "local"}' keeps the baseline's per-word arc loss instead.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives.structural, gold_loss='tree')
