"""Write `fixtures/sdp/tiny.sdp`: semantic-dependency graphs in the SemEval 2015 format that
allennlp-models' `semantic_dependencies` reader reads, made from the enhanced dependencies
(CoNLL-U column DEPS: a word may have several heads) of the shipped UD English-EWT sample
(CC BY-SA 4.0, see fixtures/data/README.md). Used by the graph-parser worked example.

    python scripts/make_sdp_fixture.py [--sentences 24]
"""
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def graphs(conllu: str):
    """(words, upos, xpos-free syntactic heads, relations, enhanced arcs [(dependent, head, label)])."""
    for block in conllu.split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if line and not line.startswith("#")]
        rows = [r for r in rows if r[0].isdigit()]  # no multi-word tokens, no empty nodes
        if not rows:
            continue
        arcs = []
        for r in rows:
            for item in r[8].split("|"):
                head, _, label = item.partition(":")
                if head.isdigit() and head != "0":
                    arcs.append((int(r[0]), int(head), label))
        yield rows, arcs


def to_sdp(rows, arcs) -> str:
    predicates = sorted({head for _, head, _ in arcs})
    column = {head: i for i, head in enumerate(predicates)}
    lines = []
    for r in rows:
        word = int(r[0])
        args = ["_"] * len(predicates)
        for dependent, head, label in arcs:
            if dependent == word:
                args[column[head]] = label
        top = "+" if r[6] == "0" else "-"
        pred = "+" if word in column else "-"
        lines.append("\t".join([r[0], r[1], r[2], r[3], r[6], r[7], top, pred, "_", *args]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sentences", type=int, default=24)
    args = parser.parse_args()
    text = (ROOT / "fixtures" / "data" / "ud_ewt" / "dev.conllu").read_text(encoding="utf-8")
    blocks = [to_sdp(rows, arcs) for rows, arcs in graphs(text) if arcs and len(rows) <= 20][: args.sentences]
    out = ROOT / "fixtures" / "sdp" / "tiny.sdp"
    out.write_text("#SDP 2015\n" + "\n\n".join(blocks) + "\n\n", encoding="utf-8")
    print(f"wrote {out} ({len(blocks)} sentences)")


if __name__ == "__main__":
    main()
