// The worked example's student: a smaller graph_parser taught by the teacher's graphs
// (structural KD: exact, per-arc Bernoulli cross-entropy plus the label cross-entropy).
//   allennlp train examples/graph_parser_kd/student.jsonnet -s out/ \
//     --include-package allennlp_subkd --include-package examples.graph_parser_kd \
//     -o '{"model.teacher.archive": "out_teacher/model.tar.gz"}'
{
  dataset_reader: { type: 'semantic_dependencies' },
  train_data_path: 'fixtures/sdp/tiny.sdp',
  validation_data_path: 'fixtures/sdp/tiny.sdp',
  model: {
    type: 'distilled_graph_parser',
    text_field_embedder: { token_embedders: { tokens: { type: 'embedding', embedding_dim: 8 } } },
    pos_tag_embedding: { embedding_dim: 4, vocab_namespace: 'pos' },
    encoder: { type: 'lstm', input_size: 12, hidden_size: 8, bidirectional: true },
    arc_representation_dim: 8,
    tag_representation_dim: 8,
    teacher: { archive: 'out_teacher/model.tar.gz' },
    distillation: { type: 'structural', alpha: 0.5 },
  },
  data_loader: { batch_size: 8, shuffle: false },
  trainer: { optimizer: { type: 'adam', lr: 0.01 }, num_epochs: 2, validation_metric: '+f1' },
}
