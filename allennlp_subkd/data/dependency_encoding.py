"""Dependency trees as one label per word: the relative-POS head encoding.

Strzyż, Vilares & Gómez-Rodríguez (2019), "Viable Dependency Parsing as Sequence
Labeling", cast parsing as tagging: each word gets one label saying where its head is
and with which relation. In the relative-POS encoding the head is named by its POS and
by how many words with that POS lie between the dependent and the head.

Positions are 1-based, `0` is a virtual ROOT token whose POS is `ROOT_POS`. For a
dependent at position `d` with head `h` the label is `f"{offset:+d}@{head_pos}@{relation}"`:

* `h < d`: `offset = -|{j : h <= j < d, pos[j] == pos[h]}|`, the head is the
  `|offset|`-th word with POS `pos[h]` to the LEFT of `d`;
* `h > d`: `offset = +|{j : d < j <= h, pos[j] == pos[h]}|`, the head is the
  `offset`-th word with POS `pos[h]` to the RIGHT of `d`.

The offset is never 0. For `pos = [PRON, VERB, DET, NOUN]` and `heads = [2, 0, 4, 2]`
the labels are `["+1@VERB@nsubj", "-1@ROOT@root", "+1@NOUN@det", "-1@VERB@obj"]`.

Any head assignment without self-loops is encodable (cycles, several roots and
non-projective arcs included) and decodes back exactly. A predicted label may however
point at a word that does not exist (`"+3@NOUN"` with one NOUN to the right): `decode`
repairs those, as its docstring says. The part `f"{offset:+d}@{head_pos}"` without the
relation is called the arc code here. POS tags must not contain `'@'`; relations may
contain `':'` (`"obl:npmod"`), labels are split on the first two `'@'`.
"""
import bisect
import re
from typing import Dict, List, Optional, Sequence, Tuple

ROOT_POS = "ROOT"

_OFFSET = re.compile(r"[+-][1-9][0-9]*")


def _with_root(pos: Sequence[str]) -> List[str]:
    """The POS of positions `0..n`: `ROOT_POS` followed by the `n` words' POS."""
    return [ROOT_POS, *pos]


def _check_position(name: str, position: int, lowest: int, highest: int) -> None:
    if not lowest <= position <= highest:
        raise ValueError(f"{name} {position} is outside {lowest}..{highest}")


def arc_code(pos: Sequence[str], dependent: int, head: int) -> str:
    """The arc code `"{offset:+d}@{head_pos}"` of the arc `head -> dependent`.

    # Parameters

    pos : `Sequence[str]`, shape `(n,)`
        The POS of the words; position `p >= 1` has POS `pos[p - 1]`.
    dependent : `int`
        1-based position of the dependent, in `1..n`.
    head : `int`
        Position of the head, in `0..n` (`0` is ROOT), not `dependent`.
    """
    n = len(pos)
    _check_position("dependent", dependent, 1, n)
    _check_position("head", head, 0, n)
    if dependent == head:
        raise ValueError(f"dependent {dependent} cannot be its own head")
    tags = _with_root(pos)
    head_pos = tags[head]
    if head < dependent:
        offset = -sum(tag == head_pos for tag in tags[head:dependent])
    else:
        offset = sum(tag == head_pos for tag in tags[dependent + 1 : head + 1])
    return f"{offset:+d}@{head_pos}"


def _codes_from(tags: Sequence[str], dependent: int, heads: range, sign: int) -> Dict[int, str]:
    """The arc codes of `dependent` for `heads`, walked away from it with running counts."""
    counts: Dict[str, int] = {}
    codes = {}
    for head in heads:
        counts[tags[head]] = counts.get(tags[head], 0) + 1
        codes[head] = f"{sign * counts[tags[head]]:+d}@{tags[head]}"
    return codes


def arc_codes(pos: Sequence[str]) -> List[List[Optional[str]]]:
    """Every arc code of a sentence, in `O(n^2)`.

    # Parameters

    pos : `Sequence[str]`, shape `(n,)`
        The POS of the words.

    # Returns

    `List[List[Optional[str]]]`, shape `(n + 1, n + 1)`
        `[d][h]` is `arc_code(pos, d, h)`, or `None` where `d == 0` or `d == h`.
    """
    tags = _with_root(pos)
    size = len(tags)
    table: List[List[Optional[str]]] = [[None] * size for _ in range(size)]
    for dependent in range(1, size):
        left = _codes_from(tags, dependent, range(dependent - 1, -1, -1), -1)
        right = _codes_from(tags, dependent, range(dependent + 1, size), +1)
        for head, code in {**left, **right}.items():
            table[dependent][head] = code
    return table


def _check_tag(kind: str, tag: str, word: int) -> None:
    if not tag or "@" in tag:
        raise ValueError(f"word {word}: {kind} {tag!r} must be non-empty and without '@'")


def encode(heads: Sequence[int], relations: Sequence[str], pos: Sequence[str]) -> List[str]:
    """The label of every word of a tree.

    # Parameters

    heads : `Sequence[int]`, shape `(n,)`
        The head of word `i + 1` is `heads[i]`, a position in `0..n` (`0` is ROOT).
    relations : `Sequence[str]`, shape `(n,)`
        The relation of each word to its head.
    pos : `Sequence[str]`, shape `(n,)`
        The POS of each word.

    # Returns

    `List[str]`, shape `(n,)`
        `f"{offset:+d}@{head_pos}@{relation}"` for each word.
    """
    n = len(pos)
    if not len(heads) == len(relations) == n:
        raise ValueError(
            f"heads, relations and pos differ in length: {len(heads)}, {len(relations)}, {n}"
        )
    labels = []
    for word, (head, relation) in enumerate(zip(heads, relations), start=1):
        if not 0 <= head <= n:
            raise ValueError(f"word {word}: head {head} is outside 0..{n}")
        if head == word:
            raise ValueError(f"word {word}: a word cannot be its own head")
        _check_tag("POS", pos[word - 1], word)
        _check_tag("relation", relation, word)
        labels.append(f"{arc_code(pos, word, head)}@{relation}")
    return labels


def _split(text: str, parts: int) -> Tuple[int, str, str]:
    """`(offset, head_pos, rest)` of a label (`parts=3`) or an arc code (`parts=2`, rest "")."""
    pieces = text.split("@", 2)
    if len(pieces) != parts or not _OFFSET.fullmatch(pieces[0]) or not all(pieces[1:]):
        kind = "label 'offset@head_pos@relation'" if parts == 3 else "arc code 'offset@head_pos'"
        raise ValueError(f"{text!r} is not a {kind} with a signed non-zero offset")
    return int(pieces[0]), pieces[1], pieces[2] if parts == 3 else ""


def split_label(label: str) -> Tuple[int, str, str]:
    """`(offset, head_pos, relation)` of a label such as `"-2@NOUN@obl"`.

    The offset must be a non-zero integer with an explicit sign; head POS and relation
    must be non-empty. Raises `ValueError`, naming the label, otherwise.
    """
    return _split(label, 3)


def is_encoded_label(label: str) -> bool:
    """Whether `split_label` accepts `label`."""
    try:
        split_label(label)
    except ValueError:
        return False
    return True


def decode_head(pos: Sequence[str], dependent: int, label_or_code: str) -> Optional[int]:
    """The head position a label (or an arc code `"o@P"`) points at from `dependent`.

    # Parameters

    pos : `Sequence[str]`, shape `(n,)`
        The POS of the words.
    dependent : `int`
        1-based position of the word the label belongs to, in `1..n`.
    label_or_code : `str`
        `"o@P@relation"` or `"o@P"`.

    # Returns

    `Optional[int]`
        The head in `0..n`, or `None` when there are fewer than `|o|` words with POS
        `P` on that side of `dependent`.
    """
    _check_position("dependent", dependent, 1, len(pos))
    parts = 3 if label_or_code.count("@") >= 2 else 2
    offset, head_pos, _ = _split(label_or_code, parts)
    positions = [p for p, tag in enumerate(_with_root(pos)) if tag == head_pos]
    return _nth_from(positions, dependent, offset)


def _nth_from(positions: List[int], dependent: int, offset: int) -> Optional[int]:
    """The `|offset|`-th of the sorted `positions` left (< 0) or right (> 0) of `dependent`."""
    if offset < 0:
        index = bisect.bisect_left(positions, dependent) + offset
    else:
        index = bisect.bisect_right(positions, dependent) + offset - 1
    if not 0 <= index < len(positions) or positions[index] == dependent:
        return None
    return positions[index]


def decode(
    pos: Sequence[str], ranked_labels: Sequence[Sequence[str]]
) -> Tuple[List[int], List[str]]:
    """A head and a relation for every word from its labels, best first.

    Repair rule: each word takes the best-ranked of its labels whose head exists in the
    sentence (see `decode_head`). A word none of whose labels is valid is attached to
    the first word, in sentence order, whose head so decoded is ROOT, or to ROOT (`0`)
    when there is no such word; its relation is that of its best-ranked label. Nothing
    else is repaired: as in Strzyż et al. (2019) the result may have cycles and several
    words on ROOT.

    # Parameters

    pos : `Sequence[str]`, shape `(n,)`
        The POS of the words.
    ranked_labels : `Sequence[Sequence[str]]`, shape `(n, k_i)`
        `ranked_labels[i]` are labels for word `i + 1`, best first, at least one. Each
        must be well-formed (`split_label`), or `ValueError` is raised.

    # Returns

    `Tuple[List[int], List[str]]`, shapes `(n,)` and `(n,)`
        The heads (`0` is ROOT) and the relations.
    """
    if len(ranked_labels) != len(pos):
        raise ValueError(f"{len(ranked_labels)} lists of labels for {len(pos)} words")
    heads: List[Optional[int]] = []
    relations = []
    for dependent, labels in enumerate(ranked_labels, start=1):
        if not labels:
            raise ValueError(f"word {dependent} has no labels")
        head, relation = _best_valid(pos, dependent, labels)
        heads.append(head)
        relations.append(relation)
    return _attach_invalid(heads), relations


def _best_valid(
    pos: Sequence[str], dependent: int, labels: Sequence[str]
) -> Tuple[Optional[int], str]:
    """The head and relation of the best label with an existing head, else `None` and
    the best label's relation."""
    for label in labels:
        head = decode_head(pos, dependent, label)
        if head is not None:
            return head, split_label(label)[2]
    return None, split_label(labels[0])[2]


def _attach_invalid(heads: List[Optional[int]]) -> List[int]:
    """`heads` with every `None` replaced by the first word on ROOT, or ROOT itself.

    A word whose head is `None` is not on ROOT, so it is never attached to itself.
    """
    root_word = next((word for word, head in enumerate(heads, start=1) if head == 0), 0)
    return [root_word if head is None else head for head in heads]
