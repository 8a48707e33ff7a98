"""`static_subword`: a transformer's subword embedding table, pooled per word, no transformer layer."""
import logging
from typing import Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.modules.token_embedders import TokenEmbedder

from allennlp_subkd.data.static_subword_indexer import add_word_pieces

logger = logging.getLogger(__name__)


def mean_of_pieces(table: torch.Tensor, piece_ids: torch.LongTensor, piece_counts: torch.LongTensor) -> torch.Tensor:
    """The mean of the rows of `table` [V, D] of each word's first `piece_counts` pieces:
    `piece_ids` [..., P], `piece_counts` [...] -> [..., D]; zero for a word of no piece (and for
    padding words, whose count is 0). One `embedding_bag` (a weighted sum of table rows per
    word), so no [..., P, D] tensor is built; the weights are 1/count on a word's pieces and 0 on
    its padding, whatever id the padding holds."""
    shape = piece_ids.shape[:-1]
    pieces = piece_ids.size(-1)
    flat = piece_ids.reshape(-1, pieces)
    if flat.numel() == 0:
        return table.new_zeros(*shape, table.size(1))
    counts = piece_counts.reshape(-1, 1)
    present = torch.arange(pieces, device=flat.device).unsqueeze(0) < counts
    weights = present.to(table.dtype) / counts.clamp(min=1).to(table.dtype)
    pooled = torch.nn.functional.embedding_bag(flat, table, mode="sum", per_sample_weights=weights)
    return pooled.view(*shape, table.size(1))


@TokenEmbedder.register("static_subword")
class StaticSubwordEmbedder(TokenEmbedder):
    """
    A word vector from a pretrained transformer's subword embedding table alone
    (`embeddings.word_embeddings`): the mean of the table rows of the word's pieces, no
    transformer layer, optionally followed by a linear projection. Pair it with the
    `static_subword` indexer (same namespace), which gives each word's piece ids as
    `[batch, words, pieces]`: one table lookup and a masked mean, none of the word-piece
    sequence / offsets machinery of `offline_transformer_mismatched`.

    Training from a config, `pretrained_file` names the transformer (an offline model such as
    `"all-MiniLM-L6-v2"` or a local folder, see `allennlp_subkd.pretrained`): its word pieces
    are put into the vocabulary namespace `vocab_namespace` (the transformer's ids, so the
    vocabulary saved with the model, and hence its archive, carries them) and its table becomes
    this module's `weight`, part of the model's state dict. Loading an archive, AllenNLP's
    `Model._load` removes every `pretrained_file` key from the model's config (as for
    `Embedding`), so the table is read from the archive's weights and the vocabulary from its
    vocabulary: an archive loads and predicts without the transformer's files or package.
    Without `pretrained_file` and with the namespace already in the vocabulary, the table is
    initialised at random (xavier, as `Embedding`'s) and the weights are expected from a state
    dict.

    Registered as a `TokenEmbedder` with name "static_subword".

    # Parameters

    embedding_dim : `int`
        The width of the transformer's table (384 for all-MiniLM-L6-v2). Required, so that an
        archive (whose config has lost `pretrained_file`) can build the module; checked
        against the table when `pretrained_file` is given.
    vocab : `Vocabulary`
        The model's vocabulary (given by the model's `from_params`).
    pretrained_file : `str`, optional (default = `None`)
        The transformer whose word pieces and table initialise the module: an offline model
        name or a local transformers folder (`allennlp_subkd.pretrained.resolve_model_name`).
        Named as `Embedding`'s argument so that archives drop it.
    vocab_namespace : `str`, optional (default = `"subword_tags"`)
        The vocabulary namespace of the word pieces; the indexer's `namespace`.
    trainable : `bool`, optional (default = `False`)
        Whether the table is updated in training (frozen by default).
    projection_dim : `int`, optional (default = `None`)
        If given, a trainable linear layer from `embedding_dim` to `projection_dim` after the
        pooling; the output dimension is then `projection_dim`.
    """

    def __init__(
        self,
        embedding_dim: int,
        vocab: Vocabulary,
        pretrained_file: Optional[str] = None,
        vocab_namespace: str = "subword_tags",
        trainable: bool = False,
        projection_dim: Optional[int] = None,
    ) -> None:
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("projection_dim", projection_dim)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"static_subword embedder: {name} must be an integer >= 1, got {value!r}")
        if pretrained_file is not None:
            weight = self._pretrained_table(pretrained_file, embedding_dim, vocab, vocab_namespace)
        else:
            if vocab_namespace not in vocab.get_namespaces():
                raise ConfigurationError(
                    f"static_subword embedder: the vocabulary has no word pieces in namespace "
                    f"{vocab_namespace!r}: give `pretrained_file` (the transformer whose table to "
                    "use), or load the model from its archive"
                )
            weight = torch.empty(vocab.get_vocab_size(vocab_namespace), embedding_dim)
            torch.nn.init.xavier_uniform_(weight)
        self.weight = torch.nn.Parameter(weight, requires_grad=trainable)
        self._vocab_namespace = vocab_namespace
        self.projection = torch.nn.Linear(embedding_dim, projection_dim) if projection_dim is not None else None
        self.output_dim = projection_dim or embedding_dim

    @staticmethod
    def _pretrained_table(name: str, embedding_dim: int, vocab: Vocabulary, namespace: str) -> torch.Tensor:
        from allennlp_subkd.pretrained import resolve_model_name, word_embedding_table, word_pieces

        try:
            folder = resolve_model_name(name)
        except ConfigurationError as error:
            raise ConfigurationError(f"static_subword embedder, pretrained_file: {error}") from error
        table = word_embedding_table(folder)
        pieces = word_pieces(folder)
        if table.size(0) < len(pieces):
            raise ConfigurationError(
                f"the table of {name!r} has {table.size(0)} rows for its {len(pieces)} word pieces"
            )
        if table.size(1) != embedding_dim:
            raise ConfigurationError(
                f"the word-piece table of {name!r} is {table.size(1)}-dimensional: set the "
                f"static_subword embedder's embedding_dim: {table.size(1)} (got {embedding_dim})"
            )
        add_word_pieces(vocab, namespace, pieces)
        logger.info("static_subword: %d word pieces x %d from %s", len(pieces), table.size(1), folder)
        # rows beyond the tokenizer's pieces (a table padded to a round size) are never indexed
        return table[: len(pieces)].clone()

    def get_output_dim(self) -> int:
        return self.output_dim

    def forward(
        self,
        piece_ids: torch.LongTensor,
        piece_counts: torch.LongTensor,
        mask: Optional[torch.BoolTensor] = None,
    ) -> torch.Tensor:
        """
        # Parameters

        piece_ids : `torch.LongTensor`
            `[batch, words, pieces]`, each word's piece ids (padding after its count).
        piece_counts : `torch.LongTensor`
            `[batch, words]`, the number of pieces of each word (0 for padding words).
        mask : `torch.BoolTensor`, optional
            `[batch, words]`, the words (the text field's mask); unused here.

        # Returns

        `[batch, words, output_dim]`: zero for padding words (and words of no piece) before
        the projection.
        """
        vectors = mean_of_pieces(self.weight, piece_ids, piece_counts)
        if self.projection is not None:
            vectors = self.projection(vectors)
        return vectors
