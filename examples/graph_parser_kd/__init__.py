"""
Worked example (docs/extending.md): distilling allennlp-models' `graph_parser` (semantic
dependency parsing, Dozat & Manning 2018) with nothing changed in `allennlp_subkd.distillation`.

A graph parser scores every ordered word pair independently: an arc exists with probability
`sigmoid(s[h, d])` and, if it does, carries a label with probability `softmax(l[h, d])`. Its
distribution over labelled graphs is a product over pairs, so structural KD (the cross-entropy
between the teacher's and the student's graph distributions) is a sum over pairs of a Bernoulli
cross-entropy plus the label cross-entropy weighted by the teacher's arc probability — exact,
with no dynamic programme. The pieces a user writes:

- `scores.py`: the scores the objective compares (`GraphScores`) and how to read them from a
  forward pass (`capture_graph_scores`: forward hooks, as ours do for the biaffine parser);
- `adapter.py`: the teacher adapter `"graph_parser"` (cache keys, teacher outputs per sentence,
  alignment to the student's labels);
- `objective.py`: the objective family `GraphDistillation` with `"structural"`;
- `model.py`: the student `distilled_graph_parser` (`GraphParser` + `DistilledModelMixin`).

    allennlp train examples/graph_parser_kd/student.jsonnet -s out/ \
        --include-package allennlp_subkd --include-package examples.graph_parser_kd
"""
from examples.graph_parser_kd.scores import GraphScores, capture_graph_scores
from examples.graph_parser_kd.adapter import GraphParserTeacherAdapter
from examples.graph_parser_kd.objective import GraphDistillation, StructuralGraphDistillation
from examples.graph_parser_kd.model import DistilledGraphParser
