// Student preset 'minilm_l3' (common.libsonnet): a truncated-transformer student, the first 3 of
// all-MiniLM-L6-v2's 6 layers (`layers` of offline_transformer_mismatched: another k, or a list of
// indices, DistilBERT-style [0, 2, 4], works too) fine-tuned with a character CNN and a CRF, as
// ner_teacher_transformer but shallower; AdamW with warm-up. Trained on the gold labels only (its
// no-KD baseline); ner_minilm_l3_{struct,posterior,token,sub}_kd distil into it. k = 3 as measured
// on the full data (one seed, 4 epochs; benchmarks/README.md, the frontier): 77.08 test F1 without
// KD, 98.4 % of the teacher with structural KD + transfer set, at 1.8x its one-thread speed (Xeon);
// k = 2 (layers: 2) runs 2.5x but keeps 94.2 %, below the faster static-subword student. It loads
// in one process with its full teacher (tested).
local lib = import 'common.libsonnet';

lib.ner_kd(null, student='minilm_l3')
