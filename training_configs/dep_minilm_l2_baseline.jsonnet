// Parsing student preset 'minilm_l2' (common.libsonnet): the first 2 of all-MiniLM-L6-v2's 6
// layers fine-tuned + UPOS -> biaffine scorers (dep_teacher_transformer, shallower); AdamW with
// warm-up. Trained on gold trees only (its no-KD baseline); dep_minilm_l2_{struct,local,sub}_kd
// distil into it. k = 2 is a default, not a measured choice.
local lib = import 'common.libsonnet';

lib.dep_kd(null, student='minilm_l2')
