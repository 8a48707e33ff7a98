"""Offline predictors for pre-tokenised input (no spaCy model needed)."""
from allennlp_subkd.predictors.tagger import PretokenizedTaggerPredictor
from allennlp_subkd.predictors.parser import PretokenizedParserPredictor
