// Local KD from a second-order teacher: per word, the KL between the teacher's MFVI head
// marginals (exactly what it was trained and decodes with) and the student's head softmax, plus
// the relation KL at the teacher's arcs.
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local']) + {
  model+: { teacher+: { archive: lib.dep_second_order_teacher_archive } },
}
