// A student a practitioner would ship: the frozen all-MiniLM-L6-v2 subword embedding table
// (each word the mean of its word pieces' rows, no transformer layer) + a character CNN, then
// the shared student's BiLSTM-CRF (DESIGN.md section 8). Frozen, unprojected, 8 pieces a word:
// defaults, not measured choices. Trained on the gold labels here; add a teacher and an
// objective to distil into it:
//   allennlp train training_configs/ner_student_static_subword.jsonnet -s out/static \
//     --include-package allennlp_subkd -o '{"model.teacher": {"archive": "out/teacher/model.tar.gz"},
//     "model.distillation": {"type": "structural", "alpha": 0.5}}'
local lib = import 'common.libsonnet';

lib.ner_experiment(
  lib.static_subword_crf_tagger(lib.ner_student_dims.hidden, casing='chars') + { type: 'distilled_crf_tagger' },
  lib.static_subword_indexers(casing='chars'),
)
