"""`second_order_biaffine_parser` (sibling factors, MFVI) as a model and as a teacher of the
biaffine student and of the dependency tagger (Wang et al.'s case 2b)."""
import json
import logging

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model

import allennlp_subkd  # noqa: F401
from allennlp_subkd.distillation.objectives.parsing import ParserDistillation
from allennlp_subkd.distillation.tasks.parser import capture_parser_scores
from allennlp_subkd.structures import second_order
from allennlp_subkd.structures.arcs import head_log_probs, valid_arcs
from allennlp_subkd.structures.tree import matrix_tree

CONFIG = "fixtures/configs/second_order_parser.jsonnet"
STUDENT = "fixtures/configs/dep_student.jsonnet"
TAGGER = "fixtures/configs/dep_tagger_student.jsonnet"
TINY = "fixtures/dep/tiny.conllu"
TEACHER = "fixtures/teachers/tiny_second_order_teacher.tar.gz"


def _built(config, **model):
    params = Params.from_file(config, json.dumps({f"model.{k}": v for k, v in model.items()}))
    reader = DatasetReader.from_params(params["dataset_reader"])
    instances = list(reader.read(TINY))
    vocab = Vocabulary.from_instances(instances)
    model = Model.from_params(vocab=vocab, params=params["model"])
    batch = Batch(instances)
    batch.index_instances(vocab)
    return model, batch.as_tensor_dict()


class TestSecondOrderBiaffineParser(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(CONFIG, TINY)

    def test_trains_saves_and_loads(self):
        self.ensure_model_can_train_save_and_load(CONFIG)

    def test_its_arc_scores_are_the_logits_of_its_mfvi_marginals(self):
        model, tensors = _built(CONFIG)
        model.eval()
        scorer = model.arc_attention
        with capture_parser_scores(model) as captured, torch.no_grad():
            output = model(**tensors)
        mask = output["mask"].bool()
        # the same pass by hand: first-order scores and siblings of the same representations
        first, second = {}, {}
        hook = scorer.biaffine.register_forward_hook(lambda m, i, o: first.update(arcs=o, inputs=i))
        with capture_parser_scores(model), torch.no_grad():
            model(**tensors)
        hook.remove()
        with torch.no_grad():
            siblings = scorer.siblings(*first["inputs"])
            _, q = second_order.mean_field(first["arcs"], siblings, mask, scorer.iterations)
        valid = valid_arcs(mask)
        assert torch.allclose(head_log_probs(captured.arcs, valid).exp().masked_fill(~valid, 0), q, atol=1e-6)

    def test_with_zero_sibling_weights_it_is_the_first_order_parser(self):
        model, tensors = _built(CONFIG)
        model.eval()
        with torch.no_grad():
            model.arc_attention.sibling_weight.zero_()
        first = {}
        hook = model.arc_attention.biaffine.register_forward_hook(lambda m, i, o: first.update(arcs=o))
        with capture_parser_scores(model) as captured, torch.no_grad():
            output = model(**tensors)
        hook.remove()
        valid = valid_arcs(output["mask"].bool())
        assert torch.allclose(head_log_probs(captured.arcs, valid), head_log_probs(first["arcs"], valid), atol=1e-6)

    @pytest.mark.parametrize("bad,match", [({"mfvi_iterations": 0}, "mfvi_iterations must be an integer >= 1"),
                                           ({"gold_loss": "tree"}, "trains with its MFVI marginals")])
    def test_bad_configuration(self, bad, match):
        with pytest.raises(ConfigurationError, match=match):
            _built(CONFIG, **bad)


@pytest.mark.parametrize("objective", [{"type": "local"}, {"type": "structural"},
                                       {"type": "sub_structure"}, {"type": "structural", "relation_heads": None}])
def test_it_teaches_the_biaffine_student(objective):
    model, tensors = _built(STUDENT, teacher={"archive": TEACHER}, distillation=dict(objective, alpha=0.5))
    model.train()
    output = model(**tensors)
    assert torch.isfinite(output["loss"]) and output["kd_loss"] > 0
    output["loss"].backward()


def test_structural_kd_uses_the_mfvi_marginals_and_says_so(caplog):
    model, tensors = _built(STUDENT, teacher={"archive": TEACHER}, distillation={"type": "structural", "alpha": 0.5})
    model.train()
    with caplog.at_level(logging.WARNING):
        model(**tensors)
    assert "MFVI approximation" in caplog.text
    # the teacher's scores flag their arcs; the arc term is log Z_s - Σ q a_s with q = MFVI marginals
    batch = model._teacher_batch({"words": tensors["words"], "pos_tags": tensors["pos_tags"]},
                                 tensors["metadata"], torch.cat([torch.ones(len(tensors["metadata"]), 1, dtype=torch.bool),
                                                                 tensors["words"]["tokens"]["tokens"] > 0], 1))
    teacher = model.teacher_scores(batch)[0]
    assert teacher.marginal_arcs
    student = type(teacher)(torch.randn_like(teacher.arcs), torch.zeros_like(teacher.labels), teacher.mask,
                            teacher.label_heads)
    kd = ParserDistillation.from_params(Params({"type": "structural"}))(student, teacher)
    valid = valid_arcs(teacher.mask)
    q = head_log_probs(teacher.arcs, valid).exp().masked_fill(~valid, 0)
    log_z, _ = matrix_tree(student.arcs, teacher.mask)
    expected = log_z - (q * student.arcs.masked_fill(~valid, 0)).sum((1, 2))
    label_free = kd - expected  # the relation term: zero student relation scores, a constant KL
    assert torch.isfinite(label_free).all()
    assert torch.allclose(kd - label_free, expected)


@pytest.mark.parametrize("tree", ["local", "nonprojective"])
def test_it_teaches_the_dependency_tagger_case_2b(tree, caplog):
    model, tensors = _built(TAGGER, teacher={"archive": TEACHER, "adapter": {"type": "dependency_labels", "tree": tree}},
                            distillation={"type": "structural", "alpha": 0.5})
    model.train()
    with caplog.at_level(logging.WARNING):
        output = model(**tensors)
    assert torch.isfinite(output["loss"]) and output["kd_loss"] > 0
    assert ("MFVI approximation" in caplog.text) == (tree != "local")
