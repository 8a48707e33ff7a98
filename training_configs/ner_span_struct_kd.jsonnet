// Structural KD from a span teacher to a CRF student (Wang et al. 2021, scenario 4: incompatible
// factorisations): the exact cross-entropy between the teacher's distribution over
// non-overlapping labelled spans and the student's CRF, through the teacher's exact tag and
// tag-bigram marginals (forward-backward over segments; the "span_ner" adapter). Teacher:
// -o '{"model.teacher.archive": "out/span_teacher/model.tar.gz"}' (ner_span_teacher_transformer).
local lib = import 'common.libsonnet';

lib.ner_span_kd(lib.ner_objectives.structural)
