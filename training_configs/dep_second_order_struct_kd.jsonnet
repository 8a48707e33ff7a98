// Structural KD from a second-order teacher (sibling factors, MFVI; Wang et al. 2021's
// second-order teacher) to the first-order biaffine student: the tree-level cross-entropy
// log Z_s - Σ μ_t a_s depends on the teacher only through its arc marginals μ_t, which here are
// its MFVI approximation (exact second-order tree marginals are intractable; the objective says
// so once in the log). Teacher: -o '{"model.teacher.archive": "out/dep_so_teacher/model.tar.gz"}'.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives.structural, gold_loss='tree') + {
  model+: { teacher+: { archive: lib.dep_second_order_teacher_archive } },
}
