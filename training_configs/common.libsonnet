// Shared pieces of every allennlp-subkd config. Paths are relative to the repository root
// (run `allennlp train` from there); every top-level path and model.teacher.archive can be
// overridden with `-o '{"train_data_path": "...", "model.teacher.archive": "..."}'`.
{
  // ---------------------------------------------------------------- data
  // A CC BY-SA 4.0 sample of UNER / UD English-EWT shipped in the repo (see its README);
  // the full corpora are in ../shared/data.
  ner_data:: {
    train: 'fixtures/data/uner_ewt/train.conll',
    dev: 'fixtures/data/uner_ewt/dev.conll',
    test: 'fixtures/data/uner_ewt/test.conll',
  },
  dep_data:: {
    train: 'fixtures/data/ud_ewt/train.conllu',
    dev: 'fixtures/data/ud_ewt/dev.conllu',
    test: 'fixtures/data/ud_ewt/test.conllu',
  },
  // Teachers the KD configs use unless -o model.teacher.archive says otherwise: small
  // teachers trained on the sample by scripts/make_fixture_teachers.py (make demo trains a
  // proper one and passes it with -o).
  ner_teacher_archive:: 'fixtures/teachers/ner_crf_teacher.tar.gz',
  // a span-based NER teacher (biaffine_span_tagger) for Wang et al.'s scenario 4 (ner_span_*_kd)
  ner_span_teacher_archive:: 'fixtures/teachers/ner_span_teacher.tar.gz',
  dep_teacher_archive:: 'fixtures/teachers/dep_teacher.tar.gz',
  // a second-order (sibling, MFVI) parser teacher for Wang et al.'s case 2b (dep_second_order_*_kd)
  dep_second_order_teacher_archive:: 'fixtures/teachers/dep_second_order_teacher.tar.gz',

  // ---------------------------------------------------------------- inputs
  words:: { tokens: { type: 'single_id' } },
  // Each word's characters for a character CNN (filters of width 3): at most the first
  // `max_token_characters` of a word (`capped_characters`), so that one long token (a URL, a
  // base64 string) does not make every word of its batch that wide: on the published NER archives
  // a cap of 50 changes no dev or test F1 and speeds the students on the EWT test set
  // (benchmarks/results/char_cap.md); null keeps every character (AllenNLP's `characters`).
  max_token_characters:: 50,
  // `word_boundaries`: a start and an end symbol around each word's characters (`<w>US</w>`), so
  // that a word shorter than the filters ("I", "US", ",") gets a character vector; without them
  // AllenNLP's CNN masks every window of such a word and its vector is all zero. Off, chosen on
  // dev: on the static-subword NER student the symbols cost 0.65 dev F1 (3 seeds, within the
  // seeds' spread; benchmarks/results/char_boundaries.md), and every published result is without.
  word_boundaries:: false,
  characters:: (if $.max_token_characters == null then { type: 'characters', min_padding_length: 3 }
                else { type: 'capped_characters', min_padding_length: 3, max_characters: $.max_token_characters })
               + (if $.word_boundaries then { character_tokenizer: { start_tokens: ['<w>'], end_tokens: ['</w>'] } }
                  else {}),
  words_and_chars:: self.words { token_characters: $.characters },

  // A text field embedder for `words` (char_dim = 0) or `words_and_chars`.
  embedder(word_dim, char_dim=0, char_filters=0):: {
    token_embedders: {
      tokens: { type: 'embedding', embedding_dim: word_dim, trainable: true },
    } + (if char_dim > 0 then {
           token_characters: {
             type: 'character_encoding',
             embedding: { embedding_dim: char_dim, vocab_namespace: 'token_characters' },
             encoder: { type: 'cnn', embedding_dim: char_dim, num_filters: char_filters, ngram_filter_sizes: [3] },
           },
         } else {}),
  },
  lstm(input_dim, hidden, layers=1, dropout=0.0):: {
    type: 'lstm', input_size: input_dim, hidden_size: hidden, num_layers: layers,
    bidirectional: true, dropout: dropout,
  },

  // A pretrained transformer read offline (allennlp_subkd.pretrained): the config names the
  // model, never a machine's path. all-MiniLM-L6-v2 is uncased; `casing` gives the casing back:
  // 'chars' (a character CNN, 16-dim characters, 32 filters: the best on dev in
  // benchmarks/results/ner_teacher_casing.md), 'embedding' (one 16-dim vector per casing class:
  // lower / Title / UPPER / mIxed / digits / ...) or 'none'.
  transformer_name:: 'all-MiniLM-L6-v2',
  casing_dims:: { none: 0, embedding: 16, chars: 32 },
  casing_indexers(casing):: {
    none: {},
    embedding: { casing: { type: 'casing' } },
    chars: { token_characters: $.characters },
  }[casing],
  casing_embedders(casing):: {
    none: {},
    // fixed ids (CasingIndexer), so no vocabulary namespace to extend
    embedding: { casing: { type: 'embedding', embedding_dim: 16, num_embeddings: 8, vocab_namespace: null } },
    chars: { token_characters: {
      type: 'character_encoding',
      embedding: { embedding_dim: 16, vocab_namespace: 'token_characters' },
      encoder: { type: 'cnn', embedding_dim: 16, num_filters: 32, ngram_filter_sizes: [3] },
    } },
  }[casing],
  transformer_indexers(name=$.transformer_name, casing='chars'):: {
    transformer: { type: 'offline_transformer_mismatched', model_name: name },
  } + $.casing_indexers(casing),
  // `layers`: null (all), k (the first k) or a list of layer indices: a truncated student.
  transformer_embedder(name=$.transformer_name, casing='chars', train=true, layers=null):: {
    token_embedders: {
      transformer: { type: 'offline_transformer_mismatched', model_name: name, train_parameters: train }
                   + (if layers == null then {} else { layers: layers }),
    } + $.casing_embedders(casing),
  },
  // A fine-tuned transformer + CRF tagger; the encoder passes the word vectors through.
  transformer_crf_tagger(hidden=384, name=$.transformer_name, casing='chars', dropout=0.1, layers=null):: {
    type: 'crf_tagger',
    label_encoding: 'BIO',
    constrain_crf_decoding: true,
    calculate_span_f1: true,
    dropout: dropout,
    include_start_end_transitions: true,
    text_field_embedder: $.transformer_embedder(name, casing, layers=layers),
    encoder: { type: 'pass_through', input_dim: hidden + $.casing_dims[casing] },
  },

  // The transformer's subword embedding table alone, no transformer layer: each word the mean
  // of its word pieces' rows (the static_subword indexer and embedder). `dim` is the table's
  // width (384 for all-MiniLM-L6-v2); frozen and unprojected unless asked. The archive carries
  // the word pieces (vocabulary) and the table (weights): it loads without the transformer.
  static_subword_indexers(casing='chars', max_pieces=8):: {
    subwords: { type: 'static_subword', max_pieces: max_pieces },
  } + $.casing_indexers(casing),
  static_subword_embedder(name=$.transformer_name, dim=384, casing='chars', trainable=false, projection_dim=null):: {
    token_embedders: {
      subwords: {
        type: 'static_subword', pretrained_file: name, embedding_dim: dim,
        trainable: trainable, projection_dim: projection_dim,
      },
    } + $.casing_embedders(casing),
  },
  // A BiLSTM-CRF over the static subwords (+ casing): the student of the DESIGN's section 8.
  static_subword_crf_tagger(hidden, dim=384, name=$.transformer_name, casing='chars', trainable=false,
                            projection_dim=null, dropout=0.25):: {
    type: 'crf_tagger',
    label_encoding: 'BIO',
    constrain_crf_decoding: true,
    calculate_span_f1: true,
    dropout: dropout,
    include_start_end_transitions: true,
    text_field_embedder: $.static_subword_embedder(name, dim, casing, trainable, projection_dim),
    encoder: $.lstm((if projection_dim == null then dim else projection_dim) + $.casing_dims[casing], hidden),
  },
  // AdamW with a small learning rate for the transformer, a larger one for the rest, linear
  // warm-up then decay (BERT fine-tuning).
  transformer_trainer(epochs, lr=5e-5, head_lr=1e-3, warmup=0.1, steps_per_epoch=100,
                      metric='+f1-measure-overall'):: $.trainer(epochs, head_lr, metric=metric) {
    optimizer: {
      type: 'huggingface_adamw',
      lr: head_lr,
      weight_decay: 0.01,
      parameter_groups: [[['token_embedder_transformer'], { lr: lr }]],
    },
    learning_rate_scheduler: {
      type: 'linear_with_warmup',
      warmup_steps: std.max(1, std.floor(warmup * epochs * steps_per_epoch)),
    },
    grad_norm: 1.0,
  },

  // ---------------------------------------------------------------- NER models
  // BIO = IOB2, the encoding of UNER; span F1 and constrained decoding use it.
  crf_tagger(word_dim, hidden, layers=1, char_dim=0, char_filters=0, dropout=0.25):: {
    type: 'crf_tagger',
    label_encoding: 'BIO',
    constrain_crf_decoding: true,
    calculate_span_f1: true,
    dropout: dropout,
    include_start_end_transitions: true,
    text_field_embedder: $.embedder(word_dim, char_dim, char_filters),
    encoder: $.lstm(word_dim + char_filters, hidden, layers, if layers > 1 then dropout else 0.0),
  },
  simple_tagger(word_dim, hidden, layers=1, char_dim=0, char_filters=0):: {
    type: 'simple_tagger',
    label_encoding: 'BIO',
    calculate_span_f1: true,
    text_field_embedder: $.embedder(word_dim, char_dim, char_filters),
    encoder: $.lstm(word_dim + char_filters, hidden, layers),
  },
  // A span-based NER model (Yu et al. 2020; `biaffine_span_tagger`): every span of at most
  // `max_span_length` words scored for every entity label and "no entity" by a biaffine product,
  // decoded exactly into non-overlapping spans. Reads and writes BIO tags like the taggers.
  span_tagger(word_dim, hidden, layers=1, char_dim=0, char_filters=0, span_dim=150, max_span_length=16, dropout=0.2):: {
    type: 'biaffine_span_tagger',
    label_encoding: 'BIO',
    max_span_length: max_span_length,
    span_dim: span_dim,
    dropout: dropout,
    text_field_embedder: $.embedder(word_dim, char_dim, char_filters),
    encoder: $.lstm(word_dim + char_filters, hidden, layers, if layers > 1 then dropout else 0.0),
  },
  // The same over a fine-tuned transformer (+ casing), the encoder passing the word vectors through.
  transformer_span_tagger(hidden=384, name=$.transformer_name, casing='chars', span_dim=150, max_span_length=16,
                          dropout=0.1, layers=null):: {
    type: 'biaffine_span_tagger',
    label_encoding: 'BIO',
    max_span_length: max_span_length,
    span_dim: span_dim,
    dropout: dropout,
    text_field_embedder: $.transformer_embedder(name, casing, layers=layers),
    encoder: { type: 'pass_through', input_dim: hidden + $.casing_dims[casing] },
  },
  // The one student architecture every NER config shares (plain and distilled).
  ner_student_dims:: { word_dim: 50, hidden: 32 },
  // Student presets (`student`): 'tiny', the shipped default above (random 50-d words, BiLSTM 32);
  // 'static_subword', the frozen all-MiniLM-L6-v2 subword table + a character CNN and a BiLSTM 64
  // (the preset configs ner_static_subword_*.jsonnet; 64 units as measured in issue 17, not swept);
  // 'minilm_l3', the first 3 of all-MiniLM-L6-v2's 6 layers fine-tuned + a character CNN + CRF
  // (ner_minilm_l3_*.jsonnet; `layers` takes any k or a list). k = 3 as measured on the full data
  // (benchmarks/README.md, the frontier): the one transformer student on the accuracy-vs-speed
  // frontier of both tasks so far (k = 1 and 2: slower than the static-subword student and, as far as
  // measured, no more accurate).
  ner_static_subword_dims:: { hidden: 64 },
  students:: ['tiny', 'static_subword', 'minilm_l3'],
  transformer_students:: { minilm_l3: 3 },
  student_preset(student):: if std.member($.students, student) then student
    else if student == 'minilm_l2' then error "student preset 'minilm_l2' is now 'minilm_l3' (3 layers, "
      + 'as measured on the full data); for 2 layers use it with -o '
      + '\'{"model.text_field_embedder.token_embedders.transformer.layers": 2}\''
    else error 'unknown student preset ' + student + ' (one of ' + std.join(', ', $.students) + ')',
  ner_student_indexers(student='tiny'):: {
    tiny: $.words,
    static_subword: $.static_subword_indexers(casing='chars'),
    minilm_l3: $.transformer_indexers(casing='chars'),
  }[$.student_preset(student)],
  ner_student(type='distilled_crf_tagger', distillation=null, student='tiny'):: (
    if student == 'tiny' then (
      if type == 'distilled_simple_tagger' then
        $.simple_tagger($.ner_student_dims.word_dim, $.ner_student_dims.hidden)
      else
        $.crf_tagger($.ner_student_dims.word_dim, $.ner_student_dims.hidden)
    ) else if student == 'static_subword' then (
      if type == 'distilled_simple_tagger' then {
        type: 'simple_tagger',
        label_encoding: 'BIO',
        calculate_span_f1: true,
        text_field_embedder: $.static_subword_embedder(casing='chars'),
        encoder: $.lstm(384 + $.casing_dims.chars, $.ner_static_subword_dims.hidden),
      } else
        $.static_subword_crf_tagger($.ner_static_subword_dims.hidden, casing='chars')
    ) else if std.objectHas($.transformer_students, student) then (
      if type == 'distilled_simple_tagger' then {
        type: 'simple_tagger',
        label_encoding: 'BIO',
        calculate_span_f1: true,
        text_field_embedder: $.transformer_embedder(casing='chars', layers=$.transformer_students[student]),
        encoder: { type: 'pass_through', input_dim: 384 + $.casing_dims.chars },
      } else
        $.transformer_crf_tagger(casing='chars', layers=$.transformer_students[student])
    ) else $.student_preset(student)
  ) + { type: type } + (
    if distillation == null then {} else {
      teacher: { archive: $.ner_teacher_archive },
      distillation: distillation,
    }
  ),

  // A tagger student of a span teacher (Wang et al.'s scenario 4): the student of `ner_kd`, taught
  // through the "span_ner" adapter (the exact tag marginals of the teacher's distribution over
  // non-overlapping spans).
  ner_span_kd(distillation, type='distilled_crf_tagger', epochs=10, student='tiny'):: $.ner_kd(distillation, type, epochs, student) + {
    model+: { teacher: { archive: $.ner_span_teacher_archive, adapter: { type: 'span_ner' } } },
  },

  // The KD objectives of the NER configs, one place for the tiny student's configs
  // (ner_struct_kd, ...) and the presets' (ner_static_subword_struct_kd, ...); each config's
  // comment says what it is and how its weights were chosen.
  ner_objectives:: {
    structural: { type: 'structural', alpha: 0.5, temperature: 1.0 },
    posterior: { type: 'posterior', alpha: 0.5, temperature: 1.0 },
    token: { type: 'token', alpha: 0.5, temperature: 2.0 },
    sub_structure: { type: 'sub_structure', variant: 'emission', reduction: 'mean', alpha: 0.5 },
  },

  // ---------------------------------------------------------------- experiments
  trainer(epochs, lr=0.005, patience=null, metric='+f1-measure-overall'):: {
    optimizer: { type: 'adam', lr: lr },
    num_epochs: epochs,
    validation_metric: metric,
    grad_norm: 5.0,
    patience: patience,
    // AllenNLP's console logger without its dump of the first batch's tensors; the epoch
    // for distilled models (teacher annealing; harmless otherwise); epoch timings
    enable_default_callbacks: false,
    callbacks: [
      { type: 'console_logger', should_log_inputs: false },
      { type: 'distillation_epoch' },
      { type: 'epoch_timer' },
    ],
  },
  ner_experiment(model, indexers, epochs=10, batch_size=32, lr=0.005, seed=13):: {
    dataset_reader: { type: 'checked_conll2003', tag_label: 'ner', token_indexers: indexers },
    train_data_path: $.ner_data.train,
    validation_data_path: $.ner_data.dev,
    test_data_path: $.ner_data.test,
    evaluate_on_test: true,
    model: model,
    data_loader: { batch_sampler: { type: 'bucket', batch_size: batch_size } },
    trainer: $.trainer(epochs, lr),
    random_seed: seed,
    numpy_seed: seed,
    pytorch_seed: seed,
  },
  // A distilled NER student: the shared student architecture, its word-only inputs, and
  // the given KD objective.
  // A transformer student (a preset of `transformer_students`) trains with the transformer
  // trainer (AdamW, warm-up; 32 steps an epoch: the 1,000-sentence sample at batch 32).
  ner_kd(distillation, type='distilled_crf_tagger', epochs=10, student='tiny'):: $.ner_experiment(
    $.ner_student(type, distillation, student), $.ner_student_indexers(student), epochs
  ) + $.student_trainer(student, epochs),
  student_trainer(student, epochs, metric='+f1-measure-overall')::
    if std.objectHas($.transformer_students, student) then
      { trainer: $.transformer_trainer(epochs, steps_per_epoch=32, metric=metric) }
    else {},

  // ================================================================ parsing
  // Everything below is for the dependency parsers (UD CoNLL-U read by allennlp-models'
  // `universal_dependencies` reader, here its checked_universal_dependencies subclass: fields words,
  // pos_tags, head_tags, head_indices; a relation the model never saw counts as wrong).

  // ---------------------------------------------------------------- parsing models
  // A biaffine parser (Dozat & Manning 2017): words (+ char CNN) (+ POS) -> BiLSTM -> arc and
  // relation MLPs -> biaffine scorers. Validation decodes with Chu-Liu-Edmonds (MST).
  // `distilled_biaffine_parser` without a teacher trains exactly as allennlp-models'
  // `biaffine_parser`, with the fast relation scorer, and scores a relation it never saw as a
  // wrong label where the stock model's loss raises (the full EWT test has such relations for a
  // parser trained on the 1,000-sentence sample).
  biaffine_parser(word_dim, hidden, layers=1, char_dim=0, char_filters=0, pos_dim=0,
                  arc_dim=100, tag_dim=50, dropout=0.3, input_dropout=0.3):: {
    type: 'distilled_biaffine_parser',
    text_field_embedder: $.embedder(word_dim, char_dim, char_filters),
    encoder: $.lstm(word_dim + char_filters + pos_dim, hidden, layers, if layers > 1 then dropout else 0.0),
    arc_representation_dim: arc_dim,
    tag_representation_dim: tag_dim,
    dropout: dropout,
    input_dropout: input_dropout,
    use_mst_decoding_for_validation: true,
  } + (if pos_dim > 0 then {
         pos_tag_embedding: { embedding_dim: pos_dim, vocab_namespace: 'pos' },
       } else {}),
  // A fine-tuned transformer + UPOS embedding -> biaffine arc and relation scorers (the
  // encoder passes the word vectors through). `distilled_biaffine_parser` without a teacher
  // trains exactly as `biaffine_parser`, with the fast relation scorer.
  transformer_biaffine_parser(hidden=384, name=$.transformer_name, casing='none', pos_dim=32,
                              arc_dim=384, tag_dim=128, dropout=0.2, input_dropout=0.1, layers=null):: {
    type: 'distilled_biaffine_parser',
    text_field_embedder: $.transformer_embedder(name, casing, layers=layers),
    pos_tag_embedding: { embedding_dim: pos_dim, vocab_namespace: 'pos' },
    encoder: { type: 'pass_through', input_dim: hidden + $.casing_dims[casing] + pos_dim },
    arc_representation_dim: arc_dim,
    tag_representation_dim: tag_dim,
    dropout: dropout,
    input_dropout: input_dropout,
    use_mst_decoding_for_validation: true,
  },
  // The one student architecture every parsing config shares (plain and distilled): words
  // and POS tags, no characters, a 1-layer BiLSTM. Presets (`student`) as for NER: 'tiny' (random
  // 50-d words), 'static_subword' (the frozen all-MiniLM-L6-v2 subword table instead of them) or
  // 'minilm_l3' (its first 3 layers fine-tuned + UPOS -> biaffine scorers, no BiLSTM).
  dep_student_dims:: { word_dim: 50, pos_dim: 16, hidden: 64, arc_dim: 100, tag_dim: 50 },
  dep_student_indexers(student='tiny'):: {
    tiny: $.words,
    static_subword: $.static_subword_indexers(casing='none'),
    minilm_l3: $.transformer_indexers(casing='none'),
  }[$.student_preset(student)],
  dep_student(distillation=null, gold_loss='local', student='tiny'):: (
    if student == 'tiny' then $.biaffine_parser(
      $.dep_student_dims.word_dim,
      $.dep_student_dims.hidden,
      pos_dim=$.dep_student_dims.pos_dim,
      arc_dim=$.dep_student_dims.arc_dim,
      tag_dim=$.dep_student_dims.tag_dim,
    ) else if student == 'static_subword' then $.biaffine_parser(
      384,
      $.dep_student_dims.hidden,
      pos_dim=$.dep_student_dims.pos_dim,
      arc_dim=$.dep_student_dims.arc_dim,
      tag_dim=$.dep_student_dims.tag_dim,
    ) + { text_field_embedder: $.static_subword_embedder(casing='none') }
    else if std.objectHas($.transformer_students, student) then
      $.transformer_biaffine_parser(layers=$.transformer_students[student])
    else $.student_preset(student)
  ) + { type: 'distilled_biaffine_parser', gold_loss: gold_loss } + (
    if distillation == null then {} else {
      teacher: { archive: $.dep_teacher_archive },
      distillation: distillation,
    }
  ),

  // The KD objectives of the parsing configs (as ner_objectives).
  dep_objectives:: {
    structural: { type: 'structural', tree: 'nonprojective', alpha: 0.5, temperature: 1.0 },
    'local': { type: 'local', alpha: 0.5, temperature: 1.0 },
    sub_structure: {
      type: 'sub_structure',
      arc_scores: 'log_softmax',
      arc_pairs: 'teacher_heads',
      arc_heads: 1,
      label_pairs: 'none',
      reduction: 'mean',
      alpha: 0.5,
    },
  },

  // ---------------------------------------------------------------- parsing experiments
  // Labelled attachment score (punctuation excluded, as AllenNLP's AttachmentScores does)
  // picks the best epoch. Adam with lr 2e-3 as Dozat & Manning.
  dep_experiment(model, indexers, epochs=20, batch_size=32, lr=0.002, seed=13, patience=null):: {
    dataset_reader: { type: 'checked_universal_dependencies', token_indexers: indexers },
    train_data_path: $.dep_data.train,
    validation_data_path: $.dep_data.dev,
    test_data_path: $.dep_data.test,
    evaluate_on_test: true,
    model: model,
    data_loader: { batch_sampler: { type: 'bucket', batch_size: batch_size } },
    trainer: $.trainer(epochs, lr, patience, metric='+LAS'),
    random_seed: seed,
    numpy_seed: seed,
    pytorch_seed: seed,
  },
  // Dependency parsing as sequence labelling (distilled_dependency_tagger): the parsing
  // student's word and POS embeddings and BiLSTM, a softmax over the relative-POS labels
  // instead of the biaffine scorers; taught by a parser through the dependency_labels adapter.
  words_and_pos:: $.words { pos_tags: { type: 'single_id', namespace: 'pos', feature_name: 'pos_' } },
  dep_tagger_student(distillation=null):: {
    type: 'distilled_dependency_tagger',
    text_field_embedder: { token_embedders: {
      tokens: { type: 'embedding', embedding_dim: $.dep_student_dims.word_dim, trainable: true },
      pos_tags: { type: 'embedding', embedding_dim: $.dep_student_dims.pos_dim, vocab_namespace: 'pos' },
    } },
    encoder: $.lstm($.dep_student_dims.word_dim + $.dep_student_dims.pos_dim, $.dep_student_dims.hidden),
  } + (
    if distillation == null then {} else {
      teacher: { archive: $.dep_teacher_archive },
      distillation: distillation,
    }
  ),
  dep_tagger_experiment(distillation=null, epochs=20):: $.dep_experiment(
    $.dep_tagger_student(distillation), $.words_and_pos, epochs
  ) + { dataset_reader+: { type: 'dependency_labels' } },

  // A distilled parsing student: the shared student architecture, its word-only inputs (and
  // POS tags), and the given KD objective.
  dep_kd(distillation, gold_loss='local', epochs=20, student='tiny'):: $.dep_experiment(
    $.dep_student(distillation, gold_loss, student), $.dep_student_indexers(student), epochs
  ) + $.student_trainer(student, epochs, metric='+LAS'),
}
