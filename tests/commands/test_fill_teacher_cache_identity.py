"""`allennlp fill-teacher-cache` drives the registered adapter with the objective's request, so
for every adapter it writes byte for byte the entries a student's training writes (the graph
parser example's adapter: tests/examples/test_graph_parser_kd.py)."""
import os
import subprocess
import sys

import pytest

import allennlp_subkd  # noqa: F401
from tests.commands.entry_identity import check, entry_bytes
from tests.conftest import ROOT

TEACHERS = "fixtures/teachers"
NER_STUDENT, NER_SOFTMAX = "fixtures/configs/ner_student.jsonnet", "fixtures/configs/ner_softmax_student.jsonnet"
DEP_STUDENT, DEP_TAGGER = "fixtures/configs/dep_student.jsonnet", "fixtures/configs/dep_tagger_student.jsonnet"
NER, DEP = "fixtures/ner/tiny.conll", "fixtures/dep/tiny.conllu"


@pytest.mark.parametrize("config, teacher", [
    (NER_STUDENT, "ner_crf_teacher"),  # a CRF teacher, re-indexed inputs
    (NER_STUDENT, "tiny_simple_teacher"),  # a softmax teacher, the student's own tensors
    (NER_SOFTMAX, "ner_crf_teacher"),
])
def test_tagger_adapter(config, teacher, tmp_path):
    check(config, NER, {"archive": f"{TEACHERS}/{teacher}.tar.gz"}, {"type": "posterior"}, tmp_path)


@pytest.mark.parametrize("config, teacher", [
    (NER_STUDENT, "tiny_span_teacher"),  # the student's own tensors
    (NER_SOFTMAX, "ner_span_teacher"),  # re-indexed inputs
])
def test_span_ner_adapter(config, teacher, tmp_path):
    """A span teacher's entries: the fill picks the "span_ner" adapter by the archive's model."""
    check(config, NER, {"archive": f"{TEACHERS}/{teacher}.tar.gz", "adapter": {"type": "span_ner"}},
          {"type": "structural"}, tmp_path)


@pytest.mark.parametrize("distillation, relation_heads", [
    ({"type": "structural"}, 2),  # relation scores at the teacher's 2 best heads
    ({"type": "sub_structure"}, 1),  # one head asked, the shared two-head entries written
    ({"type": "local", "relation_heads": 3}, 3),
    ({"type": "local", "relation_heads": None}, None),  # the relation representations
])
def test_parser_adapter(distillation, relation_heads, tmp_path):
    check(DEP_STUDENT, DEP, {"archive": f"{TEACHERS}/tiny_dep_teacher.tar.gz"}, distillation, tmp_path,
          relation_heads=relation_heads)


@pytest.mark.parametrize("adapter", [{"type": "dependency_labels"},
                                     {"type": "dependency_labels", "relation_heads": None, "tree": "local"}])
def test_dependency_labels_adapter(adapter, tmp_path):
    teacher = {"archive": f"{TEACHERS}/tiny_dep_teacher.tar.gz", "adapter": adapter}
    check(DEP_TAGGER, DEP, teacher, {"type": "structural"}, tmp_path, adapter=adapter)


def test_the_command_line_takes_an_adapter_by_name_or_json(tmp_path):
    """The CLI: `--adapter dependency_labels` and the JSON form write the entries the
    dependency tagger's default adapter reads (the parser's two-head entries)."""
    archive = f"{TEACHERS}/tiny_dep_teacher.tar.gz"
    out = {}
    for name, adapter in (("name", "dependency_labels"), ("json", '{"type": "dependency_labels", "relation_heads": 2}')):
        directory = tmp_path / name
        subprocess.run([sys.executable, "-m", "allennlp", "fill-teacher-cache", archive, DEP, "--cache-dir",
                        str(directory), "--adapter", adapter, "--batch-size", "1", "--include-package", "allennlp_subkd"],
                       cwd=ROOT, check=True, capture_output=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))  # the tests' thread count: same rounding
        out[name] = entry_bytes(directory)
    check(DEP_TAGGER, DEP, {"archive": archive}, {"type": "structural"}, tmp_path / "train")
    assert out["name"] == out["json"] == entry_bytes(tmp_path / "train" / "filled")
