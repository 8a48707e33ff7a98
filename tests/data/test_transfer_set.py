"""Transfer sets: reading the four formats lazily, per-epoch samples and shares, and training
every distilled model with unlabeled sentences mixed in (KD only on them)."""
import json

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import DataLoader, DatasetReader, Vocabulary
from allennlp.models import Model

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.data.transfer_set import TransferSet, read_all, sentence_offsets
from allennlp_subkd.data.transfer_set_data_loader import unlabeled_instance
from allennlp_subkd.data.transfer_set import UnlabeledSentence

TRANSFER = "fixtures/transfer"
NER_STUDENT, NER_SOFTMAX = "fixtures/configs/ner_student.jsonnet", "fixtures/configs/ner_softmax_student.jsonnet"
DEP_STUDENT, DEP_TAGGER = "fixtures/configs/dep_student.jsonnet", "fixtures/configs/dep_tagger_student.jsonnet"


def words_of_conll(path):
    sentences, current = [], []
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(line.split()[0])
    return sentences + ([current] if current else [])


# --------------------------------------------------------------------------- reading


def test_the_four_formats_read_the_same_sentences():
    expected = words_of_conll(f"{TRANSFER}/tiny_ner.conll")
    tokens = list(read_all(f"{TRANSFER}/tiny.tokens", "tokens"))
    conll = list(read_all(f"{TRANSFER}/tiny_ner.conll", "conll"))
    assert [s.words for s in tokens] == [s.words for s in conll] == expected  # blank lines are no sentences
    assert tokens[0].pos is None
    # the second column of the four-column files is the UPOS tag
    assert conll[0].pos == [line.split()[1] for line in open(f"{TRANSFER}/tiny_ner.conll").read().split("\n\n")[0].splitlines()]
    text = list(read_all(f"{TRANSFER}/tiny.txt", "text"))
    assert len(text) == len(expected)
    assert text[0].words[:5] == ["Miramir", "is", "for", "real", ","]  # spaCy splits "real,"
    assert text[2].words[-1] == ":)"  # an emoticon stays one token


def test_conllu_reads_form_and_upos_only_and_never_the_gold_tree():
    sentences = list(read_all(f"{TRANSFER}/tiny.conllu", "conllu"))
    blocks = [b for b in open(f"{TRANSFER}/tiny.conllu", encoding="utf-8").read().split("\n\n") if b.strip()]
    assert len(sentences) == len(blocks) == 16
    first = [line.split("\t") for line in blocks[0].splitlines() if line[0].isdigit() and "-" not in line.split("\t")[0]
             and "." not in line.split("\t")[0]]
    assert sentences[0].words == [c[1] for c in first] and sentences[0].pos == [c[3] for c in first]
    instance = unlabeled_instance(DatasetReader.by_name("universal_dependencies")(), sentences[0])
    assert "head_tags" not in instance.fields and "head_indices" not in instance.fields  # HEAD/DEPREL ignored
    assert instance["metadata"]["pos"] == sentences[0].pos


def test_blank_and_whitespace_only_lines_are_skipped(tmp_path):
    path = tmp_path / "blank.tokens"
    path.write_text("\n  \t \nA b c\n\n\nD e\n   \n")
    assert [s.words for s in read_all(str(path), "tokens")] == [["A", "b", "c"], ["D", "e"]]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n\t\n")
    with pytest.raises(ConfigurationError, match=r"holds no sentence \(text format\)"):
        len(TransferSet(str(empty), "text"))


def test_bad_transfer_set_configurations(tmp_path):
    with pytest.raises(ConfigurationError, match=r"unknown transfer-set format 'jsonl': use one of 'text', 'tokens', 'conll', 'conllu'"):
        TransferSet(f"{TRANSFER}/tiny.tokens", "jsonl")
    with pytest.raises(ConfigurationError, match="does not exist"):
        TransferSet(str(tmp_path / "missing.txt"), "text")
    with pytest.raises(ConfigurationError, match="sentences_per_epoch must be an integer >= 1"):
        TransferSet(f"{TRANSFER}/tiny.tokens", "tokens", sentences_per_epoch=0)


def test_each_epoch_a_fresh_sample_and_each_worker_its_share():
    transfer = TransferSet(f"{TRANSFER}/tiny.tokens", "tokens", sentences_per_epoch=10, seed=3)
    assert len(transfer) == 16 and len(sentence_offsets(f"{TRANSFER}/tiny.tokens", "tokens")) == 16
    first, second = transfer.epoch_sample(0), transfer.epoch_sample(1)
    assert len(first) == len(set(first)) == 10 and first != second
    assert transfer.epoch_sample(0) == first  # a resumed epoch draws the same sample
    shares = [transfer.epoch_sample(1, rank, 3) for rank in range(3)]
    assert sorted(sum(shares, [])) == sorted(second) and [len(s) for s in shares] == [4, 3, 3]
    everything = TransferSet(f"{TRANSFER}/tiny.tokens", "tokens")
    assert sorted(everything.epoch_sample(0)) == list(range(16))


def test_raw_text_for_a_student_that_reads_pos_tags_is_a_clear_error():
    words = UnlabeledSentence(["A", "b"])
    for name in ("universal_dependencies", "dependency_labels"):
        with pytest.raises(ConfigurationError, match="reads UPOS tags .* but the transfer set has none"):
            unlabeled_instance(DatasetReader.by_name(name)(), words)
    embeds = DatasetReader.by_name("conll2003")(feature_labels=["pos"])
    with pytest.raises(ConfigurationError, match=r"embeds POS tags \(feature_labels: pos\), but the transfer set has none"):
        unlabeled_instance(embeds, words)
    with pytest.raises(ConfigurationError, match="not SequenceTaggingDatasetReader"):
        unlabeled_instance(DatasetReader.by_name("sequence_tagging")(), words)


# --------------------------------------------------------------------------- training


def transfer_loader(path, fmt, per_epoch=None, batch_size=5, **extra):
    return {"type": "transfer_set", "batch_size": batch_size,
            "transfer_set": {"path": path, "format": fmt, "sentences_per_epoch": per_epoch, **extra}}


CASES = {
    "crf_tagger": (NER_STUDENT, f"{TRANSFER}/tiny.txt", "text", {"type": "structural"}),
    "simple_tagger": (NER_SOFTMAX, f"{TRANSFER}/tiny_ner.conll", "conll", {"type": "posterior"}),
    "biaffine_parser": (DEP_STUDENT, f"{TRANSFER}/tiny.conllu", "conllu", {"type": "structural"}),
    "dependency_tagger": (DEP_TAGGER, f"{TRANSFER}/tiny.conllu", "conllu", {"type": "structural"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_distilled_model_trains_with_a_transfer_set(name, tmp_path):
    config, path, fmt, distillation = CASES[name]
    overrides = {"data_loader": transfer_loader(path, fmt, per_epoch=8), "model.distillation": distillation,
                 "trainer.num_epochs": 2}
    model = train_model_from_file(config, str(tmp_path / "run"), overrides=json.dumps(overrides))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0
    transfer = TransferSet(path, fmt)
    taught = {key[1][0] if isinstance(key[1][0], tuple) else key[1] for key in model.teacher.cache._entries}
    sampled = {tuple(s.words) for s in transfer.sentences(transfer.epoch_sample(0)[:8] + transfer.epoch_sample(1)[:8])}
    assert sampled <= taught  # the teacher labelled every sampled unlabeled sentence


def build(config, loader, distillation=None, teacher=...):
    params = Params.from_file(config, json.dumps({"data_loader": loader}))
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    data = DataLoader.from_params(params.pop("data_loader"), reader=reader, data_path=params.pop("train_data_path"))
    vocab = Vocabulary.from_instances(data.iter_instances())
    data.index_with(vocab)
    model_params = params.pop("model")
    if distillation is not None:
        model_params["distillation"] = distillation
    if teacher is not ...:
        model_params["teacher"] = teacher
    return Model.from_params(vocab=vocab, params=model_params), data


def test_an_unlabeled_batch_is_kd_only_with_its_weight_and_a_labeled_one_is_unchanged():
    model, data = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens", per_epoch=6),
                        {"type": "structural", "alpha": 0.3, "unlabeled_weight": 0.25})
    model.train()
    batches = list(data)
    labeled = [b for b in batches if "tags" in b]
    unlabeled = [b for b in batches if "tags" not in b]
    assert len(unlabeled) == 2 and len(labeled) == len(batches) - 2 == len(data) - 2
    for batch in unlabeled:
        torch.manual_seed(0)
        output = model(**batch)
        assert output["loss"].item() == pytest.approx(0.25 * output["kd_loss"].item(), rel=1e-6)
    batch = labeled[0]
    torch.manual_seed(0)
    output = model(**batch)
    torch.manual_seed(0)
    gold = -model.crf(output["logits"], batch["tags"], output["mask"])
    assert output["loss"].item() == pytest.approx((0.7 * gold + 0.3 * output["kd_loss"]).item(), rel=1e-5)


def test_the_transfer_sets_words_enter_the_vocabulary_unless_told_not_to():
    only_unlabeled = "Miramir"  # in the transfer set, not in the labeled fixture
    with_words, _ = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens"))
    without, _ = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens", vocabulary=False))
    assert only_unlabeled in with_words.vocab.get_token_to_index_vocabulary("tokens")
    assert only_unlabeled not in without.vocab.get_token_to_index_vocabulary("tokens")


def test_the_epoch_callback_sets_the_loaders_epoch_sample():
    _, data = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens", per_epoch=5))

    def unlabeled_words():
        return sorted(tuple(m["words"]) for b in data if "tags" not in b for m in b["metadata"])

    data.set_epoch(4)
    fourth = unlabeled_words()
    data.set_epoch(4)  # what a run resumed at epoch 4 sees
    assert unlabeled_words() == fourth
    assert unlabeled_words() != fourth  # then epoch 5: another sample


def test_a_transfer_set_without_a_teacher_is_a_clear_error(tmp_path):
    overrides = {"data_loader": transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens"),
                 "model.teacher": None, "model.distillation": None}
    with pytest.raises(ConfigurationError, match="has nothing to learn from without a teacher"):
        train_model_from_file(NER_STUDENT, str(tmp_path / "run"), overrides=json.dumps(overrides))


def test_an_ensemble_teaches_the_transfer_set():
    teacher = {"archive": ["fixtures/teachers/ner_crf_teacher.tar.gz", "fixtures/teachers/ner_softmax_teacher.tar.gz"]}
    model, data = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens", per_epoch=5),
                        {"type": "structural", "alpha": 0.5}, teacher)
    model.train()
    batch = next(b for b in data if "tags" not in b)
    output = model(**batch)
    assert output["kd_loss"] > 0 and all(len(member.cache) == 5 for member in model.teachers)


@pytest.mark.parametrize("config, teacher, labeled, transfer, fmt", [
    (NER_STUDENT, "fixtures/teachers/ner_crf_teacher.tar.gz", "fixtures/ner/tiny.conll", f"{TRANSFER}/tiny.txt", "text"),
    (DEP_TAGGER, "fixtures/teachers/tiny_dep_teacher.tar.gz", "fixtures/dep/tiny.conllu", f"{TRANSFER}/tiny.conllu", "conllu"),
], ids=["tagger-text", "dependency-tagger-conllu"])
def test_fill_teacher_cache_reads_the_same_transfer_files(config, teacher, labeled, transfer, fmt, tmp_path, monkeypatch):
    """`fill-teacher-cache --format` caches a transfer set's sentences as the students read
    them: training with the labeled file and the transfer set then runs no teacher forward."""
    from allennlp_subkd.commands.fill_teacher_cache import fill_teacher_cache
    from allennlp_subkd.distillation.tasks import parser, tagger

    cache = tmp_path / "cache"
    adapter = "dependency_labels" if config == DEP_TAGGER else None
    fill_teacher_cache(teacher, labeled, str(cache), adapter=adapter)
    counts = fill_teacher_cache(teacher, transfer, str(cache), adapter=adapter, transfer_format=fmt)
    assert counts["sentences"] == 16 and counts["computed"] > 0  # some may be labeled sentences already

    def forbidden(*args, **kwargs):
        raise AssertionError("the teacher ran although its outputs are in the disk cache")

    monkeypatch.setattr(tagger, "tagger_teacher_outputs", forbidden)
    monkeypatch.setattr(parser, "parser_teacher_outputs", forbidden)
    overrides = {"data_loader": transfer_loader(transfer, fmt), "trainer.num_epochs": 1,
                 "model.teacher": {"archive": teacher, "cache": {"dir": str(cache)}}}
    model = train_model_from_file(config, str(tmp_path / "run"), overrides=json.dumps(overrides))
    assert model.teacher.disk.misses == 0 and model.teacher.disk.hits > 16
    with pytest.raises(ConfigurationError, match="unknown transfer-set format 'csv'"):
        fill_teacher_cache(teacher, transfer, str(cache), transfer_format="csv")


def test_validation_and_evaluation_loops_get_the_labeled_batches_only():
    """AllenNLP builds the validation and test loaders from the training loader's params when the
    config has no validation_data_loader, and runs them under torch.no_grad(): those get the
    labeled batches alone (an unlabeled batch has no loss to validate)."""
    _, data = build(NER_STUDENT, transfer_loader(f"{TRANSFER}/tiny.tokens", "tokens", per_epoch=6))
    with torch.no_grad():
        batches = list(data)
        assert len(data) == len(batches)
    assert batches and all("tags" in b for b in batches)
    assert len(data) == len(batches) + 2 and sum("tags" not in b for b in data) == 2
