// Sub-structure KD (Lin et al. 2022): match the teacher's arc scores on every valid
// (dependent, head) pair and its relation scores at the teacher's best head of each word with
// a squared error; alpha = 0.9 as in the paper. label_pairs: "all" matches the relation
// scores of every pair instead (|relations| x n terms a word: it swamps the gold loss).
local lib = import 'common.libsonnet';

lib.dep_kd({ type: 'sub_structure', label_pairs: 'teacher_heads', alpha: 0.9 })
