// Student preset 'static_subword' (common.libsonnet): the frozen all-MiniLM-L6-v2 subword
// embedding table (each word the mean of its word pieces' rows, no transformer layer) + a
// character CNN, a BiLSTM 64 and a CRF; trained on the gold labels only (its no-KD baseline).
// ner_static_subword_{struct,posterior,token,sub}_kd distil into it with the tiny student's
// objectives (ner_*_kd.jsonnet); add the transfer set of docs/transfer_sets.md with -o.
local lib = import 'common.libsonnet';

lib.ner_experiment(lib.ner_student(student='static_subword'), lib.ner_student_indexers('static_subword'))
