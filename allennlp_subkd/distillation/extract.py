"""Read the scores a KD objective needs out of an AllenNLP tagger, without decoding.

`CrfTagger.forward` always runs Viterbi decoding (a Python loop over the batch), which a
teacher does not need; these functions run only the scoring part of the network.
"""
from typing import Dict, Tuple

import torch
from allennlp.models import Model, SimpleTagger
from allennlp.nn import util
from allennlp_models.tagging import CrfTagger

from allennlp_subkd.distillation.scores import TaggerScores


def tagger_emissions(model: Model, tokens: Dict[str, Dict[str, torch.Tensor]]) -> Tuple[torch.Tensor, torch.BoolTensor]:
    """
    The per-token label scores of a `CrfTagger` or `SimpleTagger` (or a subclass) and the
    token mask: embedder → (dropout) → encoder → (dropout, feed-forward) → tag projection,
    exactly the layers their `forward` applies before decoding.

    Returns `(emissions [batch, time, labels], mask [batch, time])`, labels in the model's
    own label order.
    """
    embedded = model.text_field_embedder(tokens)
    mask = util.get_text_field_mask(tokens)
    dropout = getattr(model, "dropout", None)
    if dropout:
        embedded = dropout(embedded)
    encoded = model.encoder(embedded, mask)
    if dropout:
        encoded = dropout(encoded)
    feedforward = getattr(model, "_feedforward", None)
    if feedforward is not None:
        encoded = feedforward(encoded)
    return model.tag_projection_layer(encoded), mask


def tagger_scores(model: Model, emissions: torch.Tensor) -> TaggerScores:
    """`TaggerScores` of a tagger from its emissions: a CRF's transitions are attached, a
    softmax tagger has none. Labels in the model's own order."""
    if isinstance(model, CrfTagger):
        crf = model.crf
        start = crf.start_transitions if crf.include_start_end_transitions else None
        end = crf.end_transitions if crf.include_start_end_transitions else None
        return TaggerScores(emissions, crf.transitions, start, end)
    if isinstance(model, SimpleTagger):
        return TaggerScores(emissions)
    raise TypeError(f"not a tagger: {type(model).__name__}")


def permute_labels(scores: TaggerScores, index: torch.LongTensor) -> TaggerScores:
    """Re-order every label axis: `new[..., i] = old[..., index[i]]`."""
    index = index.to(scores.emissions.device)

    def pick(x):
        return None if x is None else x.index_select(-1, index)

    transitions = None
    if scores.transitions is not None:
        transitions = scores.transitions.index_select(0, index).index_select(1, index)
    return TaggerScores(pick(scores.emissions), transitions, pick(scores.start), pick(scores.end))
