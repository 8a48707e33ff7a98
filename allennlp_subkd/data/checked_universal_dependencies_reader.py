"""`checked_universal_dependencies`: allennlp-models' CoNLL-U reader whose gold relations the
model never saw are counted as wrong, not a crash."""
from allennlp.data import DatasetReader, Instance
from allennlp_models.structured_prediction.dataset_readers.universal_dependencies import (
    UniversalDependenciesDatasetReader,
)

from allennlp_subkd.data.open_label_field import opened


@DatasetReader.register("checked_universal_dependencies")
class CheckedUniversalDependenciesDatasetReader(UniversalDependenciesDatasetReader):
    """
    allennlp-models' `universal_dependencies` reader (same arguments, same instances), except
    that the gold relations (`head_tags`) are an `OpenSequenceLabelField`: a relation the
    model's vocabulary lacks (`dep` in UD English-GUM for an EWT-trained parser) is counted as a
    wrong label in LAS, with a warning naming it, where the stock field raises a `KeyError`.
    The parsers' losses cannot score such a label: our models read it as relation 0 there (and
    as a wrong label in LAS). Evaluate a stock `biaffine_parser` archive through both with
    `--overrides '{"dataset_reader.type": "checked_universal_dependencies", "model.type":
    "distilled_biaffine_parser"}'` (its weights load unchanged).

    Registered as a `DatasetReader` with name "checked_universal_dependencies".

    # Parameters

    **kwargs
        As `universal_dependencies` (`token_indexers`, `use_language_specific_pos`, `tokenizer`).
    """

    def text_to_instance(self, *args, **kwargs) -> Instance:  # type: ignore[override]
        instance = super().text_to_instance(*args, **kwargs)
        if "head_tags" in instance.fields:
            instance.fields["head_tags"] = opened(instance.fields["head_tags"])  # type: ignore[arg-type]
        return instance
