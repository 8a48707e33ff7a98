"""
Parser-side KD glue: reading a `BiaffineDependencyParser`'s arc and relation scores, and the
frozen teacher's scores aligned to the student.

`BiaffineDependencyParser.forward` returns neither its arc scores nor its relation scores. We
do not copy its network code: `capture_parser_scores` registers forward hooks, for the
duration of one forward call, on the modules `_parse` runs, and keeps exactly the tensors it
uses (after its variational dropout):

- the output of `arc_attention`: the arc scores `attended_arcs[b, d, h]` before `_parse`
  adds its `-1e8` padding mask;
- the outputs of `_dropout` whose input is the output of `head_tag_feedforward` /
  `child_tag_feedforward`: the head and dependent relation representations.

The relation scores of *every* pair (d, h) then come from `tag_bilinear`'s weight and bias,

    labels[b, d, h, r] = Σ_ij head_rep[b, h, i] W[r, i, j] child_rep[b, d, j] + bias[r],

the same bilinear form `_get_head_tags` applies to the (gold or predicted) heads only.
"""
import contextlib
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from allennlp.models import Model
from allennlp_models.structured_prediction import BiaffineDependencyParser

from allennlp_subkd.distillation.batch import select_rows
from allennlp_subkd.distillation.scores import ParserScores
from allennlp_subkd.distillation.student import DistilledModelMixin

#: what can teach a parser: biaffine parsers, and so the distilled parsers too
PARSER_TEACHERS = (BiaffineDependencyParser,)


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

    def scores(self, model: Model, mask: torch.Tensor) -> ParserScores:
        """`ParserScores` (relations in the model's own label order) with `mask` (ROOT and
        the words, `[batch, n+1]`)."""
        self.check(model)
        labels = pair_label_scores(model.tag_bilinear, self.head_tags, self.child_tags)
        return ParserScores(self.arcs, labels, mask.bool())


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


def pair_label_scores(
    bilinear: torch.nn.Bilinear, head_tags: torch.Tensor, child_tags: torch.Tensor
) -> torch.Tensor:
    """`[batch, n+1, n+1, relations]`: `bilinear(head_tags[b, h], child_tags[b, d])` for every
    dependent d and head h (what `BiaffineDependencyParser._get_head_tags` computes for one
    head per word), in two contractions without expanding the pairs."""
    # [batch, h, relations, j] = Σ_i head[b, h, i] W[r, i, j]
    projected = torch.einsum("bhi,rij->bhrj", head_tags, bilinear.weight)
    labels = torch.einsum("bhrj,bdj->bdhr", projected, child_tags)
    if bilinear.bias is not None:
        labels = labels + bilinear.bias
    return labels


def permute_relations(scores: ParserScores, index: torch.LongTensor) -> ParserScores:
    """Re-order the relation axis: `new[..., i] = old[..., index[i]]`."""
    return ParserScores(
        scores.arcs, scores.labels.index_select(-1, index.to(scores.labels.device)), scores.mask
    )


def parser_keys(sentences: List[List[str]], tags: List[List[str]]) -> List[Tuple[Tuple[str, ...], ...]]:
    """The cache key of each sentence for a parser teacher: its words and POS tags."""
    return [(tuple(w), tuple(t)) for w, t in zip(sentences, tags)]


def parser_teacher_outputs(
    model: Model,
    words: Dict[str, Dict[str, torch.Tensor]],
    pos_tags: torch.LongTensor,
    metadata: Optional[List[Dict[str, Any]]],
    lengths: List[int],
) -> List[Tuple[torch.Tensor, ...]]:
    """What a parser teacher contributes per sentence (and what its caches store): its arc
    scores `[n+1, n+1]` and head / dependent relation representations `[n+1, dim]` (`lengths`
    count ROOT). The `[n+1, n+1, relations]` relation scores are rebuilt from the
    representations by one bilinear product: far less memory. The teacher decodes greedily
    (only its scores are used)."""
    model.use_mst_decoding_for_validation = False
    with torch.no_grad(), capture_parser_scores(model) as captured:
        model(words=words, pos_tags=pos_tags, metadata=metadata)
        captured.check(model)
    return [
        (captured.arcs[j, :n, :n], captured.head_tags[j, :n], captured.child_tags[j, :n])
        for j, n in enumerate(lengths)
    ]


class DistilledParserMixin(DistilledModelMixin):
    """Computes a parser student's per-sentence KD term against its frozen teacher."""

    def _teacher_parser_scores(
        self,
        words: Dict[str, Dict[str, torch.Tensor]],
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
        mask: torch.BoolTensor,
    ) -> ParserScores:
        """The teacher's arc and relation scores for this batch, relations in the student's
        order, padded or cut to the student's length, without gradients. The teacher decodes
        greedily (it is in eval mode, and Chu-Liu-Edmonds would be a Python loop for
        nothing: only its scores are used)."""
        teacher = self._teacher
        device = mask.device
        model = teacher.to(device)
        index = teacher.label_map(self.vocab, "head_tags", "head_tags")
        sentences = [m["words"] for m in metadata] if metadata is not None else None
        tags = [m["pos"] for m in metadata] if metadata is not None else None
        lengths = mask.sum(-1).tolist()  # ROOT included
        batch_size = mask.size(0)

        def compute(rows: List[int]) -> List[Tuple[torch.Tensor, ...]]:
            inputs = teacher.inputs(
                {"words": select_rows(words, rows, batch_size),
                 "pos_tags": select_rows(pos_tags, rows, batch_size)},
                None if sentences is None else [sentences[i] for i in rows],
                self.vocab,
                device,
                label_inputs=None if tags is None else {"pos_tags": ("pos", [tags[i] for i in rows])},
                text_field="words",
            )
            return parser_teacher_outputs(
                model, inputs["words"], inputs["pos_tags"],
                select_rows(metadata, rows, batch_size), [lengths[i] for i in rows],
            )

        keys = None if sentences is None else parser_keys(sentences, tags)
        per_sentence = teacher.per_sentence(keys, compute, batch_size, device)
        length = mask.size(1)
        arcs = mask.new_zeros(batch_size, length, length, dtype=torch.float32)
        dim = per_sentence[0][1].size(-1)
        head_tags = mask.new_zeros(batch_size, length, dim, dtype=torch.float32)
        child_tags = mask.new_zeros(batch_size, length, dim, dtype=torch.float32)
        for i, (sentence_arcs, sentence_heads, sentence_children) in enumerate(per_sentence):
            n = sentence_arcs.size(0)
            arcs[i, :n, :n] = sentence_arcs
            head_tags[i, :n] = sentence_heads
            child_tags[i, :n] = sentence_children
        with torch.no_grad():
            labels = pair_label_scores(model.tag_bilinear, head_tags, child_tags)
        return permute_relations(ParserScores(arcs, labels, mask.bool()), index)

    def _parser_distillation(
        self,
        student: ParserScores,
        words: Dict[str, Dict[str, torch.Tensor]],
        pos_tags: torch.LongTensor,
        metadata: List[Dict[str, Any]],
    ) -> torch.Tensor:
        """The per-sentence KD term `[batch]` of this batch."""
        teacher = self._teacher_parser_scores(words, pos_tags, metadata, student.mask)
        return self._distillation(student, teacher)
