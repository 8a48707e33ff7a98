"""How far a second-order parser's MFVI head marginals are from the exact ones (`make bench-mfvi`).

    python benchmarks/mfvi_gap.py [--archive A.tar.gz] [--data dev.conllu] [--max-words 6]

A trained `second_order_biaffine_parser` scores the short sentences (at most `--max-words`
words) of a CoNLL-U file; for each, its first-order arc scores and sibling scores give

- the MFVI marginals q after 1, 2, 3 (the model's own), 5 and 10 updates
  (`structures.second_order.mean_field`);
- the exact marginals of the distribution MFVI approximates, over every head assignment
  (`enumerate_marginals`), and of the same scores restricted to single-root trees
  (`trees=True`), by enumerating all `n^n` assignments.

Per word, the total variation ½ Σ_h |q(h) - p(h)| and whether the most probable heads agree,
averaged over the words; one JSON (`benchmarks/results/mfvi_gap.json`), rendered by
`benchmarks/report.py`. No training: seconds to minutes on one CPU.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from allennlp.common.util import import_module_and_submodules
from allennlp.data import Batch
from allennlp.models.archival import load_archive

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import git_commit, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ITERATIONS = (1, 2, 3, 5, 10)


def sentence_scores(model, instance):
    """`(arcs [n+1, n+1], siblings [n+1, n+1, n+1], mask [1, n+1])` of one sentence (eval mode)."""
    scorer = model.arc_attention
    seen = {}
    hook = scorer.biaffine.register_forward_hook(lambda m, i, o: seen.update(arcs=o, inputs=i))
    batch = Batch([instance])
    batch.index_instances(model.vocab)
    tensors = batch.as_tensor_dict()
    try:
        with torch.no_grad():
            output = model(**tensors)
            siblings = scorer.siblings(*seen["inputs"])
    finally:
        hook.remove()
    return seen["arcs"].double(), siblings.double(), output["mask"].bool()


def compare(q: torch.Tensor, p: torch.Tensor, n: int):
    """Per word: total variation and agreement of the argmax heads."""
    q, p = q[1 : n + 1, : n + 1], p[1 : n + 1, : n + 1]
    tv = 0.5 * (q - p).abs().sum(-1)
    agree = (q.argmax(-1) == p.argmax(-1)).double()
    return tv.tolist(), agree.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--archive", default=str(ROOT / "fixtures/teachers/dep_second_order_teacher.tar.gz"))
    parser.add_argument("--data", default=str(ROOT / "fixtures/data/ud_ewt/dev.conllu"))
    parser.add_argument("--max-words", type=int, default=6)
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/mfvi_gap.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    import_module_and_submodules("allennlp_subkd")
    from allennlp_subkd.structures import second_order

    started = time.perf_counter()
    archive = load_archive(args.archive)
    model = archive.model.eval()
    reader = archive.dataset_reader
    sentences = [i for i in reader.read(args.data) if 1 <= len(i["words"]) <= args.max_words]
    measures = {f"mfvi{k}": {"assignments": ([], []), "trees": ([], [])} for k in ITERATIONS}
    tree_vs_assignments = ([], [])
    for instance in sentences:
        arcs, siblings, mask = sentence_scores(model, instance)
        n = int(mask.sum()) - 1
        exact = second_order.enumerate_marginals(arcs[0], siblings[0], n)
        trees = second_order.enumerate_marginals(arcs[0], siblings[0], n, trees=True)
        for tv, agree in [compare(trees, exact, n)]:
            tree_vs_assignments[0].extend(tv)
            tree_vs_assignments[1].extend(agree)
        for k in ITERATIONS:
            _, q = second_order.mean_field(arcs, siblings, mask, k)
            for name, reference in (("assignments", exact), ("trees", trees)):
                tv, agree = compare(q[0], reference, n)
                measures[f"mfvi{k}"][name][0].extend(tv)
                measures[f"mfvi{k}"][name][1].extend(agree)
    rows = []
    for k in ITERATIONS:
        for name in ("assignments", "trees"):
            tv, agree = measures[f"mfvi{k}"][name]
            rows.append({"iterations": k, "reference": name, "words": len(tv),
                         "mean_tv": statistics.mean(tv), "max_tv": max(tv), "argmax_agreement": statistics.mean(agree)})
    result = {
        "meta": {
            "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
            "archive": os.path.relpath(Path(args.archive).resolve(), ROOT),
            "data": Path(args.data).name,
            "max_words": args.max_words,
            "sentences": len(sentences),
            "model_iterations": model.arc_attention.iterations,
            "git_commit": git_commit(),
            "machine": machine(),
            "date": datetime.date.today().isoformat(),
            "wall_seconds": time.perf_counter() - started,
        },
        "rows": rows,
        "exact_trees_vs_assignments": {"mean_tv": statistics.mean(tree_vs_assignments[0]),
                                       "argmax_agreement": statistics.mean(tree_vs_assignments[1])},
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["rows"], indent=1))  # noqa: T201 (a benchmark script)


if __name__ == "__main__":
    main()
