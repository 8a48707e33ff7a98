"""
Teacher adapters: how a frozen teacher's forward pass becomes the scores a student's KD
objective compares.

An adapter is the one piece of code that knows a *teacher model class*. Given a batch of
the student (`TeacherBatch`) and what the consumer asked for (a `TeacherRequest`), it says

1. `keys`: what identifies each sentence for the teacher (everything it reads: the words,
   the POS tags, ...), so its outputs are computed once per distinct sentence and cached
   in memory and on disk;
2. `entry_request`: what a cache entry must hold to serve a request (by default the default
   request: the outputs do not depend on it); its `key_suffix` is added to the keys by the teacher, never by the adapter;
3. `compute`: the teacher's per-sentence outputs for some of the batch's sentences, as the
   entry request says (a tuple of tensors each, in the teacher's own label order:
   student-independent, so one cache serves every student of the teacher);
4. `assemble`: those outputs, padded into one batch and aligned with the student (its label
   order, its length, its mask) for the request: the scores object the objective takes
   (`TaggerScores`, `ParserScores`, or a class of your own).

One path runs them, `FrozenTeacher.scores` (and `FrozenTeacher.outputs`, its caching part):
the distilled models call it once per teacher of an ensemble, and `allennlp fill-teacher-cache`
calls `outputs` with batches made by `fill_batch`, so the command writes exactly the entries
training reads, for any registered adapter. Our adapters: `"tagger"` (CRF and softmax taggers teaching taggers),
`"parser"` (biaffine parsers teaching parsers) and `"dependency_labels"` (a biaffine parser
teaching a tagger that labels each word with its encoded head, Wang et al.'s case 1b).
`docs/extending.md` writes one for a model of allennlp-models that is not ours.
"""
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Hashable, List, Optional, Sequence, Tuple, Type

import torch
from allennlp.common import Registrable
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.nn import util

from allennlp_subkd.distillation.request import TeacherRequest

if TYPE_CHECKING:  # the frozen teacher uses adapters: no import at run time
    from allennlp_subkd.distillation.teacher.frozen import FrozenTeacher


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
    """

    inputs: Dict[str, Any]
    metadata: Optional[List[Dict[str, Any]]]
    mask: torch.BoolTensor
    vocab: Vocabulary
    label_namespace: str

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
    takes), implement `keys`, `compute` and `assemble`, and override `entry_request` and
    `fill_batch` where the defaults do not fit.
    """

    #: the model classes an archive must hold for this adapter to read it
    teacher_types: Tuple[Type[Model], ...] = ()
    #: what `assemble` returns
    scores_type: Type = object
    #: whether `allennlp fill-teacher-cache` picks this adapter for a teacher of its
    #: `teacher_types` when `--adapter` is not given (adapters between tasks, such as
    #: `dependency_labels`, say `False`)
    default_for_teacher_types: bool = True

    def check_student(self, vocab: Vocabulary, label_namespace: str, student_name: str) -> None:
        """Raise a `ConfigurationError` when this adapter cannot teach this student (called
        once, when the model is built). The default accepts every student."""

    def keys(self, batch: TeacherBatch) -> Optional[List[Hashable]]:
        """One key per sentence, holding everything the teacher reads, or `None` (no caching)
        when the batch lacks what is needed. The teacher adds the entry request's
        `key_suffix` to each."""
        raise NotImplementedError

    def entry_request(self, request: TeacherRequest) -> TeacherRequest:
        """What a cache entry must hold to serve `request` (what `compute` computes and the
        key suffix). The default, for adapters whose outputs do not depend on the request:
        the default request, whatever is asked (so entries never multiply over requests they
        ignore). Adapters that read the request (the parsers') override it."""
        return TeacherRequest()

    def full_precision_outputs(self, entry: TeacherRequest) -> Tuple[int, ...]:
        """The positions, in an entry's tuple of tensors, of outputs the caches keep in float32
        even with `teacher.cache.dtype: float16` (outputs from which scores are rebuilt by
        products, where half precision would not bound the scores' error). Default: none."""
        return ()

    def compute(
        self,
        teacher: "FrozenTeacher",  # noqa: F821
        batch: TeacherBatch,
        rows: List[int],
        entry: TeacherRequest,
    ) -> List[Tuple[torch.Tensor, ...]]:
        """The teacher's outputs for the sentences `rows` of the batch, one tuple of tensors
        per sentence (without padding), from one forward pass on those sentences only, as the
        entry request `entry` says."""
        raise NotImplementedError

    def assemble(
        self,
        teacher: "FrozenTeacher",  # noqa: F821
        per_sentence: Sequence[Tuple[torch.Tensor, ...]],
        batch: TeacherBatch,
        request: TeacherRequest,
    ) -> Any:
        """The batch's teacher scores (a `scores_type`) for `request`, aligned with the
        student, from entries computed for `entry_request(request)`."""
        raise NotImplementedError

    def fill_batch(self, teacher: "FrozenTeacher", tensors: Dict[str, Any]) -> TeacherBatch:  # noqa: F821
        """A `TeacherBatch` for `fill-teacher-cache` from a batch of the teacher's own dataset
        reader indexed with its own vocabulary (so the teacher reads the tensors as they are):
        the forward arguments, `metadata`, and the mask of its first text field. Adapters whose
        students' masks differ (a parser's holds ROOT) override it."""
        inputs = {name: value for name, value in tensors.items() if name != "metadata"}
        text = next((value for value in inputs.values() if isinstance(value, dict)), None)
        if text is None:
            raise ValueError(f"{self.name}: the teacher's batches have no text field")
        return TeacherBatch(inputs, tensors.get("metadata"), util.get_text_field_mask(text),
                            teacher.vocab, "labels")

    @property
    def name(self) -> str:
        """How errors name this adapter: its registered name and class."""
        for registered, (cls, _) in Registrable._registry[TeacherAdapter].items():
            if cls is type(self):
                return f"{registered!r} ({type(self).__name__})"
        return type(self).__name__
