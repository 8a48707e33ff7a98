"""Cut the shipped transfer sets (unlabeled EWT training sentences) from ``../shared/data``, and
copy the full EWT test sets beside the sample.

`make demo`'s students learn from 1,000 labeled sentences (``fixtures/data``, cut by
``make_sample.py``) and, in the transfer-set row, from other EWT training sentences for the
teacher to label: sentences of the same training files that are not in the sample (compared by
their words), drawn with a fixed seed, written with their words and UPOS only (no gold label can
leak into KD). `make demo` scores its models on the full EWT test sets (2,077 sentences each,
``test_full.*``) rather than the sample's 250: a demo row's difference then is not test-set noise.
CC BY-SA 4.0, attribution in ``fixtures/data/README.md``.

    python scripts/make_transfer_set.py --data-dir ../shared/data --out fixtures/data --size 4000
"""
import argparse
import logging
import random
from pathlib import Path
from typing import List, Tuple

logger = logging.getLogger("make_transfer_set")


def blocks(path: Path) -> List[str]:
    return [b.strip("\n") for b in path.read_text(encoding="utf-8").split("\n\n")
            if b.strip() and not b.lstrip().startswith("-DOCSTART-")]


def conll_sentence(block: str) -> List[Tuple[str, str]]:
    """(word, UPOS) of a four-column `word UPOS _ NER` block."""
    return [(line.split()[0], line.split()[1]) for line in block.splitlines()]


def conllu_sentence(block: str) -> List[Tuple[str, str]]:
    """(FORM, UPOS) of the word lines of a CoNLL-U block (no multi-word tokens, empty nodes)."""
    rows = [line.split("\t") for line in block.splitlines() if line and not line.startswith("#")]
    return [(r[1], r[3]) for r in rows if r[0].isdigit()]


def pick(source: Path, sample: Path, parse, size: int, seed: int) -> List[List[Tuple[str, str]]]:
    taken = {tuple(w for w, _ in parse(b)) for b in blocks(sample)}
    candidates = [s for s in map(parse, blocks(source)) if tuple(w for w, _ in s) not in taken]
    rng = random.Random(seed)
    keep = sorted(rng.sample(range(len(candidates)), min(size, len(candidates))))
    logger.info("%s: %d of %d sentences not in %s", source.name, len(keep), len(candidates), sample)
    return [candidates[i] for i in keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="fixtures/data")
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data, out = Path(args.data_dir), Path(args.out)
    ner = pick(data / "uner_ewt" / "en_ewt-uner-train.conll", out / "uner_ewt" / "train.conll",
               conll_sentence, args.size, args.seed)
    with open(out / "uner_ewt" / "transfer.conll", "w", encoding="utf-8") as f:
        for sentence in ner:
            f.write("".join(f"{word} {upos}\n" for word, upos in sentence) + "\n")
    for folder, name, ext in (("uner_ewt", "en_ewt-uner-test", "conll"), ("ud_ewt", "en_ewt-ud-test", "conllu")):
        text = (data / folder / f"{name}.{ext}").read_text(encoding="utf-8")
        (out / folder / f"test_full.{ext}").write_text(text, encoding="utf-8")
    dep = pick(data / "ud_ewt" / "en_ewt-ud-train.conllu", out / "ud_ewt" / "train.conllu",
               conllu_sentence, args.size, args.seed)
    with open(out / "ud_ewt" / "transfer.conllu", "w", encoding="utf-8") as f:
        for sentence in dep:
            f.write("".join(f"{i}\t{word}\t_\t{upos}\t_\t_\t_\t_\t_\t_\n"
                            for i, (word, upos) in enumerate(sentence, start=1)) + "\n")


if __name__ == "__main__":
    main()
