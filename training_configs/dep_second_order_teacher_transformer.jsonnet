// A second-order parsing teacher (Wang & Tu 2020; `second_order_biaffine_parser`): the MiniLM
// biaffine parser of dep_teacher_transformer plus sibling factors (a triaffine form over 100-d
// projections of its arc representations) and 3 mean-field (MFVI) updates, trained end to end
// on its MFVI head marginals. It teaches the biaffine students of dep_second_order_*_kd and the
// dependency tagger of dep_tagger_second_order_kd (Wang et al.'s case 2b) its MFVI marginals:
//   allennlp train training_configs/dep_second_order_teacher_transformer.jsonnet -s out/dep_so_teacher \
//     --include-package allennlp_subkd
local lib = import 'common.libsonnet';
local epochs = 4;

lib.dep_experiment(lib.transformer_biaffine_parser() + {
  type: 'second_order_biaffine_parser',
  sibling_dim: 100,
  mfvi_iterations: 3,
}, lib.transformer_indexers(casing='none'), epochs) + {
  trainer: lib.transformer_trainer(epochs, steps_per_epoch=32, metric='+LAS'),
}
