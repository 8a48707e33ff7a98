"""`biaffine_span_tagger`: span-based NER ("NER as dependency parsing", Yu, Bohnet & Poesio 2020)."""
import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.data.dataset_readers.dataset_utils.span_utils import bio_tags_to_spans, bioul_tags_to_spans
from allennlp.models import Model
from allennlp.modules import FeedForward, Seq2SeqEncoder, TextFieldEmbedder
from allennlp.nn import Activation, InitializerApplicator, util
from allennlp.training.metrics import SpanBasedF1Measure

from allennlp_subkd.data.open_label_field import unseen_labels
from allennlp_subkd.distillation.tasks.span_ner import SpanScoringModel
from allennlp_subkd.models.nonempty import forward_nonempty
from allennlp_subkd.structures import segments

logger = logging.getLogger(__name__)

SPAN_DECODERS = {"BIO": bio_tags_to_spans, "BIOUL": bioul_tags_to_spans}


def entity_types(vocab: Vocabulary, namespace: str) -> List[str]:
    """The entity labels of a tag namespace (`B-PER`, `I-PER`, `O` -> `["PER"]`), sorted."""
    tags = vocab.get_token_to_index_vocabulary(namespace)
    return sorted({tag.split("-", 1)[1] for tag in tags if tag != "O" and "-" in tag})


@Model.register("biaffine_span_tagger")
class BiaffineSpanTagger(SpanScoringModel, Model):
    """
    A span-based NER model: every span of at most `max_span_length` words is scored for every
    entity label and for "no entity" (∅) by a biaffine product of a start and an end
    representation of its boundary words (Yu, Bohnet & Poesio 2020, "Named Entity Recognition
    as Dependency Parsing"), and trained with a softmax cross-entropy per span (the mean over the
    batch's spans of at most `max_span_length` words, every span but the gold entities labelled
    ∅).

    It reads the same data as the taggers (a CoNLL reader's BIO or BIOUL `tags`: the gold spans
    are read off the tags) and writes the same output: `tags` (label strings), scored by the stock
    `SpanBasedF1Measure` (`f1-measure-overall`), so its F1 is comparable with a `crf_tagger`'s.

    **Decoding** (say which rule): the highest-scoring set of *non-overlapping* labelled spans
    under the span log-odds `s(i, j, c) - s(i, j, ∅)`, found exactly by semi-Markov Viterbi
    (`allennlp_subkd.structures.segments.viterbi`) — the mode of the distribution
    `P(S | non-overlapping) ∝ Π_{(i,j,c) ∈ S} p(c | i, j) / p(∅ | i, j)` that the span classifier
    defines over flat entity sets, which is also the distribution it teaches a tagger through the
    `"span_ner"` teacher adapter (Wang et al. 2021's scenario 4). Yu et al. decode greedily (spans
    by probability, skipping clashes); the exact mode is never worse under the model.

    Registered as a `Model` with name "biaffine_span_tagger".

    # Parameters

    vocab : `Vocabulary`
    text_field_embedder : `TextFieldEmbedder`
        The words' inputs (a transformer through `offline_transformer_mismatched`, a character CNN, ...).
    encoder : `Seq2SeqEncoder`
        Over the embedded words (`pass_through` for a transformer).
    label_namespace : `str`, optional (default = `"labels"`)
        The namespace of the tags (the entity labels are read off it).
    label_encoding : `str`, optional (default = `"BIO"`)
        The tags' encoding, `"BIO"` (IOB2) or `"BIOUL"`: of the gold tags read and of the tags
        written.
    max_span_length : `int`, optional (default = `16`)
        The longest entity, in words, the model can predict (16 covers every entity of UNER
        English-EWT).
    long_entities : `str`, optional (default = `"error"`)
        A gold entity longer than `max_span_length` in a training batch: `"error"` (a
        `ConfigurationError` naming it and the length to set) or `"ignore"` (left out of the loss:
        its spans are trained as ∅; one warning with the count). In validation and evaluation it
        is always a gold entity no prediction can match (a miss), with a warning.
    span_dim : `int`, optional (default = `150`)
        The size of the start and end representations (one ELU layer each).
    dropout : `float`, optional (default = `0.2`)
        Dropout on the encoder's output and on the start/end representations.
    initializer : `InitializerApplicator`, optional
    """

    default_predictor = "pretokenized_tagger"

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        label_namespace: str = "labels",
        label_encoding: str = "BIO",
        max_span_length: int = 16,
        long_entities: str = "error",
        span_dim: int = 150,
        dropout: float = 0.2,
        initializer: InitializerApplicator = InitializerApplicator(),
        **kwargs,
    ) -> None:
        super().__init__(vocab, **kwargs)
        if label_encoding not in SPAN_DECODERS:
            raise ConfigurationError(
                f"biaffine_span_tagger label_encoding must be one of {list(SPAN_DECODERS)}, got {label_encoding!r}"
            )
        if not isinstance(max_span_length, int) or max_span_length < 1:
            raise ConfigurationError(f"biaffine_span_tagger max_span_length must be an integer >= 1, got {max_span_length!r}")
        if long_entities not in ("error", "ignore"):
            raise ConfigurationError(
                f'biaffine_span_tagger long_entities must be "error" or "ignore", got {long_entities!r}'
            )
        self.label_namespace = label_namespace
        self.label_encoding = label_encoding
        self.max_span_length = max_span_length
        self.long_entities = long_entities
        self.entity_types = entity_types(vocab, label_namespace)
        if not self.entity_types:
            raise ConfigurationError(
                f"biaffine_span_tagger: no entity label in the namespace {label_namespace!r} "
                f"(tags like B-PER): {sorted(vocab.get_token_to_index_vocabulary(label_namespace))[:5]}"
            )
        self._type_index = {label: i + 1 for i, label in enumerate(self.entity_types)}  # 0: ∅
        self.text_field_embedder = text_field_embedder
        self.encoder = encoder
        hidden = encoder.get_output_dim()
        elu = Activation.by_name("elu")()
        self.start_feedforward = FeedForward(hidden, 1, span_dim, elu, dropout)
        self.end_feedforward = FeedForward(hidden, 1, span_dim, elu, dropout)
        # one (span_dim + 1)² biaffine form per label (∅ first): the appended 1s give each label
        # its start, end and constant terms
        self.span_weight = torch.nn.Parameter(torch.empty(len(self.entity_types) + 1, span_dim + 1, span_dim + 1))
        torch.nn.init.xavier_uniform_(self.span_weight)
        self.dropout = torch.nn.Dropout(dropout)
        self._f1_metric = SpanBasedF1Measure(vocab, tag_namespace=label_namespace, label_encoding=label_encoding)
        self._warned_long = False
        initializer(self)

    # ------------------------------------------------------------------ scores
    def span_scores(self, tokens: TextFieldTensors) -> Tuple[torch.Tensor, torch.BoolTensor]:
        """`(scores [B, T, L, labels + 1], mask [B, T])`: `scores[b, i, k, c]` the logit of label
        c (0: ∅, then `entity_types`) for the span of words i .. i+k; spans running past the
        sentence hold arbitrary values (masked by every consumer)."""
        mask = util.get_text_field_mask(tokens)
        encoded = self.dropout(self.encoder(self.dropout(self.text_field_embedder(tokens)), mask))
        start, end = self.start_feedforward(encoded), self.end_feedforward(encoded)
        ones = start.new_ones(*start.shape[:-1], 1)
        start, end = torch.cat([start, ones], -1), torch.cat([end, ones], -1)
        pairs = torch.einsum("bxi,lij,byj->blxy", start, self.span_weight, end)  # [B, labels + 1, T, T]
        length = mask.size(1)
        ends = (torch.arange(length, device=mask.device).unsqueeze(-1)
                + torch.arange(self.max_span_length, device=mask.device)).clamp(max=length - 1)  # [T, L]
        pairs = pairs.permute(0, 2, 3, 1)  # [B, T, T, labels + 1]
        index = ends.view(1, length, self.max_span_length, 1).expand(pairs.size(0), -1, -1, pairs.size(-1))
        return pairs.gather(2, index), mask

    @staticmethod
    def log_odds(scores: torch.Tensor) -> torch.Tensor:
        """`[B, T, L, labels]`: each entity label's logit minus ∅'s, the potentials of the
        distribution over non-overlapping spans (module `allennlp_subkd.structures.segments`)."""
        return scores[..., 1:] - scores[..., :1]

    def span_potentials(self, tokens: TextFieldTensors) -> Tuple[torch.Tensor, torch.BoolTensor]:
        """`(log_odds [B, T, L, labels], mask)`: what it teaches a tagger with (`"span_ner"` adapter)."""
        scores, mask = self.span_scores(tokens)
        return self.log_odds(scores), mask

    def valid_spans(self, mask: torch.BoolTensor) -> torch.BoolTensor:
        """`[B, T, L]`: the span i .. i+k ends inside its sentence."""
        length = mask.size(1)
        ends = torch.arange(length, device=mask.device).unsqueeze(-1) + torch.arange(self.max_span_length, device=mask.device)
        return ends.unsqueeze(0) < mask.sum(-1).view(-1, 1, 1)

    # ------------------------------------------------------------------ forward
    def forward(  # type: ignore
        self, tokens: TextFieldTensors, tags: torch.LongTensor = None, metadata: List[Dict[str, Any]] = None, **kwargs
    ) -> Dict[str, Any]:
        """`tags` (gold, the reader's) give the loss and the metric; the output holds `tags`
        (label strings per sentence), `spans` (`[label, start, end]`, end inclusive) and
        `span_scores`."""
        parameter = self.span_weight
        return forward_nonempty(self._forward, tokens, parameter, metadata=metadata,
                                empty_keys=("tags", "spans"), tags=tags)

    def _forward(self, tokens, metadata=None, tags=None) -> Dict[str, Any]:
        scores, mask = self.span_scores(tokens)
        found, _ = segments.viterbi(self.log_odds(scores).detach(), mask)
        lengths = mask.sum(-1).tolist()
        labelled = [[(start, end, self.entity_types[c]) for start, end, c in sentence] for sentence in found]
        output: Dict[str, Any] = {
            "span_scores": scores,
            "mask": mask,
            "tags": [segments.segments_to_tags(s, n, self.label_encoding) for s, n in zip(labelled, lengths)],
            "spans": [[[label, start, end] for start, end, label in s] for s in labelled],
        }
        if metadata is not None:
            output["words"] = [m["words"] for m in metadata]
        if tags is not None:
            gold_tags = self._tag_strings(tags, mask)
            output["loss"] = self._loss(scores, mask, gold_tags)
            self._score(output["tags"], gold_tags, mask)
        return output

    def _tag_strings(self, tags: torch.LongTensor, mask: torch.BoolTensor) -> List[List[str]]:
        """The gold tags as strings (a label the vocabulary lacks, from our checked readers, by its
        own string)."""
        names = {**self.vocab.get_index_to_token_vocabulary(self.label_namespace),
                 **unseen_labels(self.vocab, self.label_namespace)}
        return [[names[int(t)] for t in row[: int(n)]] for row, n in zip(tags.tolist(), mask.sum(-1).tolist())]

    def _loss(self, scores: torch.Tensor, mask: torch.BoolTensor, gold_tags: List[List[str]]) -> torch.Tensor:
        gold = torch.zeros(scores.shape[:3], dtype=torch.long, device=scores.device)
        too_long = []
        for b, sentence in enumerate(gold_tags):
            for label, (start, end) in SPAN_DECODERS[self.label_encoding](sentence):
                if label not in self._type_index:
                    continue  # a label the model never saw: no class to train (scored as a miss)
                if end - start >= self.max_span_length:
                    too_long.append((b, label, start, end))
                    continue
                gold[b, start, end - start] = self._type_index[label]
        if too_long:
            self._long_entities(too_long, gold_tags)
        valid = self.valid_spans(mask)
        return torch.nn.functional.cross_entropy(scores[valid], gold[valid])

    def _long_entities(self, too_long, gold_tags) -> None:
        longest = max(end - start + 1 for _, _, start, end in too_long)
        b, label, start, end = too_long[0]
        if self.training and self.long_entities == "error":
            raise ConfigurationError(
                f"biaffine_span_tagger: a gold {label} entity of {end - start + 1} words "
                f"(words {start}..{end} of a sentence of {len(gold_tags[b])}) is longer than "
                f"max_span_length = {self.max_span_length}; set max_span_length >= {longest}, or "
                f'long_entities: "ignore" to train such entities as no entity'
            )
        if not self._warned_long:
            logger.warning(
                "biaffine_span_tagger: %d gold entities longer than max_span_length = %d (up to %d "
                "words) in a batch: %s (later ones are not reported)",
                len(too_long), self.max_span_length, longest,
                "left out of the loss" if self.training else "scored as misses",
            )
            self._warned_long = True

    def _score(self, predicted: List[List[str]], gold: List[List[str]], mask: torch.BoolTensor) -> None:
        """The stock span F1 over tag strings: one column per string, the vocabulary's first."""
        names = dict(self.vocab.get_index_to_token_vocabulary(self.label_namespace))
        index = {tag: i for i, tag in names.items()}
        for sentence in predicted + gold:
            for tag in sentence:
                if tag not in index:
                    index[tag] = len(index)
                    names[index[tag]] = tag
        size, length = mask.shape
        predictions = torch.zeros(size, length, len(index))
        gold_ids = torch.zeros(size, length, dtype=torch.long)
        for b, (p, g) in enumerate(zip(predicted, gold)):
            for t, (pt, gt) in enumerate(zip(p, g)):
                predictions[b, t, index[pt]] = 1.0
                gold_ids[b, t] = index[gt]
        metric = self._f1_metric
        saved = metric._label_vocabulary
        metric._label_vocabulary = names
        try:
            metric(predictions, gold_ids, mask.cpu())
        finally:
            metric._label_vocabulary = saved

    def make_output_human_readable(self, output_dict: Dict[str, Any]) -> Dict[str, Any]:
        output_dict.pop("span_scores", None)
        output_dict.pop("mask", None)
        return output_dict

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = self._f1_metric.get_metric(reset=reset)
        return {name: value for name, value in metrics.items() if "overall" in name}
