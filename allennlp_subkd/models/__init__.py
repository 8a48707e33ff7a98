"""Registered distilled models (thin subclasses of the allennlp / allennlp-models classes)."""
from allennlp_subkd.models.distilled_crf_tagger import DistilledCrfTagger
from allennlp_subkd.models.distilled_simple_tagger import DistilledSimpleTagger
from allennlp_subkd.models.distilled_biaffine_parser import DistilledBiaffineParser
from allennlp_subkd.models.distilled_dependency_tagger import DistilledDependencyTagger
