// The worked example's teacher: a stock allennlp-models graph_parser (semantic dependencies),
// words and POS tags, a 2-layer BiLSTM. Data: fixtures/sdp/tiny.sdp (scripts/make_sdp_fixture.py).
{
  dataset_reader: { type: 'semantic_dependencies' },
  train_data_path: 'fixtures/sdp/tiny.sdp',
  validation_data_path: 'fixtures/sdp/tiny.sdp',
  model: {
    type: 'graph_parser',
    text_field_embedder: { token_embedders: { tokens: { type: 'embedding', embedding_dim: 24 } } },
    pos_tag_embedding: { embedding_dim: 8, vocab_namespace: 'pos' },
    encoder: { type: 'lstm', input_size: 32, hidden_size: 24, num_layers: 2, bidirectional: true },
    arc_representation_dim: 24,
    tag_representation_dim: 16,
  },
  data_loader: { batch_size: 8, shuffle: true },
  trainer: { optimizer: { type: 'adam', lr: 0.01 }, num_epochs: 15, validation_metric: '+f1' },
}
