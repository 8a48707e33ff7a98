"""`offline_transformer_mismatched`: AllenNLP's mismatched transformer indexer, offline."""
from allennlp.data.token_indexers import PretrainedTransformerMismatchedIndexer, TokenIndexer

from allennlp_subkd.pretrained import model_max_length, resolve_model_name


@TokenIndexer.register("offline_transformer_mismatched")
class OfflineTransformerMismatchedIndexer(PretrainedTransformerMismatchedIndexer):
    """
    `PretrainedTransformerMismatchedIndexer` (word pieces of pre-tokenised words) whose
    `model_name` is resolved by `allennlp_subkd.pretrained.resolve_model_name`: a known
    offline model (`"all-MiniLM-L6-v2"`, materialised from its PyPI package on first use) or
    a local folder. A config and its archive keep the *name*, so they load on any machine
    with the package installed, without a model hub.

    Registered as a `TokenIndexer` with name "offline_transformer_mismatched".

    # Parameters

    model_name : `str`
        An offline model name or a local transformers folder.
    **kwargs
        Everything else `PretrainedTransformerMismatchedIndexer` takes (`namespace`,
        `tokenizer_kwargs`, ...). `max_length` defaults to the model's
        `max_position_embeddings` (`model_max_length`): longer sentences are folded into
        segments; give the embedder the same value.
    """

    def __init__(self, model_name: str, **kwargs) -> None:
        resolved = resolve_model_name(model_name)
        kwargs.setdefault("max_length", model_max_length(resolved))
        super().__init__(resolved, **kwargs)
