"""
`TeacherRequest`: what a consumer of the teacher's outputs (a KD objective, the teacher
diagnostics, `allennlp fill-teacher-cache`) needs the teacher to compute — one small, hashable
value, the single place where that is said.

The path from a request to scores is then fixed (`FrozenTeacher.scores`):

1. the adapter says what a cache entry must hold to serve it: `adapter.entry_request(request)`
   (a parser's entries hold relation scores at *at least* two heads, so the objectives asking
   for one or two heads share them);
2. the entry request's `key_suffix` is appended to every sentence's cache key, so entries for
   different requests never mix;
3. `adapter.compute(teacher, batch, rows, entry)` computes missing entries;
4. `adapter.assemble(teacher, per_sentence, batch, request)` builds the batch's scores for
   what was *asked* (e.g. one head's relation scores out of an entry holding two).

This module imports nothing from the rest of the package: the objectives (which state
requests) and the teacher runtime (which serves them) both depend on it and not on each other.
"""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class TeacherRequest:
    """
    What the teacher must compute for one consumer.

    relation_heads : `int`, optional (default = `None`)
        Dependency parsers only (other adapters ignore it): the relation scores are needed at
        the teacher's `relation_heads` best heads of each word (`ParserScores.label_heads`),
        or, with `None`, at every pair (the teacher's relation representations are kept, and
        the dense `[n+1, n+1, relations]` scores rebuilt from them).
    """

    relation_heads: Optional[int] = None

    @property
    def key_suffix(self) -> Tuple[int, ...]:
        """What this request adds to a sentence's cache key: `(relation_heads,)`, or nothing
        for the default request (so a tagger's keys are its words alone)."""
        return () if self.relation_heads is None else (self.relation_heads,)
