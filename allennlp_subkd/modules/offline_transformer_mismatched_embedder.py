"""`offline_transformer_mismatched`: AllenNLP's mismatched transformer embedder, offline."""
from allennlp.modules.token_embedders import PretrainedTransformerMismatchedEmbedder, TokenEmbedder

from allennlp_subkd.pretrained import model_max_length, resolve_model_name


@TokenEmbedder.register("offline_transformer_mismatched")
class OfflineTransformerMismatchedEmbedder(PretrainedTransformerMismatchedEmbedder):
    """
    `PretrainedTransformerMismatchedEmbedder` (one vector per word, pooled over its word
    pieces) whose `model_name` is resolved by `allennlp_subkd.pretrained.resolve_model_name`
    (a known offline model such as `"all-MiniLM-L6-v2"`, or a local folder), so that configs
    and archives name the model, never a machine's path. Pair it with the
    `offline_transformer_mismatched` indexer of the same `model_name`.

    Registered as a `TokenEmbedder` with name "offline_transformer_mismatched".

    # Parameters

    model_name : `str`
        An offline model name or a local transformers folder.
    **kwargs
        Everything else `PretrainedTransformerMismatchedEmbedder` takes (`train_parameters`,
        `last_layer_only`, `sub_token_mode`, ...). `max_length` defaults to the model's
        `max_position_embeddings`, as the indexer's.
    """

    def __init__(self, model_name: str, **kwargs) -> None:
        resolved = resolve_model_name(model_name)
        kwargs.setdefault("max_length", model_max_length(resolved))
        super().__init__(resolved, **kwargs)
