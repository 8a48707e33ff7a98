// Student preset 'minilm_l2' (common.libsonnet): a truncated-transformer student, the first 2 of
// all-MiniLM-L6-v2's 6 layers (`layers` of offline_transformer_mismatched; a list of indices,
// DistilBERT-style [0, 2, 4], works too) fine-tuned with a character CNN and a CRF, as
// ner_teacher_transformer but shallower; AdamW with warm-up. Trained on the gold labels only (its
// no-KD baseline); ner_minilm_l2_{struct,posterior,token,sub}_kd distil into it. k = 2 is a
// default, not a measured choice; measured later (full data, one seed), k = 3 keeps more of the
// teacher (98.4 % of its test F1 with structural KD, k = 2 94.2 %) at less speed-up (1.8x vs 2.5x on
// a Xeon): docs/configuration.md. It loads in one process with its full teacher (tested).
local lib = import 'common.libsonnet';

lib.ner_kd(null, student='minilm_l2')
