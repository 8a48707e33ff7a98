"""`offline_transformer_mismatched`: AllenNLP's mismatched transformer embedder, offline, whole
or truncated to some of its layers."""
from typing import List, Optional, Tuple, Union

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.scalar_mix import ScalarMix
from allennlp.modules.token_embedders import PretrainedTransformerMismatchedEmbedder, TokenEmbedder

from allennlp_subkd.pretrained import model_max_length, resolve_model_name

#: where transformers keep their layer list (BERT, RoBERTa, ELECTRA, MiniLM; DistilBERT)
_LAYER_LISTS = (("encoder", "layer"), ("transformer", "layer"))


def layer_ids(layers: Union[int, List[int]], num_layers: int) -> Tuple[int, ...]:
    """The transformer layers a truncated student keeps, checked: `k` is the first k layers
    (1 <= k <= num_layers), a list is those layer indices in the order given (each in
    0..num_layers-1, none repeated)."""
    if isinstance(layers, bool) or not isinstance(layers, (int, list, tuple)):
        raise ConfigurationError(f"layers must be a number of layers or a list of layer indices, got {layers!r}")
    if isinstance(layers, int):
        if layers == 0:
            raise ConfigurationError(
                "layers: 0 keeps no transformer layer: for the transformer's embedding table alone "
                "use the `static_subword` indexer and embedder"
            )
        if not 1 <= layers <= num_layers:
            raise ConfigurationError(f"layers: {layers}, but the transformer has {num_layers} layers")
        return tuple(range(layers))
    ids = list(layers)
    if not ids:
        raise ConfigurationError(
            "layers: [] keeps no transformer layer: for the transformer's embedding table alone "
            "use the `static_subword` indexer and embedder"
        )
    wrong = [i for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_layers]
    if wrong:
        raise ConfigurationError(
            f"layers {ids}: {wrong} out of range: the transformer's layers are 0..{num_layers - 1}"
        )
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigurationError(f"layers {ids}: {repeated} repeated")
    return tuple(ids)


def _layer_list(model: torch.nn.Module) -> Tuple[torch.nn.Module, str]:
    for parent_name, attribute in _LAYER_LISTS:
        parent = getattr(model, parent_name, None)
        if isinstance(getattr(parent, attribute, None), torch.nn.ModuleList):
            return parent, attribute
    raise ConfigurationError(
        f"layers: cannot find the layer list of {type(model).__name__} "
        f"(looked for {['.'.join(path) for path in _LAYER_LISTS]})"
    )


@TokenEmbedder.register("offline_transformer_mismatched")
class OfflineTransformerMismatchedEmbedder(PretrainedTransformerMismatchedEmbedder):
    """
    `PretrainedTransformerMismatchedEmbedder` (one vector per word, pooled over its word
    pieces) whose `model_name` is resolved by `allennlp_subkd.pretrained.resolve_model_name`
    (a known offline model such as `"all-MiniLM-L6-v2"`, or a local folder), so that configs
    and archives name the model, never a machine's path. Pair it with the
    `offline_transformer_mismatched` indexer of the same `model_name`.

    With `layers`, a truncated transformer (a student made of some of the teacher's layers,
    fine-tuned): the embeddings and the chosen layers, in that order, with their pretrained
    weights. The full model is taken from AllenNLP's transformer cache as a *copy* (as
    `PretrainedTransformerEmbedder` always does) and the copy is cut, so the cache only ever
    holds the full model: a full teacher and a truncated student of the same transformer load
    in one process in either order. (`transformer_kwargs: {num_hidden_layers: k}` would not:
    AllenNLP caches transformers by name, not by `transformer_kwargs`, so the teacher would get
    the truncated model or the student the full one; it is refused here.)

    Registered as a `TokenEmbedder` with name "offline_transformer_mismatched".

    # Parameters

    model_name : `str`
        An offline model name or a local transformers folder.
    layers : `int` or `List[int]`, optional (default = `None`)
        `None`: every layer. `k`: the first k layers (1 to the model's layer count). A list:
        those layer indices (from 0), in the order given, none repeated (DistilBERT-style
        `[0, 2, 4]`). `last_layer_only: false` mixes the kept layers. `reinit_modules`, if
        given, applies to the full model before the layers are chosen.
    **kwargs
        Everything else `PretrainedTransformerMismatchedEmbedder` takes (`train_parameters`,
        `last_layer_only`, `sub_token_mode`, ...). `max_length` defaults to the model's
        `max_position_embeddings`, as the indexer's.
    """

    def __init__(self, model_name: str, layers: Optional[Union[int, List[int]]] = None, **kwargs) -> None:
        if "num_hidden_layers" in (kwargs.get("transformer_kwargs") or {}):
            raise ConfigurationError(
                "transformer_kwargs.num_hidden_layers: AllenNLP caches transformers by model name, "
                "not by transformer_kwargs, so a truncated model and the full one (a teacher) would "
                "share one cache entry; give offline_transformer_mismatched `layers` instead"
            )
        resolved = resolve_model_name(model_name)
        ids = None
        if layers is not None:
            from transformers import AutoConfig

            ids = layer_ids(layers, AutoConfig.from_pretrained(resolved).num_hidden_layers)
        kwargs.setdefault("max_length", model_max_length(resolved))
        super().__init__(resolved, **kwargs)
        self.layer_ids = ids
        if ids is not None:
            self._keep_layers(ids)

    def _keep_layers(self, ids: Tuple[int, ...]) -> None:
        matched = self._matched_embedder
        parent, attribute = _layer_list(matched.transformer_model)
        full = getattr(parent, attribute)
        if len(full) != matched.config.num_hidden_layers:
            raise ConfigurationError(
                f"layers: the transformer has {len(full)} layers, its config says "
                f"{matched.config.num_hidden_layers}"
            )
        setattr(parent, attribute, torch.nn.ModuleList([full[i] for i in ids]))
        # the model is a copy: its config is its own, the cached full model keeps its own
        matched.config.num_hidden_layers = len(ids)
        if matched._scalar_mix is not None:
            matched._scalar_mix = ScalarMix(len(ids))
