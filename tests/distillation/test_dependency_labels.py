"""A parser teaching a sequence-labelling parser (Wang et al. case 1b): the teacher's marginals of
the student's labels, checked by enumerating every tree, and the adapter's errors."""
import itertools

import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary

from allennlp_subkd.data.dependency_encoding import arc_code
from allennlp_subkd.distillation.tasks.dependency_labels import DependencyLabelsTeacherAdapter, label_marginals
from allennlp_subkd.structures.arcs import best_heads as teacher_label_heads
from allennlp_subkd.distillation.objectives.scores import ParserScores
from tests.distillation.test_parsing_objectives import trees

LENGTHS = [4, 3, 1, 0]
RELATIONS = ["nsubj", "obj", "root"]
TAGS = ["NOUN", "VERB"]


def sentences():
    g = torch.Generator().manual_seed(7)
    return [[TAGS[i] for i in torch.randint(0, 2, (n,), generator=g).tolist()] for n in LENGTHS]


def random_scores(seed):
    g = torch.Generator().manual_seed(seed)
    size, length = len(LENGTHS), max(LENGTHS) + 1
    mask = torch.arange(length).unsqueeze(0) <= torch.tensor(LENGTHS).unsqueeze(1)
    arcs = torch.randn(size, length, length, generator=g, dtype=torch.float64) * 1.5
    labels = torch.randn(size, length, length, len(RELATIONS), generator=g, dtype=torch.float64)
    return ParserScores(arcs, labels, mask)


def student_labels(pos, drop=()):
    """Every label the sentences can have (code + relation), less `drop`."""
    labels = set()
    for tags in pos:
        for d in range(1, len(tags) + 1):
            for h in range(len(tags) + 1):
                if h != d:
                    labels.update(f"{arc_code(tags, d, h)}@{r}" for r in RELATIONS)
    return sorted(labels - set(drop))


def codes_and_table(labels):
    codes, table_entries = {}, []
    for index, label in enumerate(labels):
        offset, head_pos, relation = label.split("@")
        code = codes.setdefault(f"{offset}@{head_pos}", len(codes))
        table_entries.append((code, RELATIONS.index(relation), index))
    table = torch.full((len(codes), len(RELATIONS)), -1, dtype=torch.long)
    for code, relation, index in table_entries:
        table[code, relation] = index
    return codes, table


def head_assignments(n, tree):
    """Every head assignment the teacher's distribution ranges over, with its log-score."""
    if tree == "local":
        return [h for h in itertools.product(range(n + 1), repeat=n) if all(x != d for d, x in enumerate(h, 1))]
    return trees(n, tree == "projective")


def brute_force(scores, pos, labels, tree, allowed_heads=None):
    """{(b, d, label): Σ_y P(y) P(r | y_d -> d)} straight from the definitions."""
    out = {}
    for b, n in enumerate(LENGTHS):
        if n == 0:
            continue
        ys = head_assignments(n, tree)
        if tree == "local":  # a product of per-word head softmaxes
            log_p = []
            for y in ys:
                total = 0.0
                for d, h in enumerate(y, 1):
                    heads = [x for x in range(n + 1) if x != d]
                    total += scores.arcs[b, d, h] - torch.logsumexp(scores.arcs[b, d, heads], 0)
                log_p.append(total)
            log_p = torch.stack(log_p)
        else:
            s = torch.stack([sum(scores.arcs[b, d, h] for d, h in enumerate(y, 1)) for y in ys])
            log_p = s - torch.logsumexp(s, 0)
        for y, lp in zip(ys, log_p):
            for d, h in enumerate(y, 1):
                if allowed_heads is not None and h not in allowed_heads[b][d]:
                    continue
                relation_p = scores.labels[b, d, h].softmax(-1)
                for r, relation in enumerate(RELATIONS):
                    label = f"{arc_code(pos[b], d, h)}@{relation}"
                    if label in labels:
                        key = (b, d, label)
                        out[key] = out.get(key, 0.0) + lp.exp() * relation_p[r]
    return out


def check(q, excluded, expected, labels):
    for b, n in enumerate(LENGTHS):
        for d in range(1, n + 1):
            for index, label in enumerate(labels):
                want = float(expected.get((b, d, label), 0.0))
                assert q[b, d - 1, index].item() == pytest.approx(want, abs=1e-10), (b, d, label)
            assert excluded[b, d - 1].item() == pytest.approx(1.0 - q[b, d - 1].sum().item(), abs=1e-10)
        assert (q[b, n:] == 0).all() and (excluded[b, n:] == 0).all()


@pytest.mark.parametrize("tree", ["nonprojective", "projective", "local"])
def test_label_marginals_are_the_teachers_exactly(tree):
    pos, scores = sentences(), random_scores(1)
    labels = student_labels(pos)
    codes, table = codes_and_table(labels)
    q, excluded = label_marginals(scores, pos, codes, table, len(labels), tree)
    check(q, excluded, brute_force(scores, pos, set(labels), tree), labels)
    # every labelled tree is some student label sequence: nothing is left out
    assert torch.allclose(q.sum(-1), scores.mask[:, 1:].double())


@pytest.mark.parametrize("tree", ["nonprojective", "local"])
def test_labels_the_student_lacks_and_heads_beyond_k_are_left_out(tree):
    pos, scores = sentences(), random_scores(2)
    all_labels = student_labels(pos)
    labels = student_labels(pos, drop=all_labels[::4])  # a quarter of the labels never seen
    codes, table = codes_and_table(labels)
    heads = teacher_label_heads(scores.arcs, scores.mask, 2)
    sparse = ParserScores(scores.arcs, scores.labels.gather(2, heads.unsqueeze(-1).expand(-1, -1, -1, len(RELATIONS))),
                          scores.mask, heads)
    q, excluded = label_marginals(sparse, pos, codes, table, len(labels), tree)
    allowed = heads.tolist()
    check(q, excluded, brute_force(scores, pos, set(labels), tree, allowed), labels)
    assert (excluded[scores.mask[:, 1:]] > 0).any()


def test_the_adapter_refuses_a_student_whose_labels_are_not_the_dependency_encoding():
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(["B-PER", "O"], "labels")
    with pytest.raises(ConfigurationError, match=(
        r"^distilled_simple_tagger: a dependency parser teaches through the 'dependency_labels' adapter only a "
        r"tagger whose labels \('labels'\) are the relative-POS dependency encoding .*; got \['B-PER', 'O'\]$"
    )):
        DependencyLabelsTeacherAdapter().check_student(vocab, "labels", "distilled_simple_tagger")
    vocab.add_tokens_to_namespace(["+1@VERB@nsubj"], "labels")
    with pytest.raises(ConfigurationError, match=r"relative-POS dependency encoding .*; got \['B-PER', 'O'\]$"):
        DependencyLabelsTeacherAdapter().check_student(vocab, "labels", "distilled_simple_tagger")


@pytest.mark.parametrize("params, message", [({"tree": "cky"}, "tree must be"), ({"relation_heads": 0}, "relation_heads")])
def test_bad_adapter_settings(params, message):
    with pytest.raises(ConfigurationError, match=message):
        DependencyLabelsTeacherAdapter(**params)


def test_each_teacher_of_an_ensemble_gets_its_own_relation_table():
    """Two parser teachers number their relations differently: the label table is per teacher."""
    from types import SimpleNamespace

    student = Vocabulary()
    student.add_tokens_to_namespace(["+1@VERB@nsubj", "-1@NOUN@obj"], "labels")

    def teacher(order):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(order, "head_tags")
        return SimpleNamespace(vocab=vocab, archive_path="x")

    batch = SimpleNamespace(vocab=student, label_namespace="labels")
    adapter = DependencyLabelsTeacherAdapter()
    first, second = teacher(["nsubj", "obj"]), teacher(["obj", "nsubj"])
    nsubj = student.get_token_index("+1@VERB@nsubj", "labels")
    for member, relation in ((first, 0), (second, 1), (first, 0)):
        codes, table = adapter._table(member, batch)
        assert table[codes["+1@VERB"], relation] == nsubj
