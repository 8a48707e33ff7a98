"""CoNLL-U dependency trees as one relative-POS head label per word (`dependency_labels`)."""
import logging
from typing import Dict, List

from allennlp.common.file_utils import cached_path
from allennlp.data.dataset_readers.dataset_reader import DatasetReader
from allennlp.data.fields import Field, MetadataField, TextField
from allennlp.data.instance import Instance
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer
from allennlp.data.tokenizers import Token
from conllu import parse_incr

from allennlp_subkd.data.open_label_field import OpenSequenceLabelField
from allennlp_subkd.data.dependency_encoding import encode

logger = logging.getLogger(__name__)


@DatasetReader.register("dependency_labels")
class DependencyLabelsDatasetReader(DatasetReader):
    """
    Reads a CoNLL-U file for dependency parsing as sequence labelling, registered as
    `"dependency_labels"`.

    Each word's tag is its head and relation in the relative-POS encoding of Strzyż,
    Vilares & Gómez-Rodríguez (2019), see `allennlp_subkd.data.dependency_encoding`:
    `f"{offset:+d}@{head_pos}@{relation}"`, e.g. `"+1@VERB@nsubj"` for a subject whose
    head is the first VERB to its right (the word on ROOT gets `"-1@ROOT@root"`).
    Multi-word tokens and empty nodes (ids that are not integers) are skipped, as are
    sentences without words (with a warning giving their number); a sentence whose heads
    are missing (`_`) gets no `tags`.

    Instances have the fields `tokens` (a `TextField` of `Token(text=word, pos_=tag)`,
    so that `SingleIdTokenIndexer(namespace="pos", feature_name="pos_")` can embed the
    POS), `tags` (a `SequenceLabelField` of the labels in namespace `"labels"`, when the
    heads are known) and `metadata` (`{"words", "pos"}`, plus `"gold_heads"` and
    `"gold_relations"` when known).

    # Parameters

    token_indexers : `Dict[str, TokenIndexer]`, optional
        The token indexers of the `tokens` field (default `{"tokens": SingleIdTokenIndexer()}`).
    use_language_specific_pos : `bool`, optional (default = `False`)
        Use the language-specific POS (XPOS) instead of the universal one (UPOS), both
        for the tokens' `pos_` and for the labels.
    **kwargs
        Passed on to `DatasetReader`.
    """

    def __init__(
        self,
        token_indexers: Dict[str, TokenIndexer] = None,
        use_language_specific_pos: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._token_indexers = token_indexers or {"tokens": SingleIdTokenIndexer()}
        self._pos_key = "xpos" if use_language_specific_pos else "upos"

    def _read(self, file_path: str):
        file_path = cached_path(file_path)
        skipped = 0
        with open(file_path, "r") as conllu_file:
            logger.info("Reading dependency-label instances from %s", file_path)
            for annotation in parse_incr(conllu_file):
                words = [token for token in annotation if isinstance(token["id"], int)]
                if not words:
                    skipped += 1
                    continue
                heads = [token["head"] for token in words]
                known = all(head is not None for head in heads)  # CoNLL-U "_": no tree
                yield self.text_to_instance(
                    [token["form"] for token in words],
                    [token[self._pos_key] for token in words],
                    heads if known else None,
                    [token["deprel"] for token in words] if known else None,
                )
        if skipped:
            logger.warning("Skipped %d sentences without words in %s", skipped, file_path)

    def text_to_instance(
        self,  # type: ignore
        words: List[str],
        pos: List[str],
        heads: List[int] = None,
        relations: List[str] = None,
    ) -> Instance:
        """
        # Parameters

        words : `List[str]`, shape `(n,)`
            The words of the sentence.
        pos : `List[str]`, shape `(n,)`
            Their POS.
        heads : `List[int]`, shape `(n,)`, optional (default = `None`)
            The head of each word, 1-based, `0` for ROOT.
        relations : `List[str]`, shape `(n,)`, optional (default = `None`)
            The relation of each word to its head; given exactly when `heads` is.

        # Returns

        An `Instance` with `tokens`, `metadata` and, given heads and relations, `tags`.
        """
        tokens = TextField(
            [Token(text=word, pos_=tag) for word, tag in zip(words, pos)], self._token_indexers
        )
        fields: Dict[str, Field] = {"tokens": tokens}
        metadata = {"words": words, "pos": pos}
        if (heads is None) != (relations is None):
            raise ValueError("heads and relations must be given together")
        if heads is not None:
            fields["tags"] = OpenSequenceLabelField(
                encode(heads, relations, pos), tokens, label_namespace="labels"
            )
            metadata.update(gold_heads=heads, gold_relations=relations)
        fields["metadata"] = MetadataField(metadata)
        return Instance(fields)
