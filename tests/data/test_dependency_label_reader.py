"""The `dependency_labels` reader: fields, labels, metadata, POS features, skipped sentences."""
import logging

import pytest
from allennlp.data import DatasetReader, Vocabulary
from allennlp.data.token_indexers import SingleIdTokenIndexer

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.data.dependency_label_reader import DependencyLabelsDatasetReader

TINY = "fixtures/dep/tiny.conllu"
FIRST_WORDS = ["I", "ran", "across", "this", "item", "on", "the", "Internet", "."]
FIRST_UPOS = ["PRON", "VERB", "ADP", "DET", "NOUN", "ADP", "DET", "NOUN", "PUNCT"]
FIRST_HEADS = [2, 0, 5, 5, 2, 8, 8, 2, 2]
FIRST_RELATIONS = ["nsubj", "root", "case", "det", "obl", "case", "det", "obl", "punct"]
FIRST_LABELS = ["+1@VERB@nsubj", "-1@ROOT@root", "+1@NOUN@case", "+1@NOUN@det",
                "-1@VERB@obl", "+1@NOUN@case", "+1@NOUN@det", "-1@VERB@obl", "-1@VERB@punct"]

WITH_EMPTY_AND_MULTIWORD = """# sent_id = one
1	It	it	PRON	PRP	_	2	nsubj	_	_
2	works	work	VERB	VBZ	_	0	root	_	_

# sent_id = empty

# sent_id = two
1-2	dont	_	_	_	_	_	_	_	_
1	do	do	AUX	VBP	_	0	root	_	_
1.1	it	it	PRON	PRP	_	_	_	1:obj	_
2	nt	not	PART	RB	_	1	advmod	_	_

"""


def test_reads_tiny_with_labels_and_metadata():
    instances = list(DependencyLabelsDatasetReader().read(TINY))
    assert len(instances) == 12
    first = instances[0]
    assert set(first.fields) == {"tokens", "tags", "metadata"}
    assert [token.text for token in first["tokens"]] == FIRST_WORDS
    assert [token.pos_ for token in first["tokens"]] == FIRST_UPOS
    assert first["tags"].labels == FIRST_LABELS
    assert first["tags"]._label_namespace == "labels"
    assert first["metadata"].metadata == {
        "words": FIRST_WORDS, "pos": FIRST_UPOS,
        "gold_heads": FIRST_HEADS, "gold_relations": FIRST_RELATIONS,
    }


def test_is_registered_and_uses_language_specific_pos():
    reader = DatasetReader.by_name("dependency_labels")(use_language_specific_pos=True)
    first = next(iter(reader.read(TINY)))
    assert [token.pos_ for token in first["tokens"]][:3] == ["PRP", "VBD", "IN"]
    assert first["tags"].labels[:3] == ["+1@VBD@nsubj", "-1@ROOT@root", "+1@NN@case"]


def test_pos_can_be_indexed_from_tokens():
    reader = DependencyLabelsDatasetReader(token_indexers={
        "tokens": SingleIdTokenIndexer(),
        "pos": SingleIdTokenIndexer(namespace="pos", feature_name="pos_"),
    })
    instances = list(reader.read(TINY))
    vocab = Vocabulary.from_instances(instances)
    first = instances[0]
    first.index_fields(vocab)
    pos_ids = first["tokens"].as_tensor(first["tokens"].get_padding_lengths())["pos"]["tokens"]
    assert [vocab.get_token_from_index(int(i), "pos") for i in pos_ids] == FIRST_UPOS
    assert "+1@VERB@nsubj" in vocab.get_token_to_index_vocabulary("labels")


def test_text_to_instance_without_heads_has_no_tags():
    instance = DependencyLabelsDatasetReader().text_to_instance(["Hi", "!"], ["INTJ", "PUNCT"])
    assert set(instance.fields) == {"tokens", "metadata"}
    assert instance["metadata"].metadata == {"words": ["Hi", "!"], "pos": ["INTJ", "PUNCT"]}


def test_text_to_instance_needs_heads_and_relations_together():
    with pytest.raises(ValueError, match="^heads and relations must be given together$"):
        DependencyLabelsDatasetReader().text_to_instance(["Hi"], ["INTJ"], heads=[0])


def test_skips_empty_sentences_multiword_tokens_and_empty_nodes(tmp_path, caplog):
    path = tmp_path / "empty.conllu"
    path.write_text(WITH_EMPTY_AND_MULTIWORD)
    with caplog.at_level(logging.WARNING):
        instances = list(DependencyLabelsDatasetReader().read(str(path)))
    assert [instance["metadata"]["words"] for instance in instances] == [
        ["It", "works"], ["do", "nt"]
    ]
    assert instances[1]["tags"].labels == ["-1@ROOT@root", "-1@AUX@advmod"]
    assert "Skipped 1 sentences without words" in caplog.text
