"""The relative-POS head encoding: hand-checked labels, round trips, bad labels, repair."""
import glob
import random
import re
from typing import List, Tuple

import pytest

from allennlp_subkd.data.dependency_encoding import (
    ROOT_POS,
    arc_code,
    arc_codes,
    decode,
    decode_head,
    encode,
    is_encoded_label,
    split_label,
)
from allennlp_subkd.data.dependency_label_reader import DependencyLabelsDatasetReader

#: Every tree of the shipped data (the labeled files of fixtures/data/ud_ewt: the sample's train,
#: dev and test, 1,500 trees, and the full EWT test, 2,077; not the transfer set, which has no
#: trees) and of the tiny test treebanks (36 trees).
SAMPLE_FILES = sorted(p for p in glob.glob("fixtures/data/ud_ewt/*.conllu") if not p.endswith("transfer.conllu"))
CONLLU_FILES = ["fixtures/dep/tiny.conllu", "fixtures/dep/tiny_teacher.conllu"] + SAMPLE_FILES
POS = ["PRON", "VERB", "DET", "NOUN"]
HEADS = [2, 0, 4, 2]
RELATIONS = ["nsubj", "root", "det", "obj"]
LABELS = ["+1@VERB@nsubj", "-1@ROOT@root", "+1@NOUN@det", "-1@VERB@obj"]


def random_sentence(rng: random.Random) -> Tuple[List[str], List[int], List[str]]:
    """POS over 3 tags and any heads without self-loops (cycles, several roots)."""
    n = rng.randint(1, 12)
    pos = [rng.choice(["NOUN", "VERB", "ADJ"]) for _ in range(n)]
    heads = [rng.choice([h for h in range(n + 1) if h != d]) for d in range(1, n + 1)]
    relations = [rng.choice(["nsubj", "obj", "obl:npmod", "root"]) for _ in range(n)]
    return pos, heads, relations


RANDOM_SENTENCES = [random_sentence(random.Random(seed)) for seed in range(200)]


def round_trip(pos: List[str], heads: List[int], relations: List[str]) -> None:
    labels = encode(heads, relations, pos)
    assert all(is_encoded_label(label) for label in labels)
    assert decode(pos, [[label] for label in labels]) == (heads, relations)


def test_hand_checked_sentence():
    assert encode(HEADS, RELATIONS, POS) == LABELS
    assert decode(POS, [[label] for label in LABELS]) == (HEADS, RELATIONS)


def test_hand_checked_counts_and_root_pos():
    # Heads skip words with the head's POS: the 2nd NOUN to the left, the 2nd VERB right.
    pos = ["NOUN", "VERB", "NOUN", "ADJ", "VERB", "VERB"]
    assert arc_code(pos, 4, 1) == "-2@NOUN"
    assert arc_code(pos, 3, 6) == "+2@VERB"
    assert arc_code(pos, 6, 0) == f"-1@{ROOT_POS}"
    assert encode([3, 0, 2, 3, 2, 5], ["nmod", "root", "obj", "amod", "conj", "xcomp"], pos) == [
        "+1@NOUN@nmod", "-1@ROOT@root", "-1@VERB@obj", "-1@NOUN@amod",
        "-1@VERB@conj", "-1@VERB@xcomp",
    ]


def test_split_label_keeps_colons_in_relations():
    assert split_label("-2@NOUN@obl:npmod") == (-2, "NOUN", "obl:npmod")
    assert split_label("+13@ROOT@root") == (13, "ROOT", "root")


def count_sentences(path: str) -> int:
    """Sentences of a CoNLL-U file, counted without the reader: blank-line separated
    blocks with at least one word line (an integer id)."""
    with open(path) as conllu_file:
        blocks = conllu_file.read().split("\n\n")
    return sum(
        any(line.split("\t", 1)[0].isdigit() for line in block.splitlines()) for block in blocks
    )


def test_the_round_trip_covers_the_whole_sample():
    assert [p.split("/")[-1] for p in SAMPLE_FILES] == ["dev.conllu", "test.conllu", "test_full.conllu", "train.conllu"]
    assert sum(count_sentences(path) for path in SAMPLE_FILES) == 1500 + 2077  # fixtures/data/README.md


@pytest.mark.parametrize("path", CONLLU_FILES)
def test_round_trip_on_every_treebank_sentence(path):
    instances = list(DependencyLabelsDatasetReader().read(path))
    # Every sentence of the file is read (none skipped), and every one has a tree.
    assert len(instances) == count_sentences(path) > 0
    for instance in instances:
        metadata = instance["metadata"].metadata
        round_trip(metadata["pos"], metadata["gold_heads"], metadata["gold_relations"])


def test_round_trip_on_random_head_assignments():
    for pos, heads, relations in RANDOM_SENTENCES:
        round_trip(pos, heads, relations)


def test_arc_codes_agree_with_arc_code_and_decode_head():
    for pos, _, _ in RANDOM_SENTENCES:
        table = arc_codes(pos)
        n = len(pos)
        assert len(table) == n + 1 and all(len(row) == n + 1 for row in table)
        assert table[0] == [None] * (n + 1)
        for d in range(1, n + 1):
            assert table[d][d] is None
            for h in range(n + 1):
                if h != d:
                    assert table[d][h] == arc_code(pos, d, h)
                    assert decode_head(pos, d, table[d][h]) == h


@pytest.mark.parametrize(
    "label", ["x@NOUN@nsubj", "0@NOUN@det", "+0@NOUN@det", "1@NOUN@det", "+1@NOUN", "nsubj",
              "+1@@det", "+1@NOUN@", "++1@NOUN@det", "+1.0@NOUN@det"]
)
def test_invalid_labels_are_rejected_naming_the_label(label):
    with pytest.raises(ValueError, match=re.escape(f"{label!r} is not a label 'offset@head_pos@relation'")):
        split_label(label)
    assert not is_encoded_label(label)


@pytest.mark.parametrize(
    "dependent, head, message",
    [
        (2, 2, "dependent 2 cannot be its own head"),
        (0, 1, "dependent 0 is outside 1..4"),
        (5, 1, "dependent 5 is outside 1..4"),
        (1, 5, "head 5 is outside 0..4"),
        (1, -1, "head -1 is outside 0..4"),
    ],
)
def test_arc_code_rejects_bad_positions(dependent, head, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        arc_code(POS, dependent, head)


@pytest.mark.parametrize(
    "heads, relations, pos, message",
    [
        ([2, 0], ["nsubj"], ["PRON", "VERB"], "heads, relations and pos differ in length: 2, 1, 2"),
        ([3, 0], ["nsubj", "root"], ["PRON", "VERB"], "word 1: head 3 is outside 0..2"),
        ([2, 2], ["nsubj", "root"], ["PRON", "VERB"], "word 2: a word cannot be its own head"),
        ([2, 0], ["nsubj", "root"], ["PRON", "VE@RB"], "word 2: POS 'VE@RB' must be non-empty and without '@'"),
        ([2, 0], ["", "root"], ["PRON", "VERB"], "word 1: relation '' must be non-empty and without '@'"),
    ],
)
def test_encode_rejects_bad_trees_naming_the_word(heads, relations, pos, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        encode(heads, relations, pos)


def test_decode_head_of_missing_words_is_none():
    assert decode_head(POS, 1, "+3@NOUN") is None
    assert decode_head(POS, 1, "+2@NOUN@obj") is None
    assert decode_head(POS, 4, "+1@VERB@obj") is None
    assert decode_head(POS, 2, "-2@ROOT") is None
    assert decode_head(POS, 1, "+1@ADJ") is None
    assert decode_head(POS, 1, "+1@NOUN") == 4
    assert decode_head(POS, 4, "-1@ROOT@root") == 0


def test_decode_takes_the_best_valid_label():
    ranked = [["+2@VERB@nsubj", "+1@VERB@nsubj"], ["-1@ROOT@root"],
              ["+1@NOUN@det"], ["-1@VERB@obj", "-1@PRON@nmod"]]
    assert decode(POS, ranked) == (HEADS, RELATIONS)


def test_decode_attaches_words_without_valid_label_to_the_first_root_word():
    ranked = [["+1@VERB@nsubj"], ["-1@ROOT@root"], ["+5@NOUN@det", "-2@DET@det"],
              ["-1@VERB@obj"]]
    assert decode(POS, ranked) == ([2, 0, 2, 2], RELATIONS)
    # Several words on ROOT: the first one in sentence order.
    ranked = [["-1@ROOT@nsubj"], ["-1@ROOT@root"], ["+2@NOUN@det"], ["-1@VERB@obj"]]
    assert decode(POS, ranked) == ([0, 0, 1, 2], ["nsubj", "root", "det", "obj"])


def test_decode_attaches_to_root_when_no_word_is_on_root():
    ranked = [["+1@VERB@nsubj"], ["+1@ADJ@root"], ["+1@NOUN@det"], ["-1@VERB@obj"]]
    assert decode(POS, ranked) == ([2, 0, 4, 2], RELATIONS)


def test_decode_keeps_cycles():
    assert decode(["NOUN", "NOUN"], [["+1@NOUN@a"], ["-1@NOUN@b"]]) == ([2, 1], ["a", "b"])


@pytest.mark.parametrize(
    "ranked, message",
    [([["+1@VERB@nsubj"]], "1 lists of labels for 2 words"), ([[], ["-1@ROOT@root"]], "word 1 has no labels"),
     ([["+1@VERB"], ["-1@ROOT@root"]], "'+1@VERB' is not a label 'offset@head_pos@relation'")],
)
def test_decode_rejects_bad_input(ranked, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        decode(["PRON", "VERB"], ranked)
