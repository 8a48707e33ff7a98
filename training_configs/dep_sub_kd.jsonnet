// Sub-structure KD (Lin et al. 2022) for the parser: a squared error between the student's and
// the teacher's sub-structure scores, no tree algorithm. Lin et al. have no parser; what is
// matched was chosen on dev data (benchmarks/results/dep_sweep.md): each word's head
// log-probability at the teacher's best head, a per-word mean (Lin et al.'s per-element mean),
// and no relation term. Raw scores of every arc, the teacher's second head or relation scores
// all made the student worse on dev at every weight tried.
// A NEGATIVE RESULT, shipped for the comparison, not as a recommendation: on test it is below
// the plain student in every measured setting (3 seeds: -1.48 LAS on the full training set,
// results/dep.md; -0.22 on the 1,000-sentence sample with the MiniLM teacher, and +7.8 with a
// transfer set where structural and local KD give +14, results/transfer_low_dep.md). Distil
// parsers with dep_struct_kd or dep_local_kd.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives.sub_structure)
