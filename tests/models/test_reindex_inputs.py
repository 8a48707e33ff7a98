"""`teacher.reindex_inputs` by behaviour: what the teacher's network actually reads.

`true` rebuilds the teacher's inputs from `metadata["words"]` with the teacher's own indexers
and vocabulary, even when the student's tensors would do; `false` hands the teacher the
student's token ids as they are, even when they mean other words to it; `null` (auto) decides
by comparing indexers and vocabularies. The teacher, `tiny_simple_teacher` (word ids only),
was trained on the same file as the student, so the two vocabularies agree unless a test
shifts the student's."""
from typing import Dict, List

import pytest
import torch
from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model

import allennlp_subkd  # noqa: F401  (registers everything)

STUDENT = "fixtures/configs/ner_student.jsonnet"
TINY = "fixtures/ner/tiny.conll"
TEACHER = "fixtures/teachers/tiny_simple_teacher.tar.gz"


def student(reindex_inputs, shifted: bool):
    """The tiny CRF student taught by `TEACHER`, and a batch indexed with its vocabulary;
    `shifted`: the student's word ids are all one more than the teacher's (another token
    comes first in its vocabulary), so its tensors mean other words to the teacher."""
    params = Params.from_file(STUDENT)
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read(TINY))
    vocab = Vocabulary()
    if shifted:
        vocab.add_token_to_namespace("@@not-in-the-teacher@@", "tokens")
    vocab.extend_from_instances(instances)
    instances = instances[:5]
    model_params = params.pop("model").as_dict()
    model_params["teacher"] = {"archive": TEACHER, "reindex_inputs": reindex_inputs, "cache": {"memory_mb": 0}}
    model_params["distillation"] = {"type": "posterior", "alpha": 0.5}
    model = Model.from_params(vocab=vocab, params=Params(model_params))
    model.train()
    batch = Batch(instances)
    batch.index_instances(vocab)
    return model, batch.as_tensor_dict()


def run(model, tensors) -> Dict[str, List]:
    """One training forward pass; what the teacher's embedder read, and the words of every
    `rebuild_inputs` call."""
    teacher = model.teacher
    seen: Dict[str, List] = {"ids": [], "rebuilt": []}
    rebuild = teacher.rebuild_inputs

    def spy_rebuild(words, *args, **kwargs):
        seen["rebuilt"].append([list(w) for w in words])
        return rebuild(words, *args, **kwargs)

    teacher.rebuild_inputs = spy_rebuild  # an instance attribute: this teacher only
    embedder = teacher.model.text_field_embedder  # loads the archive
    hook = embedder.register_forward_pre_hook(
        lambda module, inputs: seen["ids"].append(inputs[0]["tokens"]["tokens"])
    )
    try:
        output = model(**tensors)
    finally:
        hook.remove()
        del teacher.rebuild_inputs
    assert torch.isfinite(output["kd_loss"])
    return seen


def teacher_ids(model, words: List[List[str]]) -> torch.Tensor:
    """The words' ids in the teacher's own vocabulary, padded with 0."""
    vocab = model.teacher.vocab
    ids = torch.zeros(len(words), max(len(w) for w in words), dtype=torch.long)
    for i, sentence in enumerate(words):
        ids[i, : len(sentence)] = torch.tensor([vocab.get_token_index(w, "tokens") for w in sentence])
    return ids


def words_of(tensors) -> List[List[str]]:
    return [m["words"] for m in tensors["metadata"]]


def test_the_student_vocabulary_really_is_shifted_or_not():
    for shifted in (False, True):
        model, tensors = student(None, shifted)
        own = tensors["tokens"]["tokens"]["tokens"]
        expected = teacher_ids(model, words_of(tensors))
        assert torch.equal(own, expected + (own > 0).long() * shifted)


def test_true_rebuilds_from_the_words_even_when_the_student_tensors_would_do():
    model, tensors = student(None, shifted=False)
    auto = run(model, tensors)  # auto: same indexers, same vocabulary: reused
    assert auto["rebuilt"] == [] and model.teacher._reuse is True
    own = tensors["tokens"]["tokens"]["tokens"]
    assert len(auto["ids"]) == 1 and torch.equal(auto["ids"][0], own)

    model, tensors = student(True, shifted=False)
    # the metadata words are the only source of a rebuilt input: change one to see it read
    tensors["metadata"][0]["words"][0] = "Suzanne"
    forced = run(model, tensors)
    assert forced["rebuilt"] == [words_of(tensors)]
    (ids,) = forced["ids"]
    assert ids is not own and torch.equal(ids, teacher_ids(model, words_of(tensors)))
    assert ids[0, 0] != own[0, 0]  # "Suzanne", not the student's first word


def test_false_passes_the_student_tensors_even_when_they_mean_other_words():
    model, tensors = student(None, shifted=True)
    auto = run(model, tensors)  # auto: the vocabularies differ: rebuilt
    assert auto["rebuilt"] == [words_of(tensors)] and model.teacher._reuse is False
    assert torch.equal(auto["ids"][0], teacher_ids(model, words_of(tensors)))

    model, tensors = student(False, shifted=True)
    own = tensors["tokens"]["tokens"]["tokens"]
    forced = run(model, tensors)
    assert forced["rebuilt"] == []
    (ids,) = forced["ids"]
    # the student's ids as they are (the adapter hands on the batch's rows, a copy of the
    # same values), not the teacher's ids of the words
    assert torch.equal(ids, own)
    assert not torch.equal(ids, teacher_ids(model, words_of(tensors)))


@pytest.mark.parametrize("reindex_inputs, shifted", [(True, True), (False, False)])
def test_forcing_what_auto_would_choose_changes_nothing(reindex_inputs, shifted):
    model, tensors = student(reindex_inputs, shifted)
    seen = run(model, tensors)
    assert (seen["rebuilt"] != []) is reindex_inputs
    expected = teacher_ids(model, words_of(tensors))
    assert torch.equal(seen["ids"][0], expected)
