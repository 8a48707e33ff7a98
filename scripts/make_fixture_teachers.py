"""Build the small teacher archives in ``fixtures/teachers`` (committed; rebuild with this).

    python scripts/make_fixture_teachers.py

| archive | model | inputs | trained on | used by |
| --- | --- | --- | --- | --- |
| ner_crf_teacher | crf_tagger | words + chars | the NER sample | configs' default teacher, tests (re-indexed inputs) |
| ner_softmax_teacher | simple_tagger | words + chars | the NER sample | softmax-teacher config, tests |
| tiny_simple_teacher | simple_tagger | words | fixtures/ner/tiny.conll | tests (inputs reused as they are) |
| tiny_crf_teacher_reordered | crf_tagger | words | tiny_reordered.conll | tests (labels in another order) |
| tiny_crf_teacher_misc | crf_tagger | words | tiny_misc.conll | tests (a label set with MISC) |
| ner_span_teacher | biaffine_span_tagger | words + chars | the NER sample | span-teacher configs' default teacher, tests |
| tiny_span_teacher | biaffine_span_tagger | words | fixtures/ner/tiny.conll | tests (scenario 4, inputs reused) |
| tiny_span_teacher_misc | biaffine_span_tagger | words | tiny_misc.conll | tests (a label set with MISC) |
| dep_teacher | biaffine_parser | words + chars + POS | the UD sample | parsing configs' default teacher, tagger tests (wrong task) |
| tiny_dep_teacher | biaffine_parser | words + chars + POS | fixtures/dep/tiny_teacher.conllu | parser tests (other embedder and vocabulary) |
| tiny_dep_teacher_extra_label | biaffine_parser | words + POS | tiny_extra_label.conllu | parser tests (an extra relation, dep) |
| dep_second_order_teacher | second_order_biaffine_parser | words + chars + POS | the UD sample | second-order configs' default teacher |
| tiny_second_order_teacher | second_order_biaffine_parser | words + chars + POS | fixtures/dep/tiny_teacher.conllu | tests (case 2b, MFVI teacher) |

Only some: ``python scripts/make_fixture_teachers.py dep_teacher tiny_dep_teacher``.
"""
import logging
import os
import shutil
import sys
import tempfile

from allennlp.commands.train import train_model_from_file
from allennlp.common.util import import_module_and_submodules

TEACHERS = {
    "ner_crf_teacher": ("crf_tagger", "words_and_chars", "fixtures/data/uner_ewt/train.conll", 3),
    "ner_softmax_teacher": ("simple_tagger", "words_and_chars", "fixtures/data/uner_ewt/train.conll", 3),
    "tiny_simple_teacher": ("simple_tagger", "words", "fixtures/ner/tiny.conll", 2),
    "tiny_crf_teacher_reordered": ("crf_tagger", "words", "fixtures/ner/tiny_reordered.conll", 2),
    "tiny_crf_teacher_misc": ("crf_tagger", "words", "fixtures/ner/tiny_misc.conll", 2),
    "ner_span_teacher": ("biaffine_span_tagger", "words_and_chars", "fixtures/data/uner_ewt/train.conll", 3),
    "tiny_span_teacher": ("biaffine_span_tagger", "words", "fixtures/ner/tiny.conll", 2),
    "tiny_span_teacher_misc": ("biaffine_span_tagger", "words", "fixtures/ner/tiny_misc.conll", 2),
}
TAGGER_CONFIG = "fixtures/configs/tiny_teacher.jsonnet"

# parser teachers: the same spec, trained with their own config
PARSER_TEACHERS = {
    "dep_teacher": ("biaffine_parser", "words_and_chars", "fixtures/data/ud_ewt/train.conllu", 3),
    "tiny_dep_teacher": ("biaffine_parser", "words_and_chars", "fixtures/dep/tiny_teacher.conllu", 3),
    "tiny_dep_teacher_extra_label": ("biaffine_parser", "words", "fixtures/dep/tiny_extra_label.conllu", 1),
    "dep_second_order_teacher": ("second_order_biaffine_parser", "words_and_chars", "fixtures/data/ud_ewt/train.conllu", 3),
    "tiny_second_order_teacher": ("second_order_biaffine_parser", "words_and_chars", "fixtures/dep/tiny_teacher.conllu", 3),
}
PARSER_CONFIG = "fixtures/configs/tiny_dep_teacher.jsonnet"


def build(
    name: str,
    model_type: str,
    inputs: str,
    data: str,
    epochs: int,
    out_dir: str,
    config: str = TAGGER_CONFIG,
) -> None:
    env = {"TYPE": model_type, "INPUTS": inputs, "DATA": data, "EPOCHS": str(epochs)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory() as serialization_dir:
            train_model_from_file(config, serialization_dir, force=True)
            shutil.copy(os.path.join(serialization_dir, "model.tar.gz"), os.path.join(out_dir, f"{name}.tar.gz"))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    import_module_and_submodules("allennlp_subkd")
    out_dir = "fixtures/teachers"
    os.makedirs(out_dir, exist_ok=True)
    wanted = set(sys.argv[1:])
    known = set(TEACHERS) | set(PARSER_TEACHERS)
    if wanted - known:
        raise SystemExit(f"unknown teachers {sorted(wanted - known)}; known: {sorted(known)}")
    builds = [(name, spec, TAGGER_CONFIG) for name, spec in TEACHERS.items()]
    builds += [(name, spec, PARSER_CONFIG) for name, spec in PARSER_TEACHERS.items()]
    for name, spec, config in builds:
        if wanted and name not in wanted:
            continue
        build(name, *spec, out_dir=out_dir, config=config)
        print(f"built {out_dir}/{name}.tar.gz")  # noqa: T201 (a script's report)


if __name__ == "__main__":
    main()
