// The small parsing student trained on gold trees only (the no-KD baseline).
local lib = import 'common.libsonnet';

lib.dep_experiment(lib.dep_student(), lib.words)
