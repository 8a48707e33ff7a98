// Wang et al. (2021) case 2b: a second-order parser (sibling factors, MFVI) teaches the
// sequence-labelling parser. The dependency_labels adapter turns the teacher's MFVI head marginals
// (tree: "local" takes them as they are) and relation softmax into the marginals of the
// student's labels; structural KD is then the cross-entropy with that (approximate) teacher.
local lib = import 'common.libsonnet';

lib.dep_tagger_experiment({ type: 'structural', alpha: 0.5 }) + {
  model+: { teacher+: {
    archive: lib.dep_second_order_teacher_archive,
    adapter: { type: 'dependency_labels', tree: 'local', relation_heads: 2 },
  } },
}
