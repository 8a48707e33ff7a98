"""
The parser task: reading a `BiaffineDependencyParser`'s arc and relation scores, the
`"parser"` teacher adapter, and the mixin of `distilled_biaffine_parser`.

`BiaffineDependencyParser.forward` returns neither its arc scores nor its relation scores. We
do not copy its network code: `capture_parser_scores` registers forward hooks, for the
duration of one forward call, on the modules `_parse` runs, and keeps exactly the tensors it
uses (after its variational dropout):

- the output of `arc_attention`: the arc scores `attended_arcs[b, d, h]` before `_parse`
  adds its `-1e8` padding mask;
- the outputs of `_dropout` whose input is the output of `head_tag_feedforward` /
  `child_tag_feedforward`: the head and dependent relation representations.

The relation scores of a pair (d, h) then come from `tag_bilinear`'s weight and bias,

    labels[b, d, h, r] = Σ_ij head_rep[b, h, i] W[r, i, j] child_rep[b, d, j] + bias[r],

the same bilinear form `_get_head_tags` applies to the (gold or predicted) heads only: at
every pair (`bilinear_pairs`, for objectives with `relation_heads = None`) or only at the
teacher's k best heads of each dependent (`bilinear_at`), for the teacher and the student.
"""
import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from allennlp.models import Model
from allennlp_models.structured_prediction import BiaffineDependencyParser

from allennlp_subkd.distillation.objectives.scores import ParserScores
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.student import DistilledModelMixin
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.batch import select_rows
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.modules.fast_bilinear import bilinear_at, bilinear_pairs
from allennlp_subkd.structures.arcs import best_heads, head_log_probs, kl_divergence, valid_arcs

#: what can teach a parser: biaffine parsers, and so the distilled parsers too
PARSER_TEACHERS = (BiaffineDependencyParser,)


class MarginalArcScorer:
    """
    Marks a parser whose arc scores (`arc_attention`'s output) are the logits of its own
    approximate head marginals — a second-order parser's MFVI posteriors — rather than the
    potentials of a first-order tree model (mixed into `second_order_biaffine_parser`). Its
    `ParserScores` carry `marginal_arcs=True`, and the objectives that need the teacher's arc
    marginals take the per-word softmax of its arcs instead of a tree CRF's marginals.
    """


@dataclass
class CapturedParser:
    """The tensors one forward pass of a biaffine parser scored its arcs and relations with:
    `arcs [batch, n+1, n+1]`, `head_tags` and `child_tags [batch, n+1, tag_dim]`."""

    arcs: Optional[torch.Tensor] = None
    head_tags: Optional[torch.Tensor] = None
    child_tags: Optional[torch.Tensor] = None

    def check(self, model: Model) -> None:
        """A clear error when the forward pass did not run the layers we read."""
        missing = [name for name in ("arcs", "head_tags", "child_tags") if getattr(self, name) is None]
        if missing:
            raise RuntimeError(
                f"the forward pass of {type(model).__name__} did not run the layers the "
                f"distillation reads ({', '.join(missing)} not seen): this allennlp-models "
                "version's BiaffineDependencyParser is not supported"
            )

    def scores(
        self, model: Model, mask: torch.Tensor, label_heads: Optional[torch.LongTensor] = None
    ) -> ParserScores:
        """`ParserScores` (relations in the model's own label order) with `mask` (ROOT and
        the words, `[batch, n+1]`); relation scores at every pair, or only at `label_heads
        [batch, n+1, k]`."""
        self.check(model)
        return relation_scores(
            model.tag_bilinear, self.arcs, self.head_tags, self.child_tags, mask, label_heads
        )


@contextlib.contextmanager
def capture_parser_scores(model: Model) -> Iterator[CapturedParser]:
    """
    `with capture_parser_scores(parser) as captured: parser(**inputs)` fills `captured` with
    the arc scores and relation representations of that forward pass (see the module
    docstring). The hooks are removed on exit. With several forward passes inside the block
    the last one wins.
    """
    captured = CapturedParser()
    feedforward_outputs: Dict[str, torch.Tensor] = {}

    def arcs_hook(module, inputs, output):
        captured.arcs = output

    def feedforward_hook(name):
        def hook(module, inputs, output):
            feedforward_outputs[name] = output

        return hook

    def dropout_hook(module, inputs, output):
        for name, tensor in feedforward_outputs.items():
            if inputs and inputs[0] is tensor:
                setattr(captured, name, output)

    handles = [
        model.arc_attention.register_forward_hook(arcs_hook),
        model.head_tag_feedforward.register_forward_hook(feedforward_hook("head_tags")),
        model.child_tag_feedforward.register_forward_hook(feedforward_hook("child_tags")),
        model._dropout.register_forward_hook(dropout_hook),
    ]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def relation_scores(
    bilinear: torch.nn.Bilinear,
    arcs: torch.Tensor,
    head_tags: torch.Tensor,
    child_tags: torch.Tensor,
    mask: torch.Tensor,
    label_heads: Optional[torch.LongTensor] = None,
) -> ParserScores:
    """`ParserScores` of a biaffine parser from its arc scores and relation representations:
    the relation scores of every pair, or only at `label_heads [batch, n+1, k]`."""
    if label_heads is None:
        labels = bilinear_pairs(bilinear, head_tags, child_tags)
    else:
        labels = bilinear_at(bilinear, head_tags, child_tags, label_heads)
    return ParserScores(arcs, labels, mask.bool(), label_heads)


def permute_relations(scores: ParserScores, index: torch.LongTensor) -> ParserScores:
    """Re-order the relation axis: `new[..., i] = old[..., index[i]]`."""
    return dataclasses.replace(scores, labels=scores.labels.index_select(-1, index.to(scores.labels.device)))


#: the fewest of the teacher's best heads per word whose relation scores are cached (objectives
#: needing one or two heads share the entries; more heads get entries of their own)
CACHED_RELATION_HEADS = 2


def cached_relation_heads(relation_heads: Optional[int]) -> Optional[int]:
    """How many of the teacher's best heads per word a cache entry holds relation scores for,
    for an objective needing `relation_heads` (`None`: every pair, from the representations)."""
    return None if relation_heads is None else max(relation_heads, CACHED_RELATION_HEADS)


def parser_keys(sentences: List[List[str]], tags: List[List[str]]) -> List[Tuple[Any, ...]]:
    """What identifies a sentence for a parser teacher: its words and POS tags (the teacher
    adds the number of heads the entry's relation scores cover, `TeacherRequest.key_suffix`)."""
    return [(tuple(w), tuple(t)) for w, t in zip(sentences, tags)]


def parser_teacher_outputs(
    model: Model,
    words: Dict[str, Dict[str, torch.Tensor]],
    pos_tags: torch.LongTensor,
    metadata: Optional[List[Dict[str, Any]]],
    lengths: List[int],
    relation_heads: Optional[int] = None,
) -> List[Tuple[torch.Tensor, ...]]:
    """
    What a parser teacher contributes per sentence (and what its caches store), `n` = the
    sentence's length with ROOT (`lengths`):

    - `relation_heads = None`: its arc scores `[n, n]` and head / dependent relation
      representations `[n, dim]`, from which the relation scores of any pair are rebuilt by
      one bilinear product;
    - `relation_heads = K`: its arc scores `[n, n]`, its K best heads of each word `[n, K']`
      (`structures.arcs.best_heads`, best first, `K' = min(K, n)`) and its relation scores there
      `[n, K', relations]`, in its own label order: no bilinear product at all when read back,
      and `K · relations` numbers a word instead of `2 · dim`.

    The teacher decodes greedily (only its scores are used).
    """
    model.use_mst_decoding_for_validation = False
    with torch.no_grad(), capture_parser_scores(model) as captured:
        model(words=words, pos_tags=pos_tags, metadata=metadata)
        captured.check(model)
        if relation_heads is not None:
            mask = torch.arange(captured.arcs.size(1), device=captured.arcs.device).unsqueeze(0) < \
                torch.tensor(lengths, device=captured.arcs.device).unsqueeze(1)
            heads = best_heads(captured.arcs, mask, relation_heads)
            # slots without a valid arc (ROOT's row, words with fewer valid heads) point at the
            # word itself, a self-loop, so that they stay invalid in any batch
            itself = torch.arange(heads.size(1), device=heads.device).view(1, -1, 1).expand_as(heads)
            heads = torch.where(valid_arcs(mask).gather(-1, heads), heads, itself)
            labels = bilinear_at(model.tag_bilinear, captured.head_tags, captured.child_tags, heads)
    if relation_heads is None:
        return [
            (captured.arcs[j, :n, :n], captured.head_tags[j, :n], captured.child_tags[j, :n])
            for j, n in enumerate(lengths)
        ]
    # a sentence shorter than the batch keeps its best min(K, n) heads, all inside it
    return [
        (captured.arcs[j, :n, :n], heads[j, :n, : min(relation_heads, n)],
         labels[j, :n, : min(relation_heads, n)])
        for j, n in enumerate(lengths)
    ]


@TeacherAdapter.register("parser")
class ParserTeacherAdapter(TeacherAdapter):
    """
    A biaffine parser (`biaffine_parser` or `distilled_biaffine_parser`) teaching a parser
    with the same dependency relations: its arc scores, and its relation scores at every pair
    or only at its `relation_heads` best heads of each word (the objective's), relations
    re-ordered to the student's, padded or cut to the student's length. Sentences are keyed on
    their words and POS tags; the teacher's inputs (words and POS tags) are the student's
    tensors when they mean the same to it, else rebuilt from `metadata` with its own
    vocabulary. The teacher decodes greedily (it is in eval mode, and Chu-Liu-Edmonds would
    be a Python loop for nothing: only its scores are used).

    Registered as a `TeacherAdapter` with name "parser" (the parser's default).
    """

    teacher_types = PARSER_TEACHERS
    scores_type = ParserScores

    def keys(self, batch: TeacherBatch) -> Optional[List[Tuple[Any, ...]]]:
        return metadata_parser_keys(batch)

    def entry_request(self, request: TeacherRequest) -> TeacherRequest:
        """Entries hold relation scores at `cached_relation_heads(k)` heads (at least two, so
        requests for one or two heads share them), or the representations for `None`."""
        return TeacherRequest(relation_heads=cached_relation_heads(request.relation_heads))

    def full_precision_outputs(self, entry: TeacherRequest) -> Tuple[int, ...]:
        """The relation representations of an entry for every pair (`relation_heads = None`)
        stay float32 in a float16 cache: the relation scores rebuilt from half-precision
        representations by the bilinear product err by about 1 % (sums of rounded products
        with cancellation), where the stored scores of the other entries are within 2^-11."""
        return (1, 2) if entry.relation_heads is None else ()

    def compute(
        self, teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int], entry: TeacherRequest
    ) -> List[Tuple[torch.Tensor, ...]]:
        return parser_rows_outputs(teacher, batch, rows, entry.relation_heads)

    def assemble(
        self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch, request: TeacherRequest
    ) -> ParserScores:
        index = teacher.label_map(batch.vocab, batch.label_namespace, "head_tags")
        scores = assemble_parser_scores(teacher.model, per_sentence, batch.mask, request.relation_heads)
        return permute_relations(scores, index)

    def fill_batch(self, teacher: FrozenTeacher, tensors: Dict[str, Any]) -> TeacherBatch:
        """As the default, with the parser's mask: ROOT and the words, `[batch, n+1]`."""
        batch = super().fill_batch(teacher, tensors)
        batch.mask = torch.cat([batch.mask.new_ones(batch.batch_size, 1), batch.mask], 1)
        return batch


def metadata_parser_keys(batch: TeacherBatch) -> Optional[List[Tuple[Any, ...]]]:
    """`parser_keys` of a batch whose metadata holds the words and POS tags (else `None`)."""
    if batch.metadata is None:
        return None
    return parser_keys([m["words"] for m in batch.metadata], [m["pos"] for m in batch.metadata])


def parser_rows_outputs(
    teacher: FrozenTeacher, batch: TeacherBatch, rows: List[int], relation_heads: Optional[int]
) -> List[Tuple[torch.Tensor, ...]]:
    """`parser_teacher_outputs` of the sentences `rows` of a batch whose inputs are a
    parser's (`words`, `pos_tags`) or, for a student that is no parser, whose `metadata` has
    the words and POS tags (the teacher's inputs are then always rebuilt from them)."""
    metadata = select_rows(batch.metadata, rows, batch.batch_size)
    sentences = None if metadata is None else [m["words"] for m in metadata]
    tags = None if metadata is None else {"pos_tags": ("pos", [m["pos"] for m in metadata])}
    if "words" in batch.inputs and "pos_tags" in batch.inputs:
        inputs = teacher.inputs(
            {"words": select_rows(batch.inputs["words"], rows, batch.batch_size),
             "pos_tags": select_rows(batch.inputs["pos_tags"], rows, batch.batch_size)},
            sentences, batch.vocab, batch.device, label_inputs=tags, text_field="words",
        )
    else:
        inputs = teacher.rebuild_inputs(sentences, batch.device, label_inputs=tags, text_field="words")
    if metadata is not None:
        lengths = [len(m["words"]) + 1 for m in metadata]  # ROOT included
    else:
        all_lengths = batch.mask.sum(-1).tolist()
        lengths = [all_lengths[i] for i in rows]
    return parser_teacher_outputs(
        teacher.model, inputs["words"], inputs["pos_tags"], metadata, lengths, relation_heads
    )


def assemble_parser_scores(
    model: Model,
    per_sentence: List[Tuple[torch.Tensor, ...]],
    mask: torch.BoolTensor,
    relation_heads: Optional[int],
) -> ParserScores:
    """A parser teacher's cached per-sentence outputs as one `ParserScores` of the batch
    (`mask [batch, n+1]`), relations in the teacher's order: at every pair (rebuilt from the
    representations) for `relation_heads = None`, else at its min(k, n+1) best heads, with
    every best head the entries hold as `best_heads`."""
    batch_size, length = mask.shape
    device = mask.device
    arcs = mask.new_zeros(batch_size, length, length, dtype=torch.float32)
    for i, entry in enumerate(per_sentence):
        n = min(entry[0].size(0), length)
        arcs[i, :n, :n] = entry[0][:n, :n]
    if relation_heads is None:
        dim = per_sentence[0][1].size(-1)
        head_tags = mask.new_zeros(batch_size, length, dim, dtype=torch.float32)
        child_tags = mask.new_zeros(batch_size, length, dim, dtype=torch.float32)
        for i, (_, sentence_heads, sentence_children) in enumerate(per_sentence):
            n = min(sentence_heads.size(0), length)
            head_tags[i, :n] = sentence_heads[:n]
            child_tags[i, :n] = sentence_children[:n]
        scores = relation_scores(model.tag_bilinear, arcs, head_tags, child_tags, mask)
        return dataclasses.replace(scores, marginal_arcs=isinstance(model, MarginalArcScorer))
    stored = min(max(entry[1].size(-1) for entry in per_sentence), length)
    k = min(relation_heads, stored)
    relations = per_sentence[0][2].size(-1)
    # unused slots point at the word itself: a self-loop, never a valid arc
    best = torch.arange(length, device=device).view(1, length, 1).repeat(batch_size, 1, stored)
    labels = mask.new_zeros(batch_size, length, k, relations, dtype=torch.float32)
    for i, (_, sentence_heads, sentence_labels) in enumerate(per_sentence):
        n, held = sentence_heads.shape
        n = min(n, length)
        best[i, :n, : min(held, stored)] = sentence_heads[:n, :stored]
        labels[i, :n, : min(k, held)] = sentence_labels[:n, :k]
    return ParserScores(arcs, labels, mask.bool(), best[..., :k].contiguous(), best,
                        marginal_arcs=isinstance(model, MarginalArcScorer))


class DistilledParserMixin(DistilledModelMixin):
    """Computes a parser student's per-sentence KD term against its frozen teacher(s), and
    its teacher diagnostics."""

    def _parser_batch(
        self,
        words: Dict[str, Dict[str, torch.Tensor]],
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
        mask: torch.BoolTensor,
    ) -> TeacherBatch:
        return self._teacher_batch({"words": words, "pos_tags": pos_tags}, metadata, mask)

    def _parser_distillation(
        self,
        student: CapturedParser,
        mask: torch.BoolTensor,
        words: Dict[str, Dict[str, torch.Tensor]],
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
    ) -> torch.Tensor:
        """The per-sentence KD term `[batch]` of this batch, from the student's captured
        forward pass: the teachers' scores first, then the student's relation scores at the
        pairs each teacher's are given at (`relation_heads`)."""
        batch = self._parser_batch(words, pos_tags, metadata, mask)
        return self._distill(
            lambda teacher: student.scores(self, mask, teacher.label_heads), self.teacher_scores(batch)
        )

    def _parser_diagnostics(
        self,
        student: CapturedParser,
        output: Dict[str, Any],
        words: Dict[str, Dict[str, torch.Tensor]],
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
        gold_heads: Optional[torch.LongTensor],
    ) -> None:
        """Teacher diagnostics of a validation batch (`diagnostics`): the student's predicted
        heads and relations (`output["heads"]`, `output["head_tags"]`, `[B, n+1]`) against the
        teacher's argmax head and its argmax relation there, the per-word KL of the head
        distributions, and the calibration of the student's head distribution against
        `gold_heads [B, n]`."""
        mask = output["mask"].bool()
        with torch.no_grad():
            batch = self._parser_batch(words, pos_tags, metadata, mask)
            # the teacher's best head and its relation scores there
            teacher = self.teacher_scores(batch, TeacherRequest(relation_heads=1))[0]
            valid = valid_arcs(mask)
            word_mask = valid.any(-1)
            teacher_heads = teacher.label_heads[..., 0]
            teacher_relations = teacher.labels[..., 0, :].argmax(-1)
            log_q = head_log_probs(teacher.arcs, valid)
            log_p = head_log_probs(student.arcs.detach(), valid)
            kl = kl_divergence(log_q, log_p)
        same_head = output["heads"].long().eq(teacher_heads)
        self._diagnostics.add_agreement("teacher_arc_agreement", same_head, word_mask)
        self._diagnostics.add_agreement(
            "teacher_label_agreement", same_head & output["head_tags"].long().eq(teacher_relations), word_mask
        )
        self._diagnostics.add_kl(float(kl[word_mask].sum()), int(word_mask.sum()))
        if gold_heads is not None:
            gold = torch.cat([gold_heads.new_zeros(gold_heads.size(0), 1), gold_heads], 1)
            self._diagnostics.add_calibration(log_p.exp(), gold, word_mask)
