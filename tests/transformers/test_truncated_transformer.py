"""A truncated-transformer student: `offline_transformer_mismatched` with `layers` (the first k
layers of the teacher's transformer, or a chosen subset), with a 3-layer tiny BERT."""
import pytest
import torch
from allennlp.common import Params, cached_transformers
from allennlp.common.checks import ConfigurationError
from allennlp.commands.train import train_model
from allennlp.models.archival import load_archive
from allennlp.modules.token_embedders import TokenEmbedder
from transformers import AutoModel

import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.modules import OfflineTransformerMismatchedEmbedder
from tests.transformers.test_offline_transformer import TINY, embed_offline, transformer_tagger_params
from tests.transformers.tiny_bert import build_tiny_bert, conll_words

LAYERS = 3


@pytest.fixture
def tiny_bert(tmp_path):
    cached_transformers._clear_caches()
    yield str(build_tiny_bert(tmp_path / "tiny_bert", conll_words(TINY), layers=LAYERS))
    cached_transformers._clear_caches()


def embedder(name: str, **args) -> OfflineTransformerMismatchedEmbedder:
    return TokenEmbedder.from_params(Params({"type": "offline_transformer_mismatched", "model_name": name, **args}))


def transformer_of(module) -> torch.nn.Module:
    return module._matched_embedder.transformer_model


def run_layers(full, ids, input_ids, attention_mask) -> torch.Tensor:
    """The full model's embeddings, then its layers `ids` in that order (same weights)."""
    hidden = full.embeddings(input_ids=input_ids)
    extended = full.get_extended_attention_mask(attention_mask, input_ids.shape)
    for i in ids:
        hidden = full.encoder.layer[i](hidden, attention_mask=extended)[0]
    return hidden


@pytest.mark.parametrize("layers, ids", [(2, (0, 1)), (1, (0,)), ([0, 2], (0, 2)), ([2, 0], (2, 0)), (LAYERS, (0, 1, 2))])
def test_the_kept_layers_compute_what_the_full_model_computes_with_them(tiny_bert, layers, ids):
    student = embedder(tiny_bert, layers=layers)
    assert student.layer_ids == ids
    model = transformer_of(student)
    assert len(model.encoder.layer) == model.config.num_hidden_layers == len(ids)
    full = AutoModel.from_pretrained(tiny_bert).eval()
    model.eval()
    torch.manual_seed(0)
    input_ids = torch.randint(5, model.config.vocab_size, (2, 7))
    attention_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    with torch.no_grad():
        got = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        expected = run_layers(full, ids, input_ids, attention_mask)
        if ids == tuple(range(len(ids))):  # the first k layers: the full model's k-th hidden states
            hidden = full(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states
            assert torch.allclose(expected, hidden[len(ids)], atol=1e-6)
    assert torch.allclose(got, expected, atol=1e-6)
    # each kept layer is the full model's layer (same weights, not re-initialised)
    for kept, i in zip(model.encoder.layer, ids):
        assert all(torch.equal(a, b) for a, b in zip(kept.state_dict().values(), full.encoder.layer[i].state_dict().values()))


def test_all_layers_embed_as_the_full_model_and_the_cached_model_stays_whole(tiny_bert):
    words = ["What", "do", "you", "eat", "in", "Miramar", "?"]
    assert torch.allclose(embed_offline(tiny_bert, words), embedder_output(tiny_bert, words, list(range(LAYERS))))
    cached = [model for spec, model in cached_transformers._model_cache.items() if spec.model_name == tiny_bert]
    assert len(cached) == 1 and len(cached[0].encoder.layer) == cached[0].config.num_hidden_layers == LAYERS


def embedder_output(name, words, layers):
    from allennlp.data import Batch, Instance, TokenIndexer, Vocabulary
    from allennlp.data.fields import TextField
    from allennlp.data.tokenizers import Token

    indexer = TokenIndexer.from_params(Params({"type": "offline_transformer_mismatched", "model_name": name}))
    batch = Batch([Instance({"tokens": TextField([Token(w) for w in words], {"transformer": indexer})})])
    batch.index_instances(Vocabulary())
    module = embedder(name, layers=layers).eval()
    with torch.no_grad():
        return module(**batch.as_tensor_dict()["tokens"]["transformer"])


def test_a_scalar_mix_over_the_kept_layers(tiny_bert):
    student = embedder(tiny_bert, layers=[0, 2], last_layer_only=False)
    assert len(student._matched_embedder._scalar_mix.scalar_parameters) == 2
    assert embedder_output(tiny_bert, ["What", "do"], [0, 2]).shape == (1, 2, 8)


def tagger(name, layers=None):
    params = transformer_tagger_params(name)
    params["model"]["type"] = "crf_tagger"
    params["trainer"]["num_epochs"] = 1
    if layers is not None:
        params["model"]["text_field_embedder"]["token_embedders"]["transformer"]["layers"] = layers
    return params


def num_layers(archive) -> int:
    model = load_archive(str(archive)).model
    return len(model.text_field_embedder.token_embedder_transformer._matched_embedder.transformer_model.encoder.layer)


def test_a_full_teacher_and_a_truncated_student_in_one_process_in_either_order(tiny_bert, tmp_path):
    """AllenNLP caches transformers by name, not by `transformer_kwargs`: a student with
    `num_hidden_layers: 1` there would make the full teacher's archive fail to load (or get the
    full model itself). With `layers` the cache only ever holds the full model."""
    train_model(tagger(tiny_bert), str(tmp_path / "teacher"))
    teacher = tmp_path / "teacher" / "model.tar.gz"
    # the teacher first, then the student is built, trained and loaded, then the teacher again
    cached_transformers._clear_caches()
    assert num_layers(teacher) == LAYERS
    train_model(tagger(tiny_bert, layers=1), str(tmp_path / "student"))
    student = tmp_path / "student" / "model.tar.gz"
    assert num_layers(student) == 1
    assert num_layers(teacher) == LAYERS
    # the student first (a fresh process's cache), then the teacher
    cached_transformers._clear_caches()
    assert num_layers(student) == 1
    assert num_layers(teacher) == LAYERS
    assert num_layers(student) == 1
    state = load_archive(str(student)).model.state_dict()
    assert not [key for key in state if ".layer.1." in key]


def test_bad_layers(tiny_bert):
    for layers, message in [
        (0, "layers: 0 keeps no transformer layer: .* use the `static_subword` indexer and embedder"),
        ([], r"layers: \[\] keeps no transformer layer: .*`static_subword`"),
        (LAYERS + 1, f"layers: {LAYERS + 1}, but the transformer has {LAYERS} layers"),
        (-1, f"layers: -1, but the transformer has {LAYERS} layers"),
        ([0, LAYERS], rf"layers \[0, {LAYERS}\]: \[{LAYERS}\] out of range: the transformer's layers are 0..{LAYERS - 1}"),
        ([-1, 1], r"\[-1\] out of range"),
        ([0, 1, 0], r"layers \[0, 1, 0\]: \[0\] repeated"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            embedder(tiny_bert, layers=layers)
    for layers in (True, 1.5, "2"):
        with pytest.raises(ConfigurationError, match="layers must be a number of layers or a list"):
            OfflineTransformerMismatchedEmbedder(tiny_bert, layers=layers)
    with pytest.raises(ConfigurationError, match="give offline_transformer_mismatched `layers` instead"):
        embedder(tiny_bert, transformer_kwargs={"num_hidden_layers": 1})
    with pytest.raises(ConfigurationError, match="neither a known offline model"):
        embedder("bert-base-uncased", layers=1)
    assert not cached_transformers._model_cache  # every bad input refused before any model is loaded
