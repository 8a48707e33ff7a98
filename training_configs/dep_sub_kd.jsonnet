// Sub-structure KD (Lin et al. 2022) for the parser: a squared error between the student's and
// the teacher's sub-structure scores, no tree algorithm. Lin et al. have no parser; what is
// matched was chosen on dev data (benchmarks/results/dep_sweep.md): each word's head
// log-probabilities at the teacher's 2 best heads (matching raw scores of every arc makes the
// student worse) and the relation scores at the teacher's best head, each a per-word mean of
// squared errors (Lin et al.'s per-element mean).
local lib = import 'common.libsonnet';

lib.dep_kd({
  type: 'sub_structure',
  arc_scores: 'log_softmax',
  arc_pairs: 'teacher_heads',
  arc_heads: 2,
  label_pairs: 'teacher_heads',
  relation_heads: 1,
  reduction: 'mean',
  alpha: 0.9,
})
