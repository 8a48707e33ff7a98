"""`checked_conll2003`: AllenNLP's CoNLL-2003 reader that refuses a malformed line and counts a
gold label the model never saw as wrong."""
import itertools
import logging
from typing import Iterable

from allennlp.common.file_utils import cached_path
from allennlp.data import DatasetReader, Instance, Token
from allennlp.data.dataset_readers import Conll2003DatasetReader

from allennlp_subkd.data.open_label_field import opened

logger = logging.getLogger(__name__)

#: word, POS tag, chunk tag, NER tag
COLUMNS = 4


def _is_divider(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.split()[0] == "-DOCSTART-"


@DatasetReader.register("checked_conll2003")
class CheckedConll2003DatasetReader(Conll2003DatasetReader):
    """
    AllenNLP's `conll2003` reader (same arguments, same instances), except that a line whose
    number of whitespace-separated columns is not 4 (word, POS, chunk, NER) is a `ValueError`
    naming the file, the line number and the line. The stock reader transposes a sentence's
    lines with `zip`, so a line with a missing column fails with an unpacking error that names
    nothing, and a line with an extra column (a word with a space) silently shifts that word's
    tags. Its gold label field (`tags`) is an `OpenSequenceLabelField`: a label the model's
    vocabulary lacks (an evaluation file with another tag set) is counted as a wrong label with
    a warning naming it, not a `KeyError`.

    Registered as a `DatasetReader` with name "checked_conll2003".

    # Parameters

    **kwargs
        As `conll2003` (`token_indexers`, `tag_label`, `feature_labels`, `convert_to_coding_scheme`,
        `label_namespace`, ...).
    """

    def text_to_instance(self, *args, **kwargs) -> Instance:  # type: ignore[override]
        instance = super().text_to_instance(*args, **kwargs)
        if "tags" in instance.fields:
            instance.fields["tags"] = opened(instance.fields["tags"])  # type: ignore[arg-type]
        return instance

    def _read(self, file_path) -> Iterable[Instance]:
        file_path = cached_path(file_path)
        logger.info("Reading instances from lines in file at: %s", file_path)
        with open(file_path, "r", encoding="utf-8") as data_file:
            numbered = enumerate(data_file, start=1)
            sentences = (
                list(lines)
                for divider, lines in itertools.groupby(numbered, lambda item: _is_divider(item[1]))
                if not divider
            )
            for lines in self.shard_iterable(sentences):
                fields = []
                for number, line in lines:
                    columns = line.split()
                    if len(columns) != COLUMNS:
                        raise ValueError(
                            f"{file_path}, line {number}: expected {COLUMNS} whitespace-separated "
                            f"columns (word, POS, chunk, NER), got {len(columns)}: {line.rstrip()!r}"
                        )
                    fields.append(columns)
                words, pos_tags, chunk_tags, ner_tags = (list(column) for column in zip(*fields))
                yield self.text_to_instance([Token(w) for w in words], pos_tags, chunk_tags, ner_tags)
