"""`distilled_biaffine_parser`: allennlp-models' `BiaffineDependencyParser` taught by a frozen
archived teacher parser."""
import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp.nn.chu_liu_edmonds import decode_mst
from allennlp_models.structured_prediction import BiaffineDependencyParser

from allennlp_subkd.distillation.objectives.parsing import ParserDistillation, check_tree_type
from allennlp_subkd.distillation.tasks.parser import DistilledParserMixin, capture_parser_scores
from allennlp_subkd.distillation.teacher.config import Teacher, teacher_from_deprecated
from allennlp_subkd.models.attachment_scores import WorkerSafeAttachmentScores
from allennlp_subkd.data.open_label_field import split_unseen
from allennlp_subkd.models.nonempty import forward_nonempty
from allennlp_subkd.modules.fast_bilinear import FastBilinear, bilinear_pairs
from allennlp_subkd.structures.arcs import gold_tree_nll, single_root_greedy_heads

logger = logging.getLogger(__name__)

# per-sentence outputs of `make_output_human_readable` (and metadata echoed back)
_EMPTY_KEYS = ("predicted_heads", "predicted_dependencies", "pos")


def labelled_mst_decode(
    relation_scorer: torch.nn.Bilinear,
    head_tag_representation: torch.Tensor,
    child_tag_representation: torch.Tensor,
    attended_arcs: torch.Tensor,
    mask: torch.BoolTensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The labelled maximum spanning trees of `BiaffineDependencyParser._mst_decode`, computed
    sentence by sentence over its own words instead of over a padded
    `[batch, relations, n, n]` energy tensor.

    The stock decoder scores the edge h -> d with relation r by
    `exp(log p(h | d) + log p(r | h, d))`, keeps the best relation of every edge and runs
    Chu-Liu-Edmonds on those scores (with the root's own row zeroed, as the stock decoder
    does). Since `exp` is increasing, the best relation of an edge is the argmax of its
    relation log-probabilities and its score `exp(log p(h | d) + max_r log p(r | h, d))`;
    padding contributes nothing to the stock decoder's softmaxes, so a sentence's scores need
    only its own `m x m` pairs: the same trees and relations for `Σ m²` instead of
    `batch · n²` pairs (`tests/models/test_distilled_biaffine_parser.py` checks equality with
    the stock decoder).

    # Parameters

    relation_scorer : `torch.nn.Bilinear`
        The parser's `tag_bilinear` (read through `bilinear_pairs`).
    head_tag_representation, child_tag_representation : `torch.Tensor`
        `[batch, n, dim]`: the relation representations of every word as head and as dependent.
    attended_arcs : `torch.Tensor`
        `[batch, n, n]`: the arc scores of dependent d with head h at `[b, d, h]`.
    mask : `torch.BoolTensor`
        `[batch, n]`, the root (position 0) included.

    # Returns

    `(heads, head_tags)`, each `[batch, n]`, as the stock decoder within the mask (`heads` its
    int32 dtype); 0 for the root and for padding.
    """
    batch_size, n = mask.shape
    heads = numpy.zeros((batch_size, n), dtype=numpy.int32)
    head_tags = torch.zeros(batch_size, n, dtype=torch.long)
    for b, length in enumerate(mask.sum(dim=1).tolist()):
        if length < 2:
            continue
        # [dependent, head, relations] -> the best relation of every edge and its log-probability
        relation_logits = bilinear_pairs(relation_scorer, head_tag_representation[b:b + 1, :length],
                                         child_tag_representation[b:b + 1, :length])[0]
        relation_log_probs, relations = torch.log_softmax(relation_logits, dim=2).max(dim=2)
        arc_log_probs = torch.log_softmax(attended_arcs[b, :length, :length], dim=1)
        # [head, dependent], as the stock decoder's energy
        scores = torch.exp(arc_log_probs + relation_log_probs).t().contiguous()
        scores[0, :] = 0
        sentence_heads, _ = decode_mst(scores.detach().cpu().numpy(), length, has_labels=False)
        sentence_heads[0] = 0
        heads[b, :length] = sentence_heads
        chosen = torch.from_numpy(sentence_heads).long()
        head_tags[b, 1:length] = relations.cpu()[torch.arange(1, length), chosen[1:]]
    device = attended_arcs.device
    return torch.from_numpy(heads).to(device), head_tags.to(device)


@Model.register("distilled_biaffine_parser")
class DistilledBiaffineParser(DistilledParserMixin, BiaffineDependencyParser):
    """
    A `BiaffineDependencyParser` student (Dozat & Manning 2017) that learns from a frozen
    teacher parser as well as from the gold trees:
    `loss = (1 - alpha) * gold + alpha * KD`. The gold loss is the parser's own (arc NLL +
    relation NLL, each a mean over the batch's words), and the KD term is reduced the same
    way: the per-sentence KD terms are summed over the batch and divided by the number of
    words in it. Without `distillation` it trains exactly like `BiaffineDependencyParser`
    (the no-KD baseline). KD is added in training only; validation, `allennlp evaluate` and
    `allennlp predict` never load the teacher, so a student archive works with the teacher's
    archive gone.

    It reads the fields of the stock `universal_dependencies` dataset reader (`words`,
    `pos_tags`, `head_tags`, `head_indices`, `metadata` with `words` and `pos`). Sentences
    without words in a batch get an empty prediction and no loss instead of an error.

    Registered as a `Model` with name "distilled_biaffine_parser".

    # Parameters

    vocab, text_field_embedder, encoder, tag_representation_dim, arc_representation_dim, **kwargs
        Exactly as `BiaffineDependencyParser` (allennlp-models), which receives every other
        argument (`tag_feedforward`, `arc_feedforward`, `pos_tag_embedding`,
        `use_mst_decoding_for_validation`, `dropout`, `input_dropout`, `initializer`).
    teacher : `Teacher`, optional (default = `None`)
        The frozen teacher (`allennlp_subkd.distillation.teacher.config.Teacher`): its
        `archive` (a `biaffine_parser` or `distilled_biaffine_parser` with the same dependency
        relations, `head_tags`, matched by string, any order; or a list of them, an
        ensemble, with `weights`), `reindex_inputs`, `cache` and `adapter`. Its embedder and
        vocabulary may differ from the student's: its inputs are then rebuilt from
        `metadata["words"]` with its own token indexers, and the POS tags from
        `metadata["pos"]` with its own `pos` vocabulary. Its arc scores and relation scores
        at its best heads (or its relation representations, for objectives comparing every
        pair) are cached per distinct sentence. Loaded lazily at the first training batch.
        The flat arguments of earlier releases (`teacher_archive`, `reindex_teacher_inputs`,
        `teacher_cache_mb`, `teacher_cache_dtype`, `teacher_cache_dir`,
        `teacher_cache_dir_mb`) still work, with a `DeprecationWarning`.
    distillation : `ParserDistillation`, optional (default = `None`)
        The KD objective, by `type`: `sub_structure`, `local` or `structural`, with `alpha`,
        `temperature` and `anneal`. Needs `teacher`.
    gold_loss : `str`, optional (default = `"local"`)
        `"local"`: the parser's own arc loss (per-word softmax over heads). `"tree"`: the arc
        loss is the tree-CRF negative log-likelihood of the gold tree,
        `-(Σ_d s[d, head_d] - log Z_tree)`, a mean over the words like the local one, making
        the student the globally normalised model structural KD's factorisation assumes.
        The relation loss is the parser's in both cases. With `"tree"` every gold tree must
        lie in the tree CRF's support (a single-root tree, projective for `tree:
        "projective"`), else a `ValueError` names the sentence.
    tree : `str`, optional (default = `None`)
        The tree CRF of `gold_loss: "tree"`: `"nonprojective"` (matrix-tree theorem) or
        `"projective"` (Eisner). `None` takes the structural objective's `tree`, else
        `"nonprojective"`. Only valid with `gold_loss: "tree"`, and it must agree with a
        structural objective's `tree`.
    fast_relation_scorer : `bool`, optional (default = `True`)
        Score relations with `FastBilinear` (one matrix product and an elementwise product)
        instead of `torch.nn.Bilinear`, which materialises outer products on the CPU: the same
        parameters, state-dict keys and scores (archives and a stock `biaffine_parser`'s
        weights load unchanged), several times faster in training and MST decoding.
    """

    default_predictor = "pretokenized_parser"
    student_name = "distilled_biaffine_parser"
    default_adapter = "parser"

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        tag_representation_dim: int,
        arc_representation_dim: int,
        teacher: Optional[Teacher] = None,
        distillation: Optional[ParserDistillation] = None,
        gold_loss: str = "local",
        tree: Optional[str] = None,
        fast_relation_scorer: bool = True,
        **kwargs,
    ) -> None:
        teacher = teacher_from_deprecated(teacher, kwargs, self.student_name)
        super().__init__(
            vocab,
            text_field_embedder,
            encoder,
            tag_representation_dim,
            arc_representation_dim,
            **kwargs,
        )
        if fast_relation_scorer:
            # same parameters and state-dict keys: only the forward computation changes
            self.tag_bilinear.__class__ = FastBilinear
        # the stock metric cannot aggregate across distributed workers (see its docstring)
        self._attachment_scores = WorkerSafeAttachmentScores()
        if gold_loss not in ("local", "tree"):
            raise ConfigurationError(
                f'distilled_biaffine_parser gold_loss must be "local" or "tree", got {gold_loss!r}'
            )
        objective_tree = getattr(distillation, "tree", None)
        if tree is not None:
            check_tree_type(tree, "distilled_biaffine_parser tree")
            if gold_loss != "tree":
                raise ConfigurationError(
                    f"distilled_biaffine_parser: tree={tree!r} only applies to gold_loss "
                    f'"tree", but gold_loss is {gold_loss!r}'
                )
            if objective_tree is not None and objective_tree != tree:
                raise ConfigurationError(
                    f"distilled_biaffine_parser: tree={tree!r} differs from the structural "
                    f"objective's tree {objective_tree!r}; the gold loss and the KD term must "
                    "use the same tree distribution"
                )
        self._gold_loss = gold_loss
        self._tree = tree or objective_tree or "nonprojective"
        self._setup_distillation(teacher, distillation, "head_tags")

    def forward(  # type: ignore
        self,
        words: TextFieldTensors,
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
        head_tags: torch.LongTensor = None,
        head_indices: torch.LongTensor = None,
    ) -> Dict[str, torch.Tensor]:
        """As `BiaffineDependencyParser.forward`; in training with a teacher the loss also holds
        the KD term and the output a detached `kd_loss`; with `gold_loss: "tree"` the
        `arc_loss` (and so the `loss`) is the tree-CRF NLL. Gold relations the model never saw
        (`checked_universal_dependencies`) are wrong labels for LAS and relation 0 for the
        loss."""
        return forward_nonempty(
            self._forward,
            words,
            self._head_sentinel,
            metadata=metadata,
            empty_keys=_EMPTY_KEYS,
            pos_tags=pos_tags,
            head_tags=head_tags,
            head_indices=head_indices,
        )

    def _forward(
        self, tokens, metadata=None, pos_tags=None, head_tags=None, head_indices=None
    ) -> Dict[str, torch.Tensor]:
        relations = self.vocab.get_vocab_size("head_tags")
        if head_tags is not None and bool((head_tags >= relations).any()):
            loss_tags, _ = split_unseen(head_tags, relations)
            with self._attachment_scores.scoring_gold_labels(head_tags):
                return self._forward(tokens, metadata, pos_tags, loss_tags, head_indices)
        if isinstance(self.tag_bilinear, FastBilinear):
            # the loss, greedy decoding and KD score relations against the same dependent
            # vectors: one projection of them for all
            with self.tag_bilinear.sharing_projection():
                return self._scored_forward(tokens, metadata, pos_tags, head_tags, head_indices)
        return self._scored_forward(tokens, metadata, pos_tags, head_tags, head_indices)

    def _scored_forward(
        self, tokens, metadata=None, pos_tags=None, head_tags=None, head_indices=None
    ) -> Dict[str, torch.Tensor]:
        self._check_learnable(head_indices is not None and head_tags is not None)
        tree_loss = self._gold_loss == "tree" and head_indices is not None and head_tags is not None
        if not (tree_loss or self._distilling or self._diagnosing):
            return super().forward(tokens, pos_tags, metadata, head_tags, head_indices)
        with capture_parser_scores(self) as captured:
            output = super().forward(tokens, pos_tags, metadata, head_tags, head_indices)
        mask = output["mask"]
        num_words = (mask.sum() - mask.size(0)).float()
        if tree_loss:
            sentences = [m["words"] for m in metadata] if metadata is not None else None
            arc_nll = gold_tree_nll(captured.arcs, mask, head_indices, self._tree, sentences)
            output["arc_loss"] = arc_nll.sum() / num_words
            output["loss"] = output["arc_loss"] + output["tag_loss"]
        if self._distilling:
            if getattr(self._distillation, "dropout_free_student", False):
                captured = self._dropout_free_scores(tokens, pos_tags, metadata)
            kd = self._parser_distillation(captured, mask, tokens, pos_tags, metadata)
            self._mix_distillation(output, kd.sum() / num_words)
        elif self._diagnosing:
            self._parser_diagnostics(captured, output, tokens, pos_tags, metadata, head_indices)
        return output

    def _dropout_free_scores(self, tokens, pos_tags, metadata):
        """A second forward pass of the student, with gradients but without dropout (and with
        greedy decoding), whose scores the KD term compares with the teacher's eval-mode ones."""
        mst = self.use_mst_decoding_for_validation
        self.eval()
        self.use_mst_decoding_for_validation = False
        try:
            with capture_parser_scores(self) as clean:
                super().forward(tokens, pos_tags, metadata)
        finally:
            self.train()
            self.use_mst_decoding_for_validation = mst
        return clean

    def _greedy_decode(self, head_tag_representation, child_tag_representation, attended_arcs, mask):
        """The stock per-word greedy decoding (training, and validation without MST) for the
        local gold loss; with `gold_loss: "tree"`, exactly one word per sentence on ROOT
        (`single_root_greedy_heads`): the tree CRF leaves the ROOT column's level free, so a
        per-word argmax could put every word on ROOT (a training LAS near the share of ROOT
        arcs while the MST-decoded dev LAS is fine). The relations as the stock decoder's."""
        if self._gold_loss != "tree":
            return super()._greedy_decode(head_tag_representation, child_tag_representation, attended_arcs, mask)
        heads = single_root_greedy_heads(attended_arcs, mask)
        chosen = torch.full_like(attended_arcs, -numpy.inf).scatter_(2, heads.unsqueeze(2), 0.0)
        return super()._greedy_decode(head_tag_representation, child_tag_representation, chosen, mask)

    def _mst_decode(self, head_tag_representation, child_tag_representation, attended_arcs, mask):
        """`BiaffineDependencyParser._mst_decode`'s trees and relations (fast scorer only:
        `labelled_mst_decode`), without its `[batch, relations, n, n]` energy tensor."""
        if not isinstance(self.tag_bilinear, FastBilinear):
            return super()._mst_decode(head_tag_representation, child_tag_representation, attended_arcs, mask)
        return labelled_mst_decode(self.tag_bilinear, head_tag_representation, child_tag_representation,
                                   attended_arcs, mask)

    def make_output_human_readable(
        self, output_dict: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """As `BiaffineDependencyParser`'s (`predicted_heads`, `predicted_dependencies`); a batch
        of nothing but empty sentences already holds its (empty) predictions."""
        if "mask" not in output_dict:
            return output_dict
        return super().make_output_human_readable(output_dict)

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = super().get_metrics(reset)
        metrics.update(self._distillation_metrics(reset))
        return metrics
