"""
A dependency parser teaching a tagger that parses by sequence labelling (Wang et al. 2021,
case 1b): the teacher's tree marginals turned exactly into the marginals of the student's
per-word labels.

The student labels word d with `"{offset}@{head POS}@{relation}"` (the relative-POS encoding,
`allennlp_subkd.data.dependency_encoding`). Given the sentence's POS tags, the label's first
two parts name exactly one head h (or none), so the label's marginal under the teacher is

    q_d(offset@P@r) = μ(h → d) · P_t(r | h → d),    h the head the code names from d,

with μ the teacher's arc marginals (the tree CRF of its arc scores, or its own per-word head
softmax) and `P_t(r | h → d)` its relation softmax on that arc. This is the marginal of the
student's label sub-structure under the teacher's distribution over labelled trees: no
approximation. For a softmax student (`distilled_dependency_tagger`, a product of per-word
label distributions) the structural KD term `-Σ_d Σ_l q_d(l) log p_d(l)` is therefore the
exact cross-entropy between the teacher's tree distribution and the student's distribution
over label sequences, restricted to the sequences that encode a tree the student can write.

Mass the student cannot represent is left out and each word's marginals renormalised over
the student's labels: labels absent from the student's vocabulary (an offset or POS pair it
never saw in training), and, with `relation_heads: k`, relations at heads beyond the
teacher's k best (their arc mass is kept in `excluded_mass`). A CRF student's label-bigram
marginals would need the teacher's second-order (two-arc) marginals, which this adapter does
not compute: a CRF student's structural term uses the product of these token marginals, which
is exact for `tree: "local"` (independent heads) and a token-level factorisation otherwise.
"""
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary

from allennlp_subkd.data.dependency_encoding import arc_codes, is_encoded_label, split_label
from allennlp_subkd.distillation.objectives.parsing import check_relation_heads, teacher_arc_marginals
from allennlp_subkd.distillation.objectives.scores import ParserScores, TaggerScores
from allennlp_subkd.distillation.request import TeacherRequest
from allennlp_subkd.distillation.tasks.parser import (
    ParserTeacherAdapter,
    assemble_parser_scores,
    cached_relation_heads,
)
from allennlp_subkd.distillation.teacher.adapter import TeacherAdapter, TeacherBatch
from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher
from allennlp_subkd.structures.arcs import TREES, head_log_probs, valid_arcs


@TeacherAdapter.register("dependency_labels")
class DependencyLabelsTeacherAdapter(ParserTeacherAdapter):
    """
    A `biaffine_parser` / `distilled_biaffine_parser` teacher for a tagger whose labels are
    the relative-POS dependency encoding (see the module docstring): per word, the teacher's
    exact marginal of every student label, as a softmax teacher's scores
    (`TaggerScores(emissions = log q)`, no transitions), so every tagger objective applies:
    `structural` (exact cross-entropy for a softmax student), `posterior`, `token`. It reads
    the teacher as the `"parser"` adapter does (its subclass: same keys, same entries, computed
    for this adapter's `relation_heads`), and assembles the label marginals instead.

    Registered as a `TeacherAdapter` with name "dependency_labels".

    # Parameters

    tree : `str`, optional (default = `"nonprojective"`)
        The teacher's distribution over heads: `"nonprojective"` (tree CRF of its arc scores,
        matrix-tree marginals), `"projective"` (Eisner marginals) or `"local"` (its own
        per-word head softmax, the distribution a biaffine parser is trained as).
    relation_heads : `int`, optional (default = `2`)
        Relations are read at the teacher's k best heads of each word (what its cache holds
        for the parser students); `null`: at every head (its relation representations).
    """

    scores_type = TaggerScores
    default_for_teacher_types = False  # a parser teacher's default adapter is "parser"

    def __init__(self, tree: str = "nonprojective", relation_heads: Optional[int] = 2) -> None:
        if tree != "local" and tree not in TREES:
            raise ConfigurationError(
                f'dependency_labels tree must be "nonprojective", "projective" or "local", got {tree!r}'
            )
        self.tree = tree
        self.relation_heads = check_relation_heads(relation_heads, "dependency_labels relation_heads")
        self._tables: Dict[Tuple[int, str], Tuple[Dict[str, int], torch.Tensor]] = {}
        #: per word of the last batch, the teacher's mass the student's labels cannot hold
        self.excluded_mass: Optional[torch.Tensor] = None
        self._warned = False  # about a second-order teacher's MFVI marginals

    def check_student(self, vocab: Vocabulary, label_namespace: str, student_name: str) -> None:
        labels = vocab.get_token_to_index_vocabulary(label_namespace)
        wrong = sorted(label for label in labels if not is_encoded_label(label))
        if not labels or wrong:
            raise ConfigurationError(
                f"{student_name}: a dependency parser teaches through the 'dependency_labels' "
                f"adapter only a tagger whose labels ({label_namespace!r}) are the relative-POS "
                f'dependency encoding ("+1@VERB@nsubj"; the "dependency_labels" dataset '
                f"reader writes them); got {wrong[:5] or 'no labels'}"
            )

    def entry_request(self, request: TeacherRequest) -> TeacherRequest:
        """The parser students' entries for this adapter's own `relation_heads` (whatever the
        tagger objective asks: its labels need the relations at those heads)."""
        return TeacherRequest(relation_heads=cached_relation_heads(self.relation_heads))

    def _table(self, teacher: FrozenTeacher, batch: TeacherBatch) -> Tuple[Dict[str, int], torch.Tensor]:
        """`(code ids, table)`: the arc codes of the student's labels, and `table[code, r]`
        the student's label index of code + the teacher's relation r (-1: not a label); one per
        teacher (the members of an ensemble order their relations each their own way)."""
        key = (id(teacher), id(batch.vocab), batch.label_namespace)
        if key not in self._tables:
            relations = teacher.vocab.get_token_to_index_vocabulary("head_tags")
            labels = batch.vocab.get_token_to_index_vocabulary(batch.label_namespace)
            unknown = sorted({split_label(label)[2] for label in labels} - set(relations))
            if unknown:
                raise ConfigurationError(
                    f"the student's labels use relations the teacher parser "
                    f"{teacher.archive_path!r} does not know: {unknown}. Train both on the same data"
                )
            codes: Dict[str, int] = {}
            entries = []
            for label, index in labels.items():
                offset, head_pos, relation = split_label(label)
                code = codes.setdefault(f"{offset:+d}@{head_pos}", len(codes))
                entries.append((code, relations[relation], index))
            table = torch.full((len(codes), len(relations)), -1, dtype=torch.long)
            for code, relation, index in entries:
                table[code, relation] = index
            self._tables[key] = (codes, table)
        return self._tables[key]

    def assemble(
        self, teacher: FrozenTeacher, per_sentence, batch: TeacherBatch, request: TeacherRequest
    ) -> TaggerScores:
        mask = batch.mask  # [B, n] the words
        parser_mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], 1)  # ROOT first
        scores = assemble_parser_scores(
            teacher.model, per_sentence, parser_mask, self.entry_request(request).relation_heads
        )
        codes, table = self._table(teacher, batch)
        num_labels = batch.vocab.get_vocab_size(batch.label_namespace)
        q, self.excluded_mass = label_marginals(
            scores, [m["pos"] for m in batch.metadata], codes, table, num_labels, self.tree,
            warn=not self._warned,
        )
        self._warned = self._warned or scores.marginal_arcs
        # a word none of whose teacher mass the student can hold gets a uniform target
        total = q.sum(-1, keepdim=True)
        q = torch.where(total > 0, q / total.clamp(min=1e-30), torch.full_like(q, 1.0 / num_labels))
        log_q = q.clamp(min=torch.finfo(q.dtype).tiny).log() * mask.unsqueeze(-1)
        return TaggerScores(log_q, mask=mask)


def arc_marginals(scores: ParserScores, tree: str, warn: bool = True) -> torch.Tensor:
    """`[B, n+1, n+1]` μ(h → d) of a parser's distribution over heads (`tree`: a tree CRF's
    marginals, or `"local"`: its per-word head softmax; a second-order teacher's MFVI marginals
    whatever `tree`, with a warning unless `"local"`), 0 at invalid arcs."""
    if tree == "local":
        valid = valid_arcs(scores.mask)
        return torch.where(valid, head_log_probs(scores.arcs, valid).exp(), torch.zeros_like(scores.arcs))
    return teacher_arc_marginals(scores, 1.0, tree, warn)  # a second-order teacher: its MFVI marginals


def label_marginals(
    scores: ParserScores,
    pos: List[List[str]],
    codes: Dict[str, int],
    table: torch.LongTensor,
    num_labels: int,
    tree: str,
    warn: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The teacher's marginals of the student's dependency labels, before renormalisation.

    scores : the teacher's `ParserScores` (`mask [B, n+1]` with ROOT; relations in the teacher's
        order, dense or at `label_heads`).
    pos : the POS tags of each sentence's words.
    codes, table : the student's arc codes (`"+1@NOUN"` -> id) and `table [codes, teacher
        relations]` = the student's label index of code + relation, `-1` where it has none.
    Returns `(q [B, n, num_labels], excluded [B, n])`: `q[b, d-1, l]` = Σ over the arcs h -> d
    and relations r encoded as label l of `μ(h → d) P_t(r | h → d)`, and per word the teacher's
    mass on no student label (unknown codes or relations, heads beyond the ones relations are
    given at).
    """
    mask = scores.mask
    size, length = mask.shape
    heads = _pairs(scores)  # [B, n+1, k]
    mass = arc_marginals(scores, tree, warn).gather(-1, heads).unsqueeze(-1) * scores.labels.softmax(-1)
    code_ids = _code_ids(pos, heads, codes)  # [B, n+1, k], -1: an invalid arc or no student code
    label_ids = table.to(heads.device)[code_ids.clamp(min=0)]  # [B, n+1, k, R]
    kept = (label_ids >= 0) & (code_ids >= 0).unsqueeze(-1) & mask.unsqueeze(-1).unsqueeze(-1)
    q = mass.new_zeros(size, length, num_labels + 1)  # the last column collects the mass left out
    target = torch.where(kept, label_ids, torch.full_like(label_ids, num_labels))
    q.scatter_add_(-1, target.flatten(2), mass.flatten(2))
    q = q[:, 1:, :num_labels]
    words = mask[:, 1:]
    excluded = (1.0 - q.sum(-1)).clamp(min=0) * words
    return q * words.unsqueeze(-1), excluded


def _pairs(scores: ParserScores) -> torch.LongTensor:
    """The heads each word's relation scores are given at: its k best, or every position."""
    if scores.label_heads is not None:
        return scores.label_heads
    size, length = scores.mask.shape
    return torch.arange(length, device=scores.arcs.device).expand(size, length, length)


def _code_ids(pos: List[List[str]], heads: torch.LongTensor, codes: Dict[str, int]) -> torch.LongTensor:
    """`[B, n+1, k]` the student's id of the arc code of `heads[b, d, s] -> d` (-1: an invalid
    arc, or a code the student's labels never use)."""
    ids = torch.full(heads.shape, -1, dtype=torch.long)
    rows = heads.tolist()
    for b, tags in enumerate(pos):
        table = arc_codes(tags)
        for d in range(1, len(table)):
            codes_of_d = table[d]
            for s, h in enumerate(rows[b][d]):
                code = codes_of_d[h] if h < len(codes_of_d) else None
                if code is not None:
                    ids[b, d, s] = codes.get(code, -1)
    return ids.to(heads.device)
