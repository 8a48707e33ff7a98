"""
Teacher adapters: how a frozen teacher's forward pass becomes the scores a student's KD
objective compares.

An adapter is the one piece of code that knows a *teacher model class*. Given a batch of
the student (`TeacherBatch`), it says

1. `keys`: what identifies each sentence for the teacher (everything it reads: the words,
   the POS tags, ...), so its outputs are computed once per distinct sentence and cached
   in memory and on disk (`FrozenTeacher.per_sentence`);
2. `compute`: the teacher's per-sentence outputs for some of the batch's sentences (a tuple
   of tensors each, in the teacher's own label order: student-independent, so one cache
   serves every student of the teacher);
3. `assemble`: those outputs, padded into one batch and aligned with the student (its label
   order, its length): the scores object the objective takes (`TaggerScores`,
   `ParserScores`, or a class of your own).

The distilled models call it through `DistilledModelMixin.teacher_scores`, once per teacher
of an ensemble. Our adapters: `"tagger"` (CRF and softmax taggers teaching taggers),
`"parser"` (biaffine parsers teaching parsers) and `"dependency_labels"` (a biaffine parser
teaching a tagger that labels each word with its encoded head, Wang et al.'s case 1b).
`docs/extending.md` writes one for a model of allennlp-models that is not ours.
"""
from dataclasses import dataclass
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple, Type

import torch
from allennlp.common import Registrable
from allennlp.data import Vocabulary
from allennlp.models import Model


@dataclass
class TeacherBatch:
    """
    What a student hands its teacher adapter for one batch.

    inputs : the student's forward arguments the teacher may need (e.g. `{"tokens": ...}` or
        `{"words": ..., "pos_tags": ...}`), batch-first tensors.
    metadata : the batch's `metadata` (per sentence dicts with at least `"words"`), or `None`.
    mask : `[batch, time]` bool, the student's mask of the positions its scores cover.
    vocab : the student's vocabulary.
    label_namespace : the student's label namespace (whose order the scores must follow).
    objective : the student's KD objective (adapters may read its options, e.g. the
        parser objectives' `relation_heads`).
    """

    inputs: Dict[str, Any]
    metadata: Optional[List[Dict[str, Any]]]
    mask: torch.BoolTensor
    vocab: Vocabulary
    label_namespace: str
    objective: Any = None

    @property
    def batch_size(self) -> int:
        return self.mask.size(0)

    @property
    def device(self) -> torch.device:
        return self.mask.device

    def words(self) -> Optional[List[List[str]]]:
        """The words of each sentence (`metadata[i]["words"]`), or `None` without metadata."""
        if self.metadata is None:
            return None
        return [list(m["words"]) for m in self.metadata]


class TeacherAdapter(Registrable):
    """
    Base class of the teacher adapters (see the module docstring). Subclasses set
    `teacher_types` (the model classes they read, subclasses included) and `scores_type`
    (the class of what `assemble` returns, which must be what the student's objective
    takes), and implement the three methods.
    """

    #: the model classes an archive must hold for this adapter to read it
    teacher_types: Tuple[Type[Model], ...] = ()
    #: what `assemble` returns
    scores_type: Type = object

    def check_student(self, vocab: Vocabulary, label_namespace: str, student_name: str) -> None:
        """Raise a `ConfigurationError` when this adapter cannot teach this student (called
        once, when the model is built). The default accepts every student."""

    def keys(self, batch: TeacherBatch) -> Optional[List[Hashable]]:
        """One cache key per sentence, holding everything the teacher reads, or `None` (no
        caching) when the batch lacks what is needed."""
        raise NotImplementedError

    def compute(
        self, teacher: "FrozenTeacher", batch: TeacherBatch, rows: List[int]  # noqa: F821
    ) -> List[Tuple[torch.Tensor, ...]]:
        """The teacher's outputs for the sentences `rows` of the batch, one tuple of tensors
        per sentence (without padding), from one forward pass on those sentences only."""
        raise NotImplementedError

    def assemble(
        self,
        teacher: "FrozenTeacher",  # noqa: F821
        per_sentence: Sequence[Tuple[torch.Tensor, ...]],
        batch: TeacherBatch,
    ) -> Any:
        """The batch's teacher scores (a `scores_type`), aligned with the student."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """How errors name this adapter: its registered name and class."""
        for registered, (cls, _) in Registrable._registry[TeacherAdapter].items():
            if cls is type(self):
                return f"{registered!r} ({type(self).__name__})"
        return type(self).__name__
