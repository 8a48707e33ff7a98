"""The tagger twins of the parser's reduction check: for every tagger model, the `kd_loss` it
reports is the objective's per-sentence term reduced as its gold loss is (a batch sum for the
CRF tagger, per-sentence token means averaged over the batch for the softmax taggers), and its
`loss` is exactly `(1 - α) · gold + α · kd`, with the gold loss recomputed here from the
logits the forward pass used."""
import json

import pytest
from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.nn.util import get_text_field_mask, sequence_cross_entropy_with_logits

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.distillation.objectives.scores import TaggerScores
from allennlp_subkd.distillation.tasks.tagger import tagger_scores

TEACHERS = "fixtures/teachers"
CASES = {
    "distilled_crf_tagger": ("fixtures/configs/ner_student.jsonnet", "fixtures/ner/tiny.conll",
                             f"{TEACHERS}/ner_crf_teacher.tar.gz"),
    "distilled_simple_tagger": ("fixtures/configs/ner_softmax_student.jsonnet", "fixtures/ner/tiny.conll",
                                f"{TEACHERS}/ner_crf_teacher.tar.gz"),
    "distilled_dependency_tagger": ("fixtures/configs/dep_tagger_student.jsonnet", "fixtures/dep/tiny.conllu",
                                    f"{TEACHERS}/tiny_dep_teacher.tar.gz"),
}


def build(name, distillation):
    config, data, teacher = CASES[name]
    params = Params.from_file(config, json.dumps({"model.teacher": {"archive": teacher},
                                                  "model.distillation": distillation}))
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(data))
    vocab = Vocabulary.from_instances(instances)
    model = Model.from_params(vocab=vocab, params=params.pop("model"))
    batch = Batch(instances[:6])
    batch.index_instances(vocab)
    return model, batch.as_tensor_dict()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("distillation", [{"type": "structural", "alpha": 0.3},
                                          {"type": "posterior", "alpha": 0.7, "temperature": 2.0}],
                         ids=["structural", "posterior"])
def test_kd_loss_is_the_objectives_term_reduced_like_the_gold_loss(name, distillation):
    model, tensors = build(name, distillation)
    model.train()
    output = model(**tensors)
    mask = get_text_field_mask(tensors["tokens"])
    logits = output["logits"]  # the logits of this very pass (dropout included)
    if name == "distilled_crf_tagger":
        student = tagger_scores(model, logits, mask)
    else:
        student = TaggerScores(logits, mask=mask)
    teacher = model.teacher_scores(model._tagger_batch(tensors["tokens"], tensors["metadata"], mask))[0]
    per_sentence = model.distillation(student, teacher)
    assert per_sentence.shape == (mask.size(0),) and (per_sentence > 0).all()
    if name == "distilled_crf_tagger":
        kd = per_sentence.sum()  # the CRF's negative log-likelihood is a batch sum
        gold = -model.crf(logits, tensors["tags"], mask)
    else:
        kd = (per_sentence / mask.sum(-1)).mean()  # token means averaged over sentences
        gold = sequence_cross_entropy_with_logits(logits, tensors["tags"], mask)
    assert output["kd_loss"].item() == pytest.approx(kd.item(), rel=1e-5)
    alpha = distillation["alpha"]
    assert output["loss"].item() == pytest.approx(((1 - alpha) * gold + alpha * kd).item(), rel=1e-5)
    assert model.get_metrics()["kd_loss"] == pytest.approx(kd.item(), rel=1e-5)
    assert model.get_metrics()["kd_alpha"] == alpha
