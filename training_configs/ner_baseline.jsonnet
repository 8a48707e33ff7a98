// The small NER student trained on gold labels only (the no-KD baseline).
local lib = import 'common.libsonnet';

lib.ner_experiment(lib.ner_student(), lib.words)
