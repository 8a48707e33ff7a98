"""Every shipped training config parses, points at files in the repo, and trains (for one
epoch on the tiny fixture, through the same `-o` overrides a user would pass)."""
import json
from pathlib import Path

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params

import allennlp_subkd  # noqa: F401
from tests.transformers.tiny_bert import build_tiny_bert, conll_words

CONFIGS = sorted(Path("training_configs").glob("*.jsonnet")) if Path("training_configs").exists() else []
CONFIGS = CONFIGS or sorted((Path(__file__).parent.parent / "training_configs").glob("*.jsonnet"))
TINY = {"ner": "fixtures/ner/tiny.conll", "dep": "fixtures/dep/tiny.conllu"}


def names():
    return [c.stem for c in CONFIGS]


@pytest.mark.parametrize("name", names())
def test_config_defaults_point_at_files_in_the_repository(name):
    params = Params.from_file(f"training_configs/{name}.jsonnet").as_dict()
    for key in ("train_data_path", "validation_data_path", "test_data_path"):
        assert Path(params[key]).is_file(), (key, params[key])
    teacher = params["model"].get("teacher", {}).get("archive")
    if "kd" in name:
        assert teacher and Path(teacher).is_file()
        assert "distillation" in params["model"]
        assert {"type": "distillation_epoch"} in params["trainer"]["callbacks"]


@pytest.mark.parametrize("name", names())
def test_config_trains_with_overridden_data(name, tmp_path):
    data = TINY[name.split("_")[0]]
    overrides = {
        "train_data_path": data,
        "validation_data_path": data,
        "test_data_path": data,
        "trainer.num_epochs": 1,
    }
    if name.startswith("dep_") and "kd" in name:
        # the sample-trained default teacher knows relations the tiny file lacks
        overrides["model.teacher.archive"] = "fixtures/teachers/tiny_dep_teacher.tar.gz"
    params = Params.from_file(f"training_configs/{name}.jsonnet").as_dict()
    embedders = params["model"]["text_field_embedder"]["token_embedders"]
    transformer, subwords = embedders.get("transformer"), embedders.get("subwords")
    if transformer or subwords:
        # a tiny BERT in place of the 90 MB all-MiniLM-L6-v2 (hidden 8 instead of 384), with as
        # many layers as a truncated student keeps
        layers = (transformer or {}).get("layers") or 1
        depth = layers if isinstance(layers, int) else max(layers) + 1
        tiny_bert = str(build_tiny_bert(tmp_path / "tiny_bert", conll_words(data), layers=depth))
        extra = embedders.get("casing", {}).get("embedding_dim", 0) + \
            embedders.get("token_characters", {}).get("encoder", {}).get("num_filters", 0) + \
            params["model"].get("pos_tag_embedding", {}).get("embedding_dim", 0)
    if transformer:
        overrides["dataset_reader.token_indexers.transformer.model_name"] = tiny_bert
        overrides["model.text_field_embedder.token_embedders.transformer.model_name"] = tiny_bert
        overrides["model.encoder.input_dim"] = 8 + extra
    if subwords:  # the static_subword embedder: the tiny BERT's table (8-dim) below the BiLSTM
        overrides["model.text_field_embedder.token_embedders.subwords.pretrained_file"] = tiny_bert
        overrides["model.text_field_embedder.token_embedders.subwords.embedding_dim"] = 8
        overrides["model.encoder.input_size"] = (subwords.get("projection_dim") or 8) + extra
    out = tmp_path / "out"
    model = train_model_from_file(f"training_configs/{name}.jsonnet", out, overrides=json.dumps(overrides))
    assert (out / "model.tar.gz").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert "test_loss" in metrics or any(k.startswith("test_") for k in metrics)
    if "kd" in name:
        assert model.teacher is not None and model.teacher.loaded
        assert metrics["training_kd_loss"] > 0


PRESETS = [(n, p) for n in names() for p in ("static_subword", "minilm_l3") if f"_{p}_" in n]


@pytest.mark.parametrize("name,preset_name", PRESETS)
def test_a_student_preset_differs_from_the_tiny_students_config_only_in_the_student(name, preset_name):
    """ner_static_subword_struct_kd is ner_struct_kd with another student: the same objective,
    teacher, data (and trainer, but for a transformer student's AdamW with warm-up); the preset's
    indexer and embedder instead of word ids."""
    task, rest = name.split(f"_{preset_name}_")
    preset = Params.from_file(f"training_configs/{name}.jsonnet").as_dict()
    tiny = Params.from_file(f"training_configs/{task}_{rest}.jsonnet").as_dict()
    for key in ("train_data_path", "validation_data_path", "test_data_path", "data_loader"):
        assert preset[key] == tiny[key], key
    for key in ("type", "teacher", "distillation", "gold_loss"):
        assert preset["model"].get(key) == tiny["model"].get(key), key
    indexers = preset["dataset_reader"]["token_indexers"]
    embedders = preset["model"]["text_field_embedder"]["token_embedders"]
    assert "tokens" not in indexers
    if preset_name == "static_subword":
        assert preset["trainer"] == tiny["trainer"]
        assert embedders["subwords"]["type"] == "static_subword" and "subwords" in indexers
    else:
        assert preset["trainer"]["optimizer"]["type"] == "huggingface_adamw"
        assert preset["trainer"]["callbacks"] == tiny["trainer"]["callbacks"]
        assert preset["trainer"]["num_epochs"] == tiny["trainer"]["num_epochs"]
        assert embedders["transformer"]["layers"] == 3 and "transformer" in indexers


def test_an_unknown_student_preset_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.jsonnet"
    config.write_text(f"local lib = import '{Path('training_configs/common.libsonnet').resolve()}';\n"
                      "lib.ner_kd(lib.ner_objectives.structural, student='huge')\n")
    with pytest.raises(Exception, match="unknown student preset huge"):
        Params.from_file(str(config))


def test_the_renamed_transformer_preset_names_its_new_name_and_the_depth_override(tmp_path):
    config = tmp_path / "old.jsonnet"
    config.write_text(f"local lib = import '{Path('training_configs/common.libsonnet').resolve()}';\n"
                      "lib.dep_kd(null, student='minilm_l2')\n")
    with pytest.raises(Exception, match=r"'minilm_l2' is now 'minilm_l3'.*transformer.layers\": 2"):
        Params.from_file(str(config))


@pytest.mark.parametrize("name", names())
def test_every_character_cnn_reads_at_most_50_characters_a_word(name):
    """The shipped configs cap the characters of a word (`capped_characters`, 50): one long token
    must not widen its whole batch; the dataset reader's indexer is what `allennlp predict` uses."""
    params = Params.from_file(f"training_configs/{name}.jsonnet").as_dict()
    for reader in ("dataset_reader", "validation_dataset_reader"):
        indexers = params.get(reader, {}).get("token_indexers", {})
        for indexer in indexers.values():
            assert indexer["type"] != "characters", (reader, indexer)
            if indexer["type"] == "capped_characters":
                assert indexer["max_characters"] == 50 and indexer["min_padding_length"] == 3


def test_a_null_character_cap_gives_back_allennlps_characters_and_a_bad_one_is_refused(tmp_path):
    library = Path("training_configs/common.libsonnet").resolve()
    config = tmp_path / "uncapped.jsonnet"
    config.write_text(f"local lib = (import '{library}') + {{ max_token_characters:: null }};\n"
                      "lib.ner_kd(lib.ner_objectives.structural, student='static_subword')\n")
    indexer = Params.from_file(str(config)).as_dict()["dataset_reader"]["token_indexers"]["token_characters"]
    assert indexer == {"type": "characters", "min_padding_length": 3}
    config.write_text(f"local lib = (import '{library}') + {{ max_token_characters:: 2 }};\n"
                      "lib.ner_kd(lib.ner_objectives.structural, student='static_subword')\n")
    params = Params.from_file(str(config)).as_dict()
    from allennlp.data import DatasetReader
    from allennlp.common.checks import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"max_characters \(2\) is below min_padding_length \(3"):
        DatasetReader.from_params(Params(params["dataset_reader"]))
