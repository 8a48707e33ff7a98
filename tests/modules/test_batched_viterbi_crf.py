"""The batched Viterbi decoder of the distilled CRF tagger returns exactly the stock
decoder's paths and scores."""
import json

import pytest
import torch
from allennlp.common import Params
from allennlp.data import Batch, Instance, Token
from allennlp.data.fields import MetadataField, TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer
from allennlp.models import Model
from allennlp.modules.conditional_random_field import ConditionalRandomField, allowed_transitions

import allennlp_subkd  # noqa: F401
from allennlp_subkd.modules.batched_viterbi_crf import BatchedViterbiConditionalRandomField

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def random_crf(constrained: bool, ends: bool, seed: int) -> ConditionalRandomField:
    torch.manual_seed(seed)
    constraints = allowed_transitions("BIO", dict(enumerate(LABELS))) if constrained else None
    crf = ConditionalRandomField(len(LABELS), constraints, include_start_end_transitions=ends)
    with torch.no_grad():
        crf.transitions.normal_(0, 2)
        if ends:
            crf.start_transitions.normal_(0, 2)
            crf.end_transitions.normal_(0, 2)
    return crf


#: Both decoders add the same float32 terms (emissions, transitions, start/end), only in a
#: different order, so their scores may differ by a few units in the last place of float32
#: (eps = 1.2e-7), relative to the terms' magnitude. Measured over every case of this file
#: (scores up to |52|): worst absolute difference 7.6e-6 (2 ulp at |45|), worst relative
#: 2.1e-7 — under 2 eps. The tolerances leave ~50x headroom and nothing more: a decoder that
#: rounds through float16 (relative error ~5e-4) or drops a 1e-4 term fails.
RTOL, ATOL = 1e-5, 5e-6


def same(stock, ours) -> bool:
    """Same paths, scores equal up to float32 summation order (`RTOL`, `ATOL`)."""
    if isinstance(stock, tuple):
        return stock[0] == ours[0] and abs(stock[1] - ours[1]) <= ATOL + RTOL * abs(stock[1])
    return len(stock) == len(ours) and all(same(a, b) for a, b in zip(stock, ours))


@pytest.mark.parametrize("constrained", [True, False])
@pytest.mark.parametrize("ends", [True, False])
@pytest.mark.parametrize("top_k", [None, 1, 4])
def test_same_paths_and_scores_as_the_stock_decoder(constrained, ends, top_k):
    crf = random_crf(constrained, ends, seed=3)
    logits = torch.randn(7, 9, len(LABELS)) * 3
    lengths = torch.tensor([9, 1, 5, 3, 9, 2, 6])  # padding of every amount
    mask = torch.arange(9) < lengths[:, None]
    stock = ConditionalRandomField.viterbi_tags(crf, logits, mask, top_k=top_k)
    ours = BatchedViterbiConditionalRandomField.viterbi_tags(crf, logits, mask, top_k=top_k)
    assert same(stock, ours)
    first = ours[0] if top_k is None else ours[0][0]
    assert len(first[0]) == 9 and all(len((s if top_k is None else s[0])[0]) == n for s, n in zip(ours, lengths))


def test_constrained_paths_are_valid_bio():
    crf = random_crf(True, True, seed=5)
    logits = torch.randn(16, 12, len(LABELS)) * 5
    mask = torch.ones(16, 12, dtype=torch.bool)
    for path, _ in BatchedViterbiConditionalRandomField.viterbi_tags(crf, logits, mask):
        tags = [LABELS[i] for i in path]
        for previous, tag in zip(["O"] + tags, tags):
            if tag.startswith("I-"):
                assert previous[2:] == tag[2:], tags


def test_no_mask_means_every_position():
    crf = random_crf(True, True, seed=6)
    logits = torch.randn(3, 4, len(LABELS))
    assert same(ConditionalRandomField.viterbi_tags(crf, logits, None),
                BatchedViterbiConditionalRandomField.viterbi_tags(crf, logits, None))


def tagger(use_batched_viterbi: bool, top_k: int = 1) -> Model:
    params = Params.from_file("fixtures/configs/ner_student.jsonnet", json.dumps({
        "model.teacher": None, "model.distillation": None,
        "model.use_batched_viterbi": use_batched_viterbi, "model.top_k": top_k}))
    from allennlp.data import DatasetReader, Vocabulary

    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = list(reader.read("fixtures/ner/tiny.conll"))
    vocab = Vocabulary.from_instances(instances)
    torch.manual_seed(0)
    return Model.from_params(vocab=vocab, params=params.pop("model")), vocab


def instances(words_per_sentence, vocab):
    out = []
    for words in words_per_sentence:
        text = TextField([Token(w) for w in words], {"tokens": SingleIdTokenIndexer()})
        out.append(Instance({"tokens": text, "metadata": MetadataField({"words": words})}))
    batch = Batch(out)
    batch.index_instances(vocab)
    return batch.as_tensor_dict()


@pytest.mark.parametrize("top_k", [1, 3])
def test_the_distilled_tagger_decodes_like_crf_tagger_with_empty_sentences(top_k):
    stock, vocab = tagger(False, top_k)
    ours, _ = tagger(True, top_k)
    assert type(stock.crf) is ConditionalRandomField
    assert isinstance(ours.crf, BatchedViterbiConditionalRandomField)
    assert list(stock.state_dict()) == list(ours.state_dict())  # archives are unchanged
    ours.load_state_dict(stock.state_dict())
    with torch.no_grad():
        for module in (stock, ours):
            module.eval()
            module.crf.transitions.normal_(0, 3)  # a trained-looking CRF, the same in both
        ours.load_state_dict(stock.state_dict())
        batch = instances([["Barack", "Obama", "met", "Merkel"], [], ["in", "Berlin"], ["Dominion"]], vocab)
        a, b = stock(**batch), ours(**batch)
    assert a["tags"] == b["tags"]
    assert a["tags"][1] == [] and len(b["tags"][0]) == 4
    if top_k > 1:
        assert same(a["top_k_tags"], b["top_k_tags"])
