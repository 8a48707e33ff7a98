// The small NER student as a softmax (MaxEnt) tagger trained on gold labels only: the no-KD
// baseline of the softmax students (ner_softmax_student_kd, ner_span_posterior_kd), the same
// embeddings and BiLSTM as ner_baseline's CRF student without its transition scores.
local lib = import 'common.libsonnet';

lib.ner_experiment(lib.ner_student(type='distilled_simple_tagger'), lib.words)
