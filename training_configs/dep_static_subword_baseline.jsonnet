// Parsing student preset 'static_subword' (common.libsonnet): the frozen all-MiniLM-L6-v2 subword
// embedding table (each word the mean of its word pieces' rows) + UPOS, a BiLSTM 64 and the
// biaffine scorers; trained on gold trees only (its no-KD baseline).
// dep_static_subword_{struct,local,sub}_kd distil into it with dep_*_kd.jsonnet's objectives.
local lib = import 'common.libsonnet';

lib.dep_experiment(lib.dep_student(student='static_subword'), lib.dep_student_indexers('static_subword'))
