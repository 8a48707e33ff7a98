// Wang et al. (2021) case 1b: a biaffine parser teaches a sequence-labelling parser. The
// dependency_labels adapter turns the teacher's tree (matrix-tree) marginals into the exact
// marginals of the student's labels, so structural KD is the exact cross-entropy.
local lib = import 'common.libsonnet';

lib.dep_tagger_experiment({ type: 'structural', alpha: 0.5 }) + {
  model+: { teacher+: { adapter: { type: 'dependency_labels', tree: 'nonprojective', relation_heads: 2 } } },
}
