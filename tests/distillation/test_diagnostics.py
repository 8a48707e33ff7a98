"""Teacher-agreement diagnostics: the metrics against loops, a student identical to its teacher
agrees everywhere with zero KL, and the metrics reach metrics.json."""
import json

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.data import Batch
from allennlp.models import Model
from allennlp.models.archival import load_archive

import allennlp_subkd  # noqa: F401
from allennlp.nn.util import viterbi_decode

from allennlp_subkd.distillation.objectives.tagging import safe_log, token_kl
from allennlp_subkd.distillation.tasks.diagnostics import ExpectedCalibrationError
from allennlp_subkd.distillation.tasks.parser import capture_parser_scores
from allennlp_subkd.structures import linear_chain

TEACHERS = "fixtures/teachers"


def test_expected_calibration_error_against_a_loop():
    g = torch.Generator().manual_seed(0)
    confidence = torch.rand(3, 50, generator=g)
    correct = torch.rand(3, 50, generator=g) < confidence
    mask = torch.rand(3, 50, generator=g) < 0.8
    metric = ExpectedCalibrationError(bins=10)
    metric(confidence[:2], correct[:2], mask[:2])  # two batches
    metric(confidence[2:], correct[2:], mask[2:])
    conf, right = confidence[mask].tolist(), correct[mask].tolist()
    expected = 0.0
    for b in range(10):
        members = [i for i, c in enumerate(conf) if min(int(c * 10), 9) == b]
        if members:
            accuracy = sum(right[i] for i in members) / len(members)
            mean_conf = sum(conf[i] for i in members) / len(members)
            expected += len(members) / len(conf) * abs(accuracy - mean_conf)
    assert metric.get_metric(reset=True) == pytest.approx(expected)
    assert metric.get_metric() == 0.0


def test_token_kl_against_a_loop():
    g = torch.Generator().manual_seed(1)
    q = torch.rand(2, 4, 3, generator=g, dtype=torch.float64).softmax(-1)
    p = torch.rand(2, 4, 3, generator=g, dtype=torch.float64).softmax(-1)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    kl = token_kl(q, safe_log(p), mask)
    for b in range(2):
        expected = sum(float((q[b, t] * (q[b, t] / p[b, t]).log()).sum()) for t in range(4) if mask[b, t])
        assert kl[b].item() == pytest.approx(expected, rel=1e-12)


def twin(archive: str, student_type: str, **changes):
    """A distilled student with the teacher archive's own architecture and weights, measuring
    its agreement with that teacher."""
    loaded = load_archive(archive)
    params = loaded.config["model"].as_dict()
    params.update(type=student_type, teacher={"archive": archive, "diagnostics": True}, **changes)
    model = Model.from_params(vocab=loaded.model.vocab, params=Params(params))
    model.load_state_dict(loaded.model.state_dict(), strict=False)
    model.eval()
    instances = list(loaded.dataset_reader.read(loaded.config["train_data_path"]))[:12]
    batch = Batch(instances)
    batch.index_instances(loaded.model.vocab)
    return model, batch.as_tensor_dict()


def test_a_tagger_identical_to_its_teacher_agrees_everywhere():
    model, tensors = twin(f"{TEACHERS}/ner_crf_teacher.tar.gz", "distilled_crf_tagger", constrain_crf_decoding=False)
    model(**tensors)
    metrics = model.get_metrics(reset=True)
    assert metrics["teacher_agreement"] == 1.0 and metrics["teacher_kl"] == pytest.approx(0.0, abs=1e-5)
    assert 0.0 <= metrics["calibration_error"] <= 1.0
    assert "kd_loss" not in metrics


def test_a_parser_identical_to_its_teacher_agrees_everywhere():
    model, tensors = twin(f"{TEACHERS}/tiny_dep_teacher.tar.gz", "distilled_biaffine_parser",
                          use_mst_decoding_for_validation=False)
    model(**tensors)
    metrics = model.get_metrics(reset=True)
    assert metrics["teacher_arc_agreement"] == 1.0 and metrics["teacher_label_agreement"] == 1.0
    assert metrics["teacher_kl"] == pytest.approx(0.0, abs=1e-5)
    assert 0.0 <= metrics["calibration_error"] <= 1.0


def perturb(model, seed: int, scale: float) -> None:
    """Add noise to every parameter of a (twin) student so that it disagrees with its teacher."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=g) * scale)


def test_a_perturbed_tagger_against_loops_over_its_paths_and_marginals():
    """Agreement and KL of a student that differs from its teacher, against per-sentence loops:
    the teacher's own forward pass (its logits and CRF), AllenNLP's `viterbi_decode` for its
    best path, and the token marginals of both CRFs."""
    archive = f"{TEACHERS}/ner_crf_teacher.tar.gz"
    model, tensors = twin(archive, "distilled_crf_tagger", constrain_crf_decoding=False)
    perturb(model, seed=5, scale=0.02)
    output = model(**tensors)
    metrics = model.get_metrics(reset=True)
    teacher = load_archive(archive).model.eval()
    with torch.no_grad():
        logits = teacher(tokens=tensors["tokens"])["logits"]
    crf = teacher.crf
    mask = output["mask"].bool()
    agree = tokens = 0
    kl = 0.0
    for b, path in enumerate(output["tags"]):
        n = int(mask[b].sum())
        # AllenNLP's Viterbi with the start/end transitions as tags of their own
        potentials = torch.full((n + 2, crf.num_tags + 2), -1e4)
        potentials[1:-1, : crf.num_tags] = logits[b, :n]
        potentials[0, crf.num_tags] = potentials[-1, crf.num_tags + 1] = 0.0
        transitions = torch.full((crf.num_tags + 2, crf.num_tags + 2), -1e4)
        transitions[: crf.num_tags, : crf.num_tags] = crf.transitions
        transitions[crf.num_tags, : crf.num_tags] = crf.start_transitions
        transitions[: crf.num_tags, crf.num_tags + 1] = crf.end_transitions
        best, _ = viterbi_decode(potentials, transitions.detach())
        teacher_path = best[1:-1]
        agree += sum(int(s == t) for s, t in zip(path, teacher_path))
        tokens += n
        one = mask[b : b + 1, :n]
        _, q, _ = linear_chain.marginals(logits[b : b + 1, :n], crf.transitions, one,
                                         crf.start_transitions, crf.end_transitions)
        _, p, _ = linear_chain.marginals(output["logits"][b : b + 1, :n].detach(), model.crf.transitions.detach(),
                                         one, model.crf.start_transitions.detach(), model.crf.end_transitions.detach())
        kl += float((q * (q.log() - p.log())).sum())
    assert 0 < agree < tokens  # the perturbation made it disagree somewhere, not everywhere
    assert metrics["teacher_agreement"] == pytest.approx(agree / tokens, abs=1e-9)
    assert metrics["teacher_kl"] == pytest.approx(kl / tokens, rel=1e-4)
    assert metrics["teacher_kl"] > 1e-4


def test_a_perturbed_parser_against_loops_over_its_heads():
    """Arc and label agreement and the per-word head KL of a student that differs from its
    teacher, against loops over the teacher's own forward pass (its arc scores and relation
    scores at its argmax head)."""
    archive = f"{TEACHERS}/tiny_dep_teacher.tar.gz"
    model, tensors = twin(archive, "distilled_biaffine_parser", use_mst_decoding_for_validation=False)
    perturb(model, seed=6, scale=0.05)
    with capture_parser_scores(model) as student:
        output = model(**tensors)
    metrics = model.get_metrics(reset=True)
    teacher = load_archive(archive).model.eval()
    teacher.use_mst_decoding_for_validation = False
    with torch.no_grad(), capture_parser_scores(teacher) as captured:
        teacher(**{k: v for k, v in tensors.items() if k in ("words", "pos_tags", "metadata")})
    arc_agree = label_agree = words = 0
    kl = 0.0
    for b, meta in enumerate(tensors["metadata"]):
        n = len(meta["words"])
        for d in range(1, n + 1):
            heads = [h for h in range(n + 1) if h != d]
            t_scores = torch.stack([captured.arcs[b, d, h] for h in heads])
            s_scores = torch.stack([student.arcs[b, d, h].detach() for h in heads])
            t_head = heads[int(t_scores.argmax())]
            relation_scores = teacher.tag_bilinear(captured.head_tags[b, t_head].unsqueeze(0),
                                                   captured.child_tags[b, d].unsqueeze(0))[0]
            t_relation = int(relation_scores.argmax())
            same = int(output["heads"][b, d]) == t_head
            arc_agree += same
            label_agree += same and int(output["head_tags"][b, d]) == t_relation
            q, log_p = t_scores.softmax(0), s_scores.log_softmax(0)
            kl += float((q * (q.log() - log_p)).sum())
            words += 1
    assert 0 < arc_agree < words
    assert metrics["teacher_arc_agreement"] == pytest.approx(arc_agree / words, abs=1e-9)
    assert metrics["teacher_label_agreement"] == pytest.approx(label_agree / words, abs=1e-9)
    assert metrics["teacher_kl"] == pytest.approx(kl / words, rel=1e-4)


@pytest.mark.parametrize("config, teacher, keys", [
    ("fixtures/configs/ner_student.jsonnet", "ner_crf_teacher", ["teacher_agreement"]),
    ("fixtures/configs/ner_softmax_student.jsonnet", "ner_crf_teacher", ["teacher_agreement"]),
    ("fixtures/configs/dep_student.jsonnet", "tiny_dep_teacher", ["teacher_arc_agreement", "teacher_label_agreement"]),
])
def test_diagnostics_reach_metrics_json_without_a_kd_objective(config, teacher, keys, tmp_path):
    overrides = {"model.teacher": {"archive": f"{TEACHERS}/{teacher}.tar.gz", "diagnostics": True},
                 "model.distillation": None, "trainer.num_epochs": 1}
    train_model_from_file(config, str(tmp_path / "run"), overrides=json.dumps(overrides))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in keys + ["teacher_kl", "calibration_error"]:
        assert 0.0 <= metrics[f"validation_{key}"] and f"training_{key}" not in metrics
    assert all(0.0 <= metrics[f"validation_{key}"] <= 1.0 for key in keys)
