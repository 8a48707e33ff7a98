"""Cut the small real-data sample shipped in ``fixtures/data`` from ``../shared/data``.

The sample is what ``make demo`` and the configs' default data paths use, so every
config runs from a fresh clone.  Sentences are drawn with a fixed seed, in file order,
from UNER English-EWT (NER) and UD English-EWT (parsing); both are CC BY-SA 4.0 and the
attribution is written next to the sample.

    python scripts/make_sample.py --data-dir ../shared/data --out fixtures/data
"""
import argparse
import logging
import random
from pathlib import Path
from typing import List

logger = logging.getLogger("make_sample")

SIZES = {"train": 1000, "dev": 250, "test": 250}

ATTRIBUTION = """\
# Real-data sample (CC BY-SA 4.0)

Cut by `scripts/make_sample.py` (seed {seed}) from the English Web Treebank as released
by Universal Dependencies: UD_English-EWT (dependency parsing, CoNLL-U) and UNER
English-EWT (named entities PER/LOC/ORG, IOB2, CoNLL-2003 four columns).

Attribution: UD_English-EWT contributors (Silveira et al. 2014, "A Gold Standard
Dependency Corpus for English"), and Mayhew et al. 2024, "Universal NER: A Gold-Standard
Multilingual Named Entity Recognition Benchmark". Licensed under the Creative Commons
Attribution-ShareAlike 4.0 International licence (LICENSE-CC-BY-SA-4.0.txt here); the
sample is redistributed under the same licence, unchanged except for the selection of
sentences.

| file | sentences | source |
| --- | --- | --- |
{rows}
"""


def read_blocks(path: Path, conll2003: bool) -> List[str]:
    """Sentences as text blocks (blank-line separated), without -DOCSTART- blocks."""
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    if conll2003:
        blocks = [b for b in blocks if not b.lstrip().startswith("-DOCSTART-")]
    return [b.strip("\n") for b in blocks]


def sample(blocks: List[str], n: int, rng: random.Random) -> List[str]:
    keep = sorted(rng.sample(range(len(blocks)), min(n, len(blocks))))
    return [blocks[i] for i in keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="fixtures/data")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data, out = Path(args.data_dir), Path(args.out)
    rng = random.Random(args.seed)
    rows = []
    for task, folder, stem, ext, conll2003 in [
        ("ner", "uner_ewt", "en_ewt-uner", "conll", True),
        ("dep", "ud_ewt", "en_ewt-ud", "conllu", False),
    ]:
        (out / folder).mkdir(parents=True, exist_ok=True)
        for split, n in SIZES.items():
            src = data / folder / f"{stem}-{split}.{ext}"
            chosen = sample(read_blocks(src, conll2003), n, rng)
            dst = out / folder / f"{split}.{ext}"
            dst.write_text("\n\n".join(chosen) + "\n\n", encoding="utf-8")
            rows.append(f"| `{folder}/{split}.{ext}` | {len(chosen)} | `{src.name}` |")
            logger.info("%s: %d sentences from %s", dst, len(chosen), src)
    (out / "README.md").write_text(ATTRIBUTION.format(seed=args.seed, rows="\n".join(rows)))
    license_src = data / "LICENSE-CC-BY-SA-4.0.txt"
    (out / "LICENSE-CC-BY-SA-4.0.txt").write_text(license_src.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
