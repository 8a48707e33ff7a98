// Local KD: per word, KL between the teacher's and the student's head distributions, plus
// the relation KL on the teacher's arcs (weighted by its head probabilities).
local lib = import 'common.libsonnet';

lib.dep_kd(lib.dep_objectives['local'])
