"""`distilled_dependency_tagger`: dependency parsing as sequence labelling (Strzyż et al. 2019),
a softmax tagger student taught by a biaffine parser (Wang et al. 2021, case 1b)."""
from typing import Any, Dict, List, Optional, Tuple

import torch
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp.nn import util
from allennlp_models.structured_prediction.models.biaffine_dependency_parser import POS_TO_IGNORE

from allennlp_subkd.data.dependency_encoding import decode
from allennlp_subkd.distillation.objectives.tagging import TaggerDistillation
from allennlp_subkd.distillation.teacher.config import Teacher
from allennlp_subkd.models.attachment_scores import WorkerSafeAttachmentScores
from allennlp_subkd.models.distilled_simple_tagger import DistilledSimpleTagger


@Model.register("distilled_dependency_tagger")
class DistilledDependencyTagger(DistilledSimpleTagger):
    """
    A dependency parser that is a softmax tagger: each word gets one label
    `"{offset}@{head POS}@{relation}"` (the relative-POS encoding of Strzyż, Vilares &
    Gómez-Rodríguez 2019, `allennlp_subkd.data.dependency_encoding`; the `dependency_labels`
    dataset reader writes them), decoded back to a head and a relation. It is
    `distilled_simple_tagger` with the decoding, attachment scores and a parser teacher by
    default: its teacher is a `biaffine_parser` or `distilled_biaffine_parser` read through
    the `dependency_labels` adapter, which gives the exact marginals of the student's labels
    under the teacher's tree distribution, so `structural` KD is the exact cross-entropy
    (Wang et al.'s case 1b). A dependency tagger can teach it too
    (`teacher.adapter: {type: "tagger"}`).

    **Decoding.** For each word, the most probable of its `decode_candidates` best labels
    whose head exists in the sentence (`"+2@NOUN"` needs two nouns to its right); a word with
    no such label is attached to the first word on ROOT (or to ROOT), with the relation of its
    best label (`dependency_encoding.decode`). As in Strzyż et al., the result is not forced
    into a tree (a cycle or a second root can remain); the attachment scores count it as it is.

    **Output.** As `distilled_simple_tagger` (`tags`, the labels), plus `pos`,
    `predicted_heads` (1-based, 0 = ROOT) and `predicted_dependencies` (relation strings), one
    per word, like the parsers' output (`metadata` with the words and POS tags is needed).

    **Metrics.** `UAS`, `LAS`, `UEM`, `LEM` of AllenNLP's `AttachmentScores` over the words
    whose POS is not punctuation (the biaffine parser's `POS_TO_IGNORE`), so they compare with
    `biaffine_parser`'s, plus the tagger's label `accuracy`.

    Registered as a `Model` with name "distilled_dependency_tagger".

    # Parameters

    vocab, text_field_embedder, encoder, **kwargs
        As `SimpleTagger` (the token indexers usually embed the words and, with a
        `single_id` indexer of `feature_name: "pos_"`, their POS tags).
    teacher : `Teacher`, optional (default = `None`)
        As for `distilled_simple_tagger`; the adapter defaults to `dependency_labels`
        (`tree: "nonprojective"`, `relation_heads: 2`).
    distillation : `TaggerDistillation`, optional (default = `None`)
        `structural` (exact), `posterior` or `token` (the same targets as a KL), with
        `alpha`, `temperature` (applied to the label distribution) and `anneal`.
    decode_candidates : `int`, optional (default = `10`)
        How many of each word's most probable labels decoding tries before the repair.
    """

    default_predictor = "pretokenized_parser"
    student_name = "distilled_dependency_tagger"
    default_adapter = "dependency_labels"
    #: the predictor must be given POS tags (decoding reads them)
    reads_pos_tags = True
    _empty_keys = ("tags", "predicted_heads", "predicted_dependencies", "pos")

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        teacher: Optional[Teacher] = None,
        distillation: Optional[TaggerDistillation] = None,
        decode_candidates: int = 10,
        **kwargs,
    ) -> None:
        super().__init__(vocab, text_field_embedder, encoder, teacher=teacher, distillation=distillation, **kwargs)
        if decode_candidates < 1:
            raise ValueError(f"decode_candidates must be >= 1, got {decode_candidates}")
        self.decode_candidates = decode_candidates
        self._attachment_scores = WorkerSafeAttachmentScores()
        self._relations: Dict[str, int] = {}

    def _forward(self, tokens, metadata=None, tags=None, **kwargs) -> Dict[str, torch.Tensor]:
        output = super()._forward(tokens, metadata=metadata, tags=tags, **kwargs)
        if metadata is not None:
            heads, relations = self.decode_heads(output["class_probabilities"], metadata)
            output["pos"] = [m["pos"] for m in metadata]
            output["predicted_heads"], output["predicted_dependencies"] = heads, relations
            if metadata and "gold_heads" in metadata[0]:
                self._score(heads, relations, metadata, util.get_text_field_mask(tokens))
        return output

    def decode_heads(
        self, probabilities: torch.Tensor, metadata: List[Dict[str, Any]]
    ) -> Tuple[List[List[int]], List[List[str]]]:
        """Heads (0 = ROOT) and relations of each sentence from `probabilities [B, n, labels]`."""
        k = min(self.decode_candidates, probabilities.size(-1))
        ranked = probabilities.detach().topk(k, -1).indices.tolist()
        labels = self.vocab.get_index_to_token_vocabulary(self.label_namespace)
        heads, relations = [], []
        for sentence, meta in zip(ranked, metadata):
            n = len(meta["words"])
            sentence_heads, sentence_relations = decode(
                meta["pos"], [[labels[i] for i in word] for word in sentence[:n]]
            )
            heads.append(sentence_heads)
            relations.append(sentence_relations)
        return heads, relations

    def _score(self, heads, relations, metadata, mask) -> None:
        size, length = mask.shape

        def ids(values):
            return [self._relations.setdefault(value, len(self._relations)) for value in values]

        tensors = [torch.zeros(size, length, dtype=torch.long) for _ in range(4)]
        evaluated = torch.zeros(size, length, dtype=torch.bool)
        for b, meta in enumerate(metadata):
            n = len(meta["words"])
            for tensor, values in zip(tensors, (heads[b], ids(relations[b]), meta["gold_heads"],
                                                ids(meta["gold_relations"]))):
                tensor[b, :n] = torch.tensor(values, dtype=torch.long)
            evaluated[b, :n] = torch.tensor([tag not in POS_TO_IGNORE for tag in meta["pos"]], dtype=torch.bool)
        self._attachment_scores(*(t.to(mask.device) for t in tensors), evaluated.to(mask.device))

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = super().get_metrics(reset)
        metrics.update(self._attachment_scores.get_metric(reset))
        return metrics
