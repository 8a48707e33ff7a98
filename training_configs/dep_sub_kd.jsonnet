// Sub-structure KD (Lin et al. 2022) for the parser: a squared error between the student's and
// the teacher's sub-structure scores, no tree algorithm. Lin et al. have no parser; what is
// matched was chosen on dev data (benchmarks/results/dep_sweep.md): each word's head
// log-probability at the teacher's best head, a per-word mean (Lin et al.'s per-element mean),
// and no relation term. Raw scores of every arc, the teacher's second head or relation scores
// all made the student worse on dev at every weight tried.
local lib = import 'common.libsonnet';

lib.dep_kd({
  type: 'sub_structure',
  arc_scores: 'log_softmax',
  arc_pairs: 'teacher_heads',
  arc_heads: 1,
  label_pairs: 'none',
  reduction: 'mean',
  alpha: 0.5,
})
