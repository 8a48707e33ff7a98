"""
Transfer sets: unlabeled sentences for the teacher to label, read lazily from one file.

KD is not limited to labeled sentences: on a sentence without gold labels the student learns
from the teacher's distribution alone (the same objectives, no gold term). A `TransferSet`
names such a file, its format and how many of its sentences an epoch sees; the
`transfer_set` data loader (`allennlp_subkd.data.transfer_set_data_loader`) mixes them with the
labeled training data, and `allennlp fill-teacher-cache --format` reads the same files.

Formats (`format`):

- `"text"`: raw text, one sentence a line, tokenised by spaCy's rule-based English tokenizer
  (`spacy.blank("en")`, the predictors' `{"sentence": ...}` tokenisation);
- `"tokens"`: pre-tokenised, one sentence a line, tokens separated by whitespace;
- `"conll"`: CoNLL-2003 style columns, sentences separated by blank lines (and `-DOCSTART-`
  lines): the word in the first column, its POS tag in the second (what the `conll2003` reader
  reads as `pos_tags`; UPOS in our UNER files), every other column ignored;
- `"conllu"`: CoNLL-U: FORM and UPOS of the word lines (multi-word tokens and empty nodes are
  skipped, as the `universal_dependencies` reader does); HEAD, DEPREL and every other column
  are ignored, so a treebank's gold trees never leak into KD.

Blank and whitespace-only lines are no sentences. Reading is lazy: one pass over the file
records where each sentence starts (8 bytes a sentence), and each epoch's sentences are read by
seeking to them, so a 1M-sentence transfer set costs 8 MB of memory, not its instances.
"""
import logging
import os
import random
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy
from allennlp.common import FromParams
from allennlp.common.checks import ConfigurationError

logger = logging.getLogger(__name__)

FORMATS = ("text", "tokens", "conll", "conllu")


@dataclass
class UnlabeledSentence:
    """One sentence of a transfer set: its words and, where the file has them, their POS tags."""

    words: List[str]
    pos: Optional[List[str]] = None


def check_format(name: str) -> str:
    """`name` if it is a transfer-set format, else a `ConfigurationError` naming the formats."""
    if name not in FORMATS:
        raise ConfigurationError(
            f"unknown transfer-set format {name!r}: use one of {', '.join(map(repr, FORMATS))}"
        )
    return name


def _is_blank(line: bytes) -> bool:
    return not line.strip()


def _is_conll_divider(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"-DOCSTART-")


def sentence_offsets(path: str, format: str) -> numpy.ndarray:  # noqa: A002
    """The byte offset at which each sentence of the file starts (one pass over the file)."""
    offsets: List[int] = []
    block = format in ("conll", "conllu")
    with open(path, "rb") as data:
        position = 0
        inside = False
        for line in data:
            if block:
                divider = _is_conll_divider(line) if format == "conll" else _is_blank(line)
                if not divider and not inside and not (format == "conllu" and line.startswith(b"#")):
                    offsets.append(position)
                    inside = True
                elif divider:
                    inside = False
            elif not _is_blank(line):
                offsets.append(position)
            position += len(line)
    return numpy.asarray(offsets, dtype=numpy.int64)


def _parse_block(lines: List[str], format: str, path: str) -> Optional[UnlabeledSentence]:  # noqa: A002
    words: List[str] = []
    pos: List[str] = []
    for line in lines:
        columns = line.rstrip("\n").split("\t") if format == "conllu" else line.split()
        if format == "conllu":
            if len(columns) < 4 or not columns[0].isdigit():
                continue  # multi-word tokens ("1-2"), empty nodes ("1.1")
            words.append(columns[1])
            pos.append(columns[3])
        else:
            words.append(columns[0])
            pos.append(columns[1] if len(columns) > 1 else None)  # type: ignore[arg-type]
    if not words:
        return None
    if any(tag is None for tag in pos):
        return UnlabeledSentence(words, None)
    return UnlabeledSentence(words, pos)


def read_sentence(handle, offset: int, format: str, path: str) -> Optional[UnlabeledSentence]:  # noqa: A002
    """The sentence starting at byte `offset` of an open (binary) file."""
    handle.seek(int(offset))
    if format in ("text", "tokens"):
        line = handle.readline().decode("utf-8").strip()
        if format == "tokens":
            words = line.split()
        else:
            from allennlp_subkd.predictors.pretokenized import tokenize

            words = tokenize(line)
        return UnlabeledSentence(words) if words else None
    lines: List[str] = []
    for raw in handle:
        if (_is_conll_divider(raw) if format == "conll" else _is_blank(raw)):
            break
        line = raw.decode("utf-8")
        if format == "conllu" and line.startswith("#"):
            continue
        lines.append(line)
    return _parse_block(lines, format, path)


def read_all(path: str, format: str) -> Iterator[UnlabeledSentence]:  # noqa: A002
    """Every sentence of a transfer-set file, in file order (for `fill-teacher-cache`)."""
    check_format(format)
    offsets = sentence_offsets(path, format)
    with open(path, "rb") as handle:
        for offset in offsets:
            sentence = read_sentence(handle, offset, format, path)
            if sentence is not None:
                yield sentence


class TransferSet(FromParams):
    """
    Unlabeled sentences for the teacher to label: the `transfer_set` argument of the
    `transfer_set` data loader.

    # Parameters

    path : `str`
        The file (see the module docstring for the formats).
    format : `str`
        `"text"`, `"tokens"`, `"conll"` or `"conllu"`.
    sentences_per_epoch : `int`, optional (default = `None`)
        How many of its sentences one epoch sees, a fresh random sample each epoch (without
        replacement within an epoch); `None`: all of them, shuffled. A budget keeps a
        1M-sentence transfer set from making an epoch 100x longer.
    seed : `int`, optional (default = `13`)
        The epoch's sample is drawn with `seed + epoch`, so a run resumed with `--recover` at
        epoch e sees the sample a run without the interruption saw.
    vocabulary : `bool`, optional (default = `True`)
        Whether the transfer set's words count when the vocabulary is built from the training
        data (a student with embeddings of its own then has rows for words only the transfer
        set has, which KD trains). It reads the whole file once more at vocabulary creation.
    """

    def __init__(
        self,
        path: str,
        format: str,  # noqa: A002  (the config key users write)
        sentences_per_epoch: Optional[int] = None,
        seed: int = 13,
        vocabulary: bool = True,
    ) -> None:
        self.format = check_format(format)
        if not os.path.isfile(path):
            raise ConfigurationError(f"transfer set {path!r} does not exist")
        if sentences_per_epoch is not None and (
            isinstance(sentences_per_epoch, bool) or not isinstance(sentences_per_epoch, int) or sentences_per_epoch < 1
        ):
            raise ConfigurationError(
                f"transfer_set.sentences_per_epoch must be an integer >= 1 or null (all), got {sentences_per_epoch!r}"
            )
        self.path = path
        self.sentences_per_epoch = sentences_per_epoch
        self.seed = seed
        self.vocabulary = vocabulary
        self._offsets: Optional[numpy.ndarray] = None

    @property
    def offsets(self) -> numpy.ndarray:
        if self._offsets is None:
            self._offsets = sentence_offsets(self.path, self.format)
            if len(self._offsets) == 0:
                raise ConfigurationError(f"transfer set {self.path!r} holds no sentence ({self.format} format)")
            logger.info("Transfer set %s: %d sentences", self.path, len(self._offsets))
        return self._offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def epoch_size(self) -> int:
        """How many sentences one epoch reads (over all distributed workers)."""
        return len(self) if self.sentences_per_epoch is None else min(self.sentences_per_epoch, len(self))

    def epoch_sample(self, epoch: int, rank: int = 0, world_size: int = 1) -> List[int]:
        """The sentence numbers epoch `epoch` reads in worker `rank` of `world_size`: one sample
        of `epoch_size()` for all workers (the same seed), each worker taking every
        `world_size`-th of it."""
        order = list(range(len(self)))
        random.Random(self.seed + epoch).shuffle(order)
        return order[: self.epoch_size()][rank::world_size]

    def sentences(self, numbers: List[int]) -> Iterator[UnlabeledSentence]:
        """The sentences with these numbers (in this order; sentences without words skipped)."""
        offsets = self.offsets
        with open(self.path, "rb") as handle:
            for number in numbers:
                sentence = read_sentence(handle, offsets[number], self.format, self.path)
                if sentence is not None:
                    yield sentence
