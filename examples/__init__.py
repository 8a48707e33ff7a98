"""Worked examples of distilling AllenNLP models that are not part of allennlp-subkd
(`docs/extending.md`). Not installed with the package: load them from the repository root
with `--include-package examples.graph_parser_kd`."""
