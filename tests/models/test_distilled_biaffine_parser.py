"""`distilled_biaffine_parser` through AllenNLP's own test harness, and its bad inputs."""
import json
import os
import shutil
import tarfile

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.nn.util import get_text_field_mask
from allennlp.predictors import Predictor

from allennlp_subkd.distillation.request import TeacherRequest
import allennlp_subkd  # noqa: F401  (registers everything)
from allennlp_subkd.distillation.tasks.parser import capture_parser_scores
from allennlp_subkd.modules.fast_bilinear import bilinear_pairs
from allennlp_subkd.structures.arcs import gold_tree_nll
from allennlp_subkd.modules.fast_bilinear import FastBilinear
from allennlp_subkd.models.distilled_biaffine_parser import labelled_mst_decode

STUDENT = "fixtures/configs/dep_student.jsonnet"
TINY = "fixtures/dep/tiny.conllu"
TEACHERS = "fixtures/teachers"
TEACHER = f"{TEACHERS}/tiny_dep_teacher.tar.gz"  # words + chars + POS, another vocabulary

OBJECTIVES = [
    ({"type": "sub_structure", "alpha": 0.9}, {}),
    ({"type": "sub_structure", "arc_scores": "raw", "arc_pairs": "all", "label_pairs": "all",
      "reduction": "sum", "alpha": 0.9}, {}),
    ({"type": "local", "alpha": 0.5, "temperature": 2.0}, {}),
    ({"type": "local", "relation_heads": None}, {}),
    ({"type": "structural", "tree": "nonprojective", "temperature": 2.0}, {}),
    ({"type": "structural", "tree": "projective"}, {"gold_loss": "tree"}),
]


def overrides(**model) -> str:
    return json.dumps({f"model.{k}": v for k, v in model.items()})


def student_params(**model) -> Params:
    return Params.from_file(STUDENT, overrides(**model))


def reader() -> DatasetReader:
    return DatasetReader.from_params(Params.from_file(STUDENT)["dataset_reader"])


class TestDistilledBiaffineParser(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(STUDENT, TINY)

    def _train(self, **model):
        # As allennlp-models' own parser tests: the arc bias adds one constant to every arc
        # score, which the head softmax and the tree CRF are invariant to (its gradient is 0
        # up to rounding) unless sub_structure matches raw scores.
        return self.ensure_model_can_train_save_and_load(
            STUDENT, overrides=overrides(**model), gradients_to_ignore={"arc_attention._bias"}
        )

    def _model(self, **model_overrides) -> Model:
        return Model.from_params(vocab=self.vocab, params=student_params(**model_overrides)["model"])

    def _tensors(self, instances=None):
        batch = Batch(list(instances if instances is not None else self.instances))
        batch.index_instances(self.vocab)
        return batch.as_tensor_dict()

    def _kd_forward(self, instances=None, **model_overrides):
        model = self._model(**model_overrides)
        model.train()
        output = model(**self._tensors(instances))
        assert torch.isfinite(output["loss"]) and "kd_loss" in output
        output["loss"].backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        return model, output

    # ---------------------------------------------------------------- training

    def test_no_kd_baseline_trains_like_biaffine_parser(self):
        model, _ = self._train(teacher=None, distillation=None)
        assert model.teacher is None

    @pytest.mark.parametrize(
        "distillation, extra", OBJECTIVES, ids=lambda p: "-".join(str(v) for v in p.values())
    )
    def test_every_objective_trains_saves_and_loads(self, distillation, extra):
        model, _ = self._train(distillation=distillation, **extra)
        assert model.teacher.loaded and model.teacher._reuse is False  # re-indexed inputs

    def test_gold_tree_loss_without_kd(self):
        self._train(teacher=None, distillation=None, gold_loss="tree", tree="projective")
        model = self._model(teacher=None, distillation=None, gold_loss="tree")
        tensors = self._tensors()
        with capture_parser_scores(model) as captured:
            output = model(**tensors)
        mask = output["mask"]
        nll = gold_tree_nll(captured.arcs, mask, tensors["head_indices"], "nonprojective")
        words = mask.sum() - mask.size(0)
        assert output["arc_loss"].item() == pytest.approx((nll.sum() / words).item(), rel=1e-6)
        assert output["loss"].item() == pytest.approx((output["arc_loss"] + output["tag_loss"]).item(), rel=1e-6)

    def test_greedy_decoding_of_a_tree_loss_parser_puts_one_word_per_sentence_on_root(self):
        """With `gold_loss: "tree"` the ROOT column's level is free: a constant on it changes
        neither the tree loss nor the greedy heads (training, and validation without MST), one
        word per sentence on ROOT; the local loss keeps the stock per-word argmax, which then
        puts every word there."""
        tensors = self._tensors()

        def root_up(module, inputs, arcs):  # arcs[b, d, h]: ROOT (h = 0) scored far higher
            shifted = arcs.clone()
            shifted[:, :, 0] += 1000.0
            return shifted

        for gold_loss in ("tree", "local"):
            model = self._model(teacher=None, distillation=None, gold_loss=gold_loss,
                                use_mst_decoding_for_validation=False)
            model.eval()
            plain = model(**tensors)
            hook = model.arc_attention.register_forward_hook(root_up)
            shifted = model(**tensors)
            hook.remove()
            words = plain["mask"][:, 1:]
            on_root = (shifted["heads"][:, 1:] == 0) & words
            if gold_loss == "tree":
                assert torch.equal(plain["heads"], shifted["heads"])
                assert (on_root.sum(-1) == 1).all()
                assert shifted["arc_loss"].item() == pytest.approx(plain["arc_loss"].item(), rel=1e-4)
            else:
                assert torch.equal(on_root, words.bool())

    def test_the_captured_scores_are_the_ones_the_parser_scores_with(self):
        """With dropout on, the stock loss recomputed from the captured tensors is the loss
        the forward pass returned, and the all-pairs relation scores at the gold heads are
        the parser's own `_get_head_tags`."""
        model = self._model()
        model.train()
        tensors = self._tensors()
        with capture_parser_scores(model) as captured:
            output = model(**tensors)
        assert len(model.arc_attention._forward_hooks) == 0  # hooks removed
        mask = output["mask"]
        minus_mask = ~mask * -1e8
        arcs = captured.arcs + minus_mask.unsqueeze(2) + minus_mask.unsqueeze(1)
        zero = tensors["head_indices"].new_zeros(mask.size(0), 1)
        heads = torch.cat([zero, tensors["head_indices"]], 1)
        tags = torch.cat([zero, tensors["head_tags"]], 1)
        arc_nll, tag_nll = model._construct_loss(captured.head_tags, captured.child_tags, arcs, heads, tags, mask)
        assert arc_nll.item() == pytest.approx(output["arc_loss"].item(), rel=1e-6)
        assert tag_nll.item() == pytest.approx(output["tag_loss"].item(), rel=1e-6)
        labels = bilinear_pairs(model.tag_bilinear, captured.head_tags, captured.child_tags)
        at_gold = labels.gather(2, heads[:, :, None, None].expand(-1, -1, 1, labels.size(-1))).squeeze(2)
        expected = model._get_head_tags(captured.head_tags, captured.child_tags, heads)
        assert torch.allclose(at_gold, expected, atol=1e-6)

    @pytest.mark.parametrize("gold_loss", ["local", "tree"])
    def test_kd_is_reduced_like_the_parser_loss_and_mixed_with_alpha(self, gold_loss):
        """`kd_loss` = Σ_sentences KD / number of words; `loss` = (1-α) gold + α KD."""
        alpha = 0.3
        model = self._model(distillation={"type": "structural", "alpha": alpha}, gold_loss=gold_loss)
        model.train()
        tensors = self._tensors()
        with capture_parser_scores(model) as captured:
            output = model(**tensors)
        mask = output["mask"]
        k = model.distillation.relation_heads
        teacher = model.teacher_scores(model._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"], mask), TeacherRequest(relation_heads=k))[0]
        student = captured.scores(model, mask, teacher.label_heads)
        per_sentence = model.distillation(student, teacher)
        words = sum(len(m["words"]) for m in tensors["metadata"])
        assert output["kd_loss"].item() == pytest.approx(per_sentence.sum().item() / words, rel=1e-5)
        gold = output["arc_loss"] + output["tag_loss"]
        expected = (1 - alpha) * gold + alpha * output["kd_loss"]
        assert output["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
        assert model.get_metrics()["kd_loss"] == pytest.approx(output["kd_loss"].item())
        assert model.teacher.model.use_mst_decoding_for_validation is False  # greedy teacher

    def test_teacher_scores_are_reindexed_and_aligned_by_relation_string(self):
        model, _ = self._kd_forward(distillation={"type": "local"})
        teacher = model.teacher.model
        assert teacher.vocab.get_token_to_index_vocabulary("tokens") != self.vocab.get_token_to_index_vocabulary("tokens")
        tensors = self._tensors()
        mask = get_text_field_mask(tensors["words"])
        mask = torch.cat([mask.new_ones(mask.size(0), 1), mask], 1)
        aligned = model.teacher_scores(model._parser_batch(tensors["words"], tensors["pos_tags"], tensors["metadata"], mask), TeacherRequest(relation_heads=None))[0]
        # the teacher on a batch read and indexed by its own archive's reader and vocabulary
        archive = load_archive(TEACHER)
        own = Batch(list(archive.dataset_reader.read(TINY)))
        own.index_instances(archive.model.vocab)
        own_tensors = own.as_tensor_dict()
        archive.model.eval()
        with torch.no_grad(), capture_parser_scores(archive.model) as captured:
            out = archive.model(own_tensors["words"], own_tensors["pos_tags"], own_tensors["metadata"])
            raw = captured.scores(archive.model, out["mask"])
        valid = mask.unsqueeze(2) & mask.unsqueeze(1)
        assert torch.allclose(aligned.arcs[valid], raw.arcs[valid], atol=1e-5)
        student_labels = self.vocab.get_index_to_token_vocabulary("head_tags")
        teacher_index = teacher.vocab.get_token_to_index_vocabulary("head_tags")
        assert list(student_labels.values()) != list(teacher_index)  # really another order
        for i, label in student_labels.items():
            assert torch.allclose(aligned.labels[..., i][valid], raw.labels[..., teacher_index[label]][valid], atol=1e-5)

    def test_student_archive_has_no_teacher_and_predicts_with_the_teacher_gone(self, tmp_path):
        teacher_copy = tmp_path / "teacher.tar.gz"
        shutil.copy(TEACHER, teacher_copy)
        model, _ = self._train(teacher={"archive": str(teacher_copy)}, distillation={"type": "structural"})
        assert model.teacher.loaded
        archive_path = self.TEST_DIR / "save_and_load_test" / "model.tar.gz"
        with tarfile.open(archive_path) as archive:
            archive.extract("weights.th", tmp_path)
        weights = torch.load(tmp_path / "weights.th")
        fresh = self._model(distillation=None, teacher=None)
        assert set(weights) == set(fresh.state_dict())
        assert not any("token_characters" in key for key in weights)  # the teacher's char CNN
        assert sum(w.numel() for w in weights.values()) == sum(w.numel() for w in fresh.state_dict().values())
        teacher_ids = {id(p) for p in model.teacher.model.parameters()}
        assert not teacher_ids & {id(p) for p in model.parameters()}

        os.remove(teacher_copy)
        archive = load_archive(str(archive_path))
        predictor = Predictor.from_archive(archive)  # the model's default predictor
        result = predictor.predict_json({"tokens": ["I", "have", "."], "pos": ["PRON", "VERB", "PUNCT"]})
        assert len(result["predicted_heads"]) == 3 and len(result["predicted_dependencies"]) == 3
        assert all(0 <= h <= 3 for h in result["predicted_heads"])
        assert not archive.model.teacher.loaded

    def test_a_distilled_parser_can_teach_the_next_one(self):
        self._train(distillation={"type": "local"})
        first = self.TEST_DIR / "first_student.tar.gz"
        shutil.copy(self.TEST_DIR / "save_and_load_test" / "model.tar.gz", first)
        shutil.rmtree(self.TEST_DIR / "save_and_load_test")
        model, _ = self._train(teacher={"archive": str(first)}, distillation={"type": "structural"})
        assert type(model.teacher.model).__name__ == "DistilledBiaffineParser"
        assert model.teacher._reuse is True  # same data, same indexers: the student's tensors

    # ---------------------------------------------------------------- bad input

    def test_a_tagger_archive_as_teacher(self):
        with pytest.raises(ConfigurationError, match="CrfTagger.*BiaffineDependencyParser"):
            self._kd_forward(teacher={"archive": f"{TEACHERS}/ner_crf_teacher.tar.gz"})

    def test_teacher_with_other_relations_names_them(self):
        with pytest.raises(ConfigurationError, match=r"only the student has \[\], only the teacher has \['dep'\]"):
            self._kd_forward(teacher={"archive": f"{TEACHERS}/tiny_dep_teacher_extra_label.tar.gz"})

    def test_teacher_without_a_relation_of_the_student_names_it(self):
        vocab = Vocabulary.from_files(self.vocab_dir())  # a copy of the student's
        vocab.add_token_to_namespace("dep", "head_tags")
        model = Model.from_params(vocab=vocab, params=student_params()["model"])
        model.train()
        batch = Batch(list(self.instances))
        batch.index_instances(vocab)
        with pytest.raises(ConfigurationError, match=r"only the student has \['dep'\], only the teacher has \[\]"):
            model(**batch.as_tensor_dict())

    def vocab_dir(self) -> str:
        directory = str(self.TEST_DIR / "student_vocab")
        self.vocab.save_to_files(directory)
        return directory

    # ---------------------------------------------------------------- sparse relation terms

    @pytest.mark.parametrize("name", ["local", "structural", "sub_structure"])
    def test_relation_terms_at_the_teachers_heads_through_the_model(self, name):
        """Computed at k >= the sentence length, the KD of the sparse relation terms is the
        dense one; at k = 1 it leaves out a non-negative part."""
        model = self._model(distillation={"type": name, "label_pairs": "teacher_heads"} if name == "sub_structure"
                            else {"type": name})
        model.train()
        tensors = self._tensors()
        kd = {}
        for k in (None, 1000, 1):
            model._distillation.relation_heads = k
            torch.manual_seed(0)  # the same dropout masks
            kd[k] = model(**tensors)["kd_loss"].item()
        assert kd[1000] == pytest.approx(kd[None], rel=1e-5)
        if name != "sub_structure":  # a sum of squares over more pairs is no bound
            assert kd[1] <= kd[None] + 1e-6

    def test_a_dropout_free_student_pass_takes_the_dropout_noise_out_of_the_kd_term(self):
        kd = {}
        for clean in (False, True):
            model = self._model(distillation={"type": "sub_structure", "dropout_free_student": clean})
            model.train()
            tensors = self._tensors()
            values = []
            for seed in (0, 1):
                torch.manual_seed(seed)
                output = model(**tensors)
                values.append(output["kd_loss"].item())
            output["loss"].backward()
            assert model.training and model.use_mst_decoding_for_validation  # restored
            kd[clean] = values
        assert kd[True][0] == pytest.approx(kd[True][1], rel=1e-6)  # no dropout noise
        assert kd[False][0] != pytest.approx(kd[False][1], rel=1e-3)

    def test_the_dense_relation_tensor_is_never_built_with_relation_heads(self, monkeypatch):
        from allennlp_subkd.distillation.tasks import parser as parsing

        def forbidden(*args, **kwargs):
            raise AssertionError("the [batch, n+1, n+1, relations] scores were built")

        monkeypatch.setattr(parsing, "bilinear_pairs", forbidden)
        self._kd_forward(distillation={"type": "structural", "relation_heads": 2})
        with pytest.raises(AssertionError, match="were built"):
            self._kd_forward(distillation={"type": "structural", "relation_heads": None})

    # ---------------------------------------------------------------- the fast relation scorer

    def test_the_fast_relation_scorer_scores_like_nn_bilinear(self):
        fast = self._model(teacher=None, distillation=None)
        slow = self._model(teacher=None, distillation=None, fast_relation_scorer=False)
        assert type(fast.tag_bilinear) is FastBilinear and type(slow.tag_bilinear) is torch.nn.Bilinear
        slow.load_state_dict(fast.state_dict())
        assert set(fast.state_dict()) == set(slow.state_dict())
        tensors = self._tensors()
        for mode in ("train", "eval"):
            for model in (fast, slow):
                getattr(model, mode)()
            torch.manual_seed(1)
            out_fast = fast(**tensors)
            torch.manual_seed(1)
            out_slow = slow(**tensors)
            assert out_fast["loss"].item() == pytest.approx(out_slow["loss"].item(), rel=1e-5)
            if mode == "eval":  # MST decoding: relation scores of all pairs
                assert torch.equal(out_fast["heads"], out_slow["heads"])
                mask = out_fast["mask"]  # the stock decoder leaves padding's relations arbitrary
                assert torch.equal(out_fast["head_tags"][mask], out_slow["head_tags"][mask])

    @pytest.mark.parametrize("scale", [1.0, 10.0])
    def test_the_labelled_mst_decoder_decodes_like_the_stock_one(self, scale):
        """`labelled_mst_decode` (no `[batch, relations, n, n]` energy) returns the stock
        `_mst_decode`'s heads and relations, padding and a one-word sentence included."""
        from allennlp_models.structured_prediction import BiaffineDependencyParser

        slow = self._model(teacher=None, distillation=None, fast_relation_scorer=False)
        dim = slow.tag_bilinear.in1_features
        generator = torch.Generator().manual_seed(int(scale))
        for _ in range(20):
            lengths = torch.tensor([9, 2, 6, 9, 1])  # the root included
            mask = torch.arange(9).unsqueeze(0) < lengths.unsqueeze(1)
            head = torch.randn(5, 9, dim, generator=generator) * scale
            child = torch.randn(5, 9, dim, generator=generator) * scale
            arcs = torch.randn(5, 9, 9, generator=generator) * scale
            with torch.no_grad():
                heads, tags = BiaffineDependencyParser._mst_decode(slow, head, child, arcs, mask)
                fast_heads, fast_tags = labelled_mst_decode(slow.tag_bilinear, head, child, arcs, mask)
            assert torch.equal(fast_heads, heads) and fast_heads.dtype == heads.dtype
            assert torch.equal(fast_tags[mask], tags[mask])  # the stock one leaves padding's arbitrary
            assert not fast_heads[~mask].any() and not fast_tags[~mask].any() and not fast_tags[:, 0].any()

    def test_a_stock_biaffine_parser_archive_loads_into_the_fast_scorer_unchanged(self):
        stock = load_archive(TEACHER).model
        assert type(stock).__name__ == "BiaffineDependencyParser"
        config = load_archive(TEACHER).config.duplicate()["model"]
        config["type"] = "distilled_biaffine_parser"
        ours = Model.from_params(vocab=stock.vocab, params=config)
        assert type(ours.tag_bilinear) is FastBilinear
        ours.load_state_dict(stock.state_dict(), strict=True)
        ours.eval()
        stock.eval()
        instances = list(DatasetReader.from_params(load_archive(TEACHER).config.duplicate()["dataset_reader"]).read(TINY))
        batch = Batch(instances)
        batch.index_instances(stock.vocab)
        tensors = batch.as_tensor_dict()
        expected, got = stock(**tensors), ours(**tensors)
        assert got["loss"].item() == pytest.approx(expected["loss"].item(), rel=1e-5)
        mask = got["mask"]
        assert torch.equal(got["heads"], expected["heads"])
        assert torch.equal(got["head_tags"][mask], expected["head_tags"][mask])

    def _instances(self, sentences):
        """(words, pos, heads, relations) -> indexed instances of the student's reader."""
        ud = reader()
        instances = []
        for words, pos, heads, relations in sentences:
            instance = ud.text_to_instance(words, pos, list(zip(relations, heads)))
            ud.apply_token_indexers(instance)
            instances.append(instance)
        return instances

    @pytest.mark.parametrize(
        "distillation, extra", OBJECTIVES, ids=lambda p: "-".join(str(v) for v in p.values())
    )
    def test_a_150_word_and_a_1_word_sentence_in_one_batch(self, distillation, extra):
        n = 150  # the teacher's training sentences have at most 11 words
        known = [w for i in self.instances for w in i["metadata"]["words"]]
        words = [known[i % len(known)] if i % 3 else f"unseen{i}" for i in range(n)]
        pos = ["NOUN", "VERB", "ADP", "DET", "PUNCT"] * (n // 5)
        relations = ["root"] + ["obl", "det", "punct", "nsubj", "case"] * (n // 5 - 1) + ["obj"] * 4
        heads = [0] + list(range(1, n))  # a chain: projective
        long = self._instances([(words, pos, heads, relations), (["Chris"], ["PROPN"], [0], ["root"])])
        _, output = self._kd_forward(long + self.instances[:2], distillation=distillation, **extra)
        assert output["mask"].size(1) == n + 1

    @pytest.mark.parametrize(
        "distillation, extra", OBJECTIVES, ids=lambda p: "-".join(str(v) for v in p.values())
    )
    def test_one_word_and_empty_sentences(self, distillation, extra):
        sentences = [
            (["Chris"], ["PROPN"], [0], ["root"]),
            ([], [], [], []),
            (["Vince"], ["PROPN"], [0], ["root"]),
        ]
        instances = self._instances(sentences)
        model, output = self._kd_forward(instances[:1] + instances[2:], distillation=distillation, **extra)
        assert output["kd_loss"].item() >= 0
        model, output = self._kd_forward(instances, distillation=distillation, **extra)
        model.eval()
        readable = model.make_output_human_readable(model(**self._tensors(instances)))
        assert readable["predicted_heads"] == [[0], [], [0]]
        assert [len(d) for d in readable["predicted_dependencies"]] == [1, 0, 1]
        # a batch of nothing but empty sentences
        only_empty = self._tensors([instances[1], instances[1]])
        model.train()
        output = model(**only_empty)
        assert output["loss"].item() == 0.0
        output["loss"].backward()
        model.eval()
        readable = model.make_output_human_readable(model(**only_empty))
        assert readable["predicted_heads"] == [[], []] and readable["words"] == [[], []]

    def test_a_non_projective_gold_tree_with_a_projective_tree_loss(self):
        sentence = (["a", "b", "c", "d"], ["X"] * 4, [3, 4, 0, 1], ["det", "obj", "root", "obl"])
        instances = self._instances([sentence])
        model = self._model(teacher=None, distillation=None, gold_loss="tree", tree="projective")
        with pytest.raises(ValueError, match=r"sentence 0 .*\(a b c d\).*crossing arcs"):
            model(**self._tensors(instances))
        model = self._model(teacher=None, distillation=None, gold_loss="tree")  # nonprojective
        assert torch.isfinite(model(**self._tensors(instances))["loss"])

    @pytest.mark.parametrize(
        "model_overrides, message",
        [
            ({"gold_loss": "global"}, 'gold_loss must be "local" or "tree", got \'global\''),
            ({"tree": "projective"}, 'only applies to gold_loss "tree"'),
            ({"gold_loss": "tree", "tree": "spanning"},
             r'tree must be "nonprojective" \(matrix-tree\) or "projective" \(Eisner\), got \'spanning\''),
            (
                {"gold_loss": "tree", "tree": "projective", "distillation": {"type": "structural", "tree": "nonprojective"}},
                "differs from the structural objective's tree",
            ),
            ({"distillation": {"type": "posterior"}}, r"^posterior not in acceptable choices for \S*distillation\.type"),
            ({"teacher": None}, "needs a teacher"),
            ({"distillation": None}, "no distillation objective"),
        ],
    )
    def test_bad_configuration(self, model_overrides, message):
        with pytest.raises(ConfigurationError, match=message):
            self._model(**model_overrides)

    def test_the_tree_of_the_gold_loss_follows_the_structural_objective(self):
        model = self._model(gold_loss="tree", distillation={"type": "structural", "tree": "projective"})
        assert model._tree == "projective"
        assert self._model(gold_loss="tree")._tree == "nonprojective"


def test_a_student_extends_its_vocabulary_from_the_teacher_as_the_label_error_suggests(tmp_path):
    """The sample-trained teacher knows relations the tiny file lacks: the error says so, and
    the fix it names (the student's vocabulary extended from the teacher's) trains."""
    from allennlp.commands.train import train_model_from_file

    teacher = "fixtures/teachers/dep_teacher.tar.gz"
    base = {"model.teacher.archive": teacher, "model.distillation": {"type": "structural"},
            "trainer.num_epochs": 1}
    with pytest.raises(ConfigurationError, match='"type": "extend"'):
        train_model_from_file(STUDENT, tmp_path / "mismatch", overrides=json.dumps(base))
    fixed = {**base, "vocabulary": {"type": "extend", "directory": teacher}}
    model = train_model_from_file(STUDENT, tmp_path / "extended", overrides=json.dumps(fixed))
    assert model.teacher.loaded


def perturbed_teacher(tmp_path, seed: int = 0, scale: float = 0.5) -> str:
    """A second parser teacher: the tiny teacher's archive with noise on every weight (same
    config, vocabulary and relations), so an ensemble's members really disagree."""
    import tarfile

    folder = tmp_path / "perturbed"
    with tarfile.open(TEACHER) as archive:
        archive.extractall(folder)
    weights = torch.load(folder / "weights.th")
    g = torch.Generator().manual_seed(seed)
    noisy = {k: v + torch.randn(v.shape, generator=g) * scale if v.is_floating_point() else v for k, v in weights.items()}
    torch.save(noisy, folder / "weights.th")
    path = tmp_path / "perturbed.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for item in sorted(folder.iterdir()):
            archive.add(item, arcname=item.name)
    return str(path)


@pytest.mark.parametrize("distillation", [{"type": "structural"}, {"type": "local"}],
                         ids=["structural", "local"])
def test_a_two_teacher_parser_ensemble_with_the_default_sparse_relation_terms(tmp_path, distillation):
    """Through `distilled_biaffine_parser` with the default `relation_heads: 2`: each member's
    relation term is taken at that member's own best heads, and the ensemble's KD term is
    `Σ_i w_i · kd_i` with `kd_i` what a student of member i alone computes (same weights, no
    dropout)."""
    other = perturbed_teacher(tmp_path)
    instances = list(reader().read(TINY))
    vocab = Vocabulary.from_instances(instances)
    batch = Batch(instances)
    batch.index_instances(vocab)
    tensors = batch.as_tensor_dict()

    def build(teacher):
        params = student_params(teacher=teacher, distillation=dict(distillation, alpha=1.0))
        return Model.from_params(vocab=vocab, params=params["model"])

    ensemble = build({"archive": [TEACHER, other], "weights": [3, 1]})
    singles = [build({"archive": archive}) for archive in (TEACHER, other)]
    kd = []
    for model in [ensemble, *singles]:
        model.load_state_dict(ensemble.state_dict())
        model.eval()
        model.training = True  # KD on; every dropout module stays off: the same student scores
        kd.append(model(**tensors)["kd_loss"])
    assert ensemble.distillation.relation_heads == 2
    first, second = ensemble.teacher_scores(ensemble._parser_batch(
        tensors["words"], tensors["pos_tags"], tensors["metadata"],
        torch.cat([torch.ones(len(instances), 1, dtype=torch.bool), tensors["words"]["tokens"]["tokens"] > 0], 1)))
    assert first.sparse and second.sparse and not torch.equal(first.label_heads, second.label_heads)
    assert kd[1].item() != pytest.approx(kd[2].item(), rel=1e-2)
    assert kd[0].item() == pytest.approx(0.75 * kd[1].item() + 0.25 * kd[2].item(), rel=1e-5)
