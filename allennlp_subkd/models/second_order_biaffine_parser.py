"""`second_order_biaffine_parser`: a biaffine parser with sibling factors and MFVI (Wang & Tu 2020)."""
from typing import Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp.nn import util

from allennlp_subkd.distillation.tasks.parser import MarginalArcScorer
from allennlp_subkd.models.distilled_biaffine_parser import DistilledBiaffineParser
from allennlp_subkd.modules.mean_field_arc_scorer import MeanFieldArcScorer


@Model.register("second_order_biaffine_parser")
class SecondOrderBiaffineParser(MarginalArcScorer, DistilledBiaffineParser):
    """
    A second-order dependency parser in the style of Wang & Tu (2020, "Second-Order Neural
    Dependency Parsing with Message Passing and End-to-End Training"): the biaffine parser's
    first-order arc scores plus **sibling** factors (two dependents of one head, every pair;
    no grandparent factors), a triaffine form over small projections of the arc
    representations, with head marginals from mean-field variational inference
    (`allennlp_subkd.structures.second_order.mean_field`, `mfvi_iterations` parallel updates).

    The MFVI posteriors replace the arc scores everywhere: the parser's per-word arc loss is the
    negative log of the gold head's MFVI marginal (end-to-end training through the updates, as
    Wang & Tu), its decoders (MST in validation) decode the MFVI marginals, and as a **teacher**
    (the `"parser"` and `"dependency_labels"` adapters) it hands students its MFVI marginals:
    `local` KD matches them exactly, `structural` KD uses them as the teacher's arc marginals
    (an approximation: exact second-order tree marginals are intractable; the objective warns
    once), and the dependency tagger of `dependency_labels` gets label marginals from them (Wang
    et al. 2021's case 2b; `tree: "local"` uses them as they are). The distribution MFVI
    approximates is over head assignments (no tree constraint); `benchmarks/mfvi_gap.py` measures
    how far its marginals are from the exact ones on short sentences.

    It is a `distilled_biaffine_parser` (same inputs, relation scorer, outputs and robustness;
    it can itself be distilled from a teacher, though that is not its purpose).

    Registered as a `Model` with name "second_order_biaffine_parser".

    # Parameters

    vocab, text_field_embedder, encoder, tag_representation_dim, arc_representation_dim, **kwargs
        As `distilled_biaffine_parser` (and so `BiaffineDependencyParser`).
    sibling_dim : `int`, optional (default = `100`)
        The size of the dependent and head projections of the sibling triaffine form.
    mfvi_iterations : `int`, optional (default = `3`)
        Mean-field updates (≥ 1; Wang & Tu use 3).
    """

    student_name = "second_order_biaffine_parser"

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        tag_representation_dim: int,
        arc_representation_dim: int,
        sibling_dim: int = 100,
        mfvi_iterations: int = 3,
        **kwargs,
    ) -> None:
        if not isinstance(mfvi_iterations, int) or mfvi_iterations < 1:
            raise ConfigurationError(
                f"second_order_biaffine_parser mfvi_iterations must be an integer >= 1, got {mfvi_iterations!r}"
            )
        if kwargs.get("gold_loss", "local") != "local":
            raise ConfigurationError(
                "second_order_biaffine_parser trains with its MFVI marginals (gold_loss \"local\"); "
                f"gold_loss {kwargs['gold_loss']!r} would train a first-order tree CRF of them"
            )
        super().__init__(vocab, text_field_embedder, encoder, tag_representation_dim, arc_representation_dim, **kwargs)
        self.arc_attention = MeanFieldArcScorer(self.arc_attention, arc_representation_dim, sibling_dim, mfvi_iterations)

    def _forward(self, tokens: TextFieldTensors, metadata=None, pos_tags=None, head_tags=None, head_indices=None):
        mask = util.get_text_field_mask(tokens)
        with_root = torch.cat([mask.new_ones(mask.size(0), 1), mask], 1)
        with self.arc_attention.masked(with_root):
            return super()._forward(tokens, metadata, pos_tags, head_tags, head_indices)
