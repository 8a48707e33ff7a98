// Parsing student preset 'minilm_l3' (common.libsonnet): the first 3 of all-MiniLM-L6-v2's 6
// layers fine-tuned + UPOS -> biaffine scorers (dep_teacher_transformer, shallower); AdamW with
// warm-up. Trained on gold trees only (its no-KD baseline); dep_minilm_l3_{struct,local,sub}_kd
// distil into it. k = 3 as measured on the full data without KD (one seed, 4 epochs;
// benchmarks/README.md): 88.16 test LAS, 98.9 % of the teacher's (UD-GUM 98.9 %) at 1.8x its
// one-thread speed; k = 2 (`layers: 2`) 95.4 % at 2.5x, k = 1 85.0 % at 3.3x.
local lib = import 'common.libsonnet';

lib.dep_kd(null, student='minilm_l3')
