"""benchmarks/frontier.py: the Pareto frontier, where its runs go, and its rendering."""
import json
from pathlib import Path

import pytest

from tests.benchmark_modules import load

frontier = load("frontier")
report = load("report")


def test_pareto_keeps_the_points_nothing_beats_fastest_first():
    points = [(10.0, 70.0), (100.0, 60.0), (50.0, 65.0), (40.0, 60.0), (100.0, 55.0), (5.0, 70.0)]
    assert frontier.pareto(points) == [1, 2, 0]
    assert frontier.pareto([(1.0, 1.0), (1.0, 1.0)]) == [0, 1]  # ties dominate neither


def test_tiny_and_static_runs_are_the_transfer_suites_own(tmp_path):
    plain, kd = frontier.run_folders(tmp_path, "tiny", "tiny", None, 13, "ner_struct_kd")
    assert (plain, kd) == (tmp_path / "s13" / "no_kd", tmp_path / "s13" / "ner_struct_kd_transfer")
    plain, kd = frontier.run_folders(tmp_path, "static_subword", "static_subword", None, 23,
                                     "ner_static_subword_struct_kd")
    assert kd == tmp_path / "static_subword" / "s23" / "ner_static_subword_struct_kd_transfer"
    plain, kd = frontier.run_folders(tmp_path, "static_subword_e20", "static_subword", None, 13,
                                     "dep_static_subword_struct_kd", 20)
    assert (plain, kd) == (tmp_path / "frontier" / "static_subword_e20" / "s13" / "no_kd",
                           tmp_path / "frontier" / "static_subword_e20" / "s13" / "kd_transfer")
    plain, kd = frontier.run_folders(tmp_path, "minilm_l3", "minilm_l3", 3, 13, "ner_minilm_l3_struct_kd")
    assert (plain, kd) == (tmp_path / "frontier" / "minilm_l3" / "s13" / "no_kd",
                           tmp_path / "frontier" / "minilm_l3" / "s13" / "kd_transfer")


def test_a_transformer_student_gets_its_depth_and_a_warm_up_from_the_data():
    assert frontier.student_overrides(None, 12543, 4) == {}
    assert frontier.student_overrides(1, 12543, 4) == {
        "model.text_field_embedder.token_embedders.transformer.layers": 1,
        "trainer.learning_rate_scheduler.warmup_steps": 156}  # 392 batches x 4 epochs // 10


def test_transformer_students_may_run_fewer_seeds_than_the_main_rows():
    assert frontier.student_seeds([13, 23, 33], None, 1) == [13, 23, 33]
    assert frontier.student_seeds([13, 23, 33], 2, 1) == [13]
    assert frontier.student_seeds([13, 23, 33], 2, None) == [13, 23, 33]


def _speed(threads, words, parameters=1e6):
    return {"threads": threads, "tokens_per_second": words, "sentences_per_second": words / 10,
            "parameters": parameters}


def _result():
    def records(test, ood):
        return [{"test": t, "ood": o} for t, o in zip(test, ood)]

    return {
        "meta": {"task": "ner", "regime": "full", "metric": "F1", "ood_name": "UNER-PUD", "objective": "structural",
                 "train_sentences": 12543, "transfer_sentences": 13000, "seeds": [13, 23], "student_epochs": 10,
                 "transformer_epochs": 4, "machine": {"cpu": "test"}, "git_commit": "abc", "date": "today",
                 "command": "python benchmarks/frontier.py ner"},
        "teacher": {"test": 78.0, "ood": 72.0, "throughput": [_speed(1, 100, 22e6), _speed(2, 180, 22e6)]},
        "students": [
            {"label": "tiny", "no_kd": records([56, 58], [40, 42]), "kd": records([60, 62], [50, 50]),
             "throughput": [_speed(1, 10000), _speed(2, 12000)]},
            {"label": "static_subword", "no_kd": records([74, 74], [66, 66]), "kd": records([77, 77], [70, 70]),
             "throughput": [_speed(1, 3000), _speed(2, 4000)]},
            {"label": "minilm_l1", "layers": 1, "seeds": [13], "no_kd": records([70], [60]), "kd": records([72], [65]),
             "throughput": [_speed(1, 800), _speed(2, 1200)]},
        ],
    }


def test_the_table_has_ratios_fractions_of_the_teacher_and_the_frontier(tmp_path):
    text = report.frontier_markdown(_result())
    lines = {line.split(" |")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "**(frontier)**" in lines["static_subword **(frontier)**"]
    assert "minilm_l1 |" in text and "minilm_l1 **(frontier)**" not in text  # slower and worse than static
    static = lines["static_subword **(frontier)**"]
    assert "| 30.0 |" in static  # 3,000 / 100 words/s
    assert "98.7 %" in static  # 77 / 78
    assert "75 %" in static  # (77 - 74) / (78 - 74)
    assert "61.00 ± 1.41" in text
    assert static.rstrip(" |").endswith("| 2") and lines["minilm_l1"].rstrip(" |").endswith("| 1")  # seeds column
    assert "([13] for the transformer students)" in text and "4 for the transformer students" in text
    result = _result()
    result["students"] = result["students"][:2]  # no transformer student: no word of them
    assert "transformer students" not in report.frontier_markdown(result)
    result["students"].append({**result["students"][1], "label": "static_subword_e20", "epochs": 20})
    assert "10 epochs (`static_subword_e20`: 20)" in report.frontier_markdown(result)
    result = _result()
    result["students"] = result["students"][2:]  # transformer students only: their seeds and epochs alone
    text = report.frontier_markdown(result)
    assert "seeds [13] (the `seeds` column" in text and "; 4 epochs (the transformer students `minilm_l{k}`" in text
    assert "10 epochs" not in text and "[13, 23]" not in text


def test_an_untimed_result_has_scores_only_and_no_frontier(tmp_path):
    result = _result()  # `frontier.py --no-throughput`
    for row in [result["teacher"], *result["students"]]:
        row["throughput"] = []
    text = report.frontier_markdown(result)
    assert "words/s" not in text and "parameters" not in text and "**(frontier)**" not in text
    assert "No speed was measured by this invocation (`--no-throughput`)" in text
    static = next(line for line in text.splitlines() if line.startswith("| static_subword |"))
    assert static == "| static_subword | 74.00 | 77.00 ± 0.00 | 98.7 % | 70.00 | 97.2 % | 75 % | 2 |"
    path = tmp_path / "frontier_full_dep_minilm.json"
    path.write_text(json.dumps(result))
    report.render(path)  # no plot without speeds
    assert path.with_suffix(".md").read_text() == text and not path.with_suffix(".png").exists()
    assert "No speed was measured" not in report.frontier_markdown(_result())


def test_render_writes_the_table_and_the_plot(tmp_path):
    pytest.importorskip("matplotlib")  # the bench extra; CI's install has no plotting
    text = report.frontier_markdown(_result())
    path = tmp_path / "frontier_full_ner.json"
    path.write_text(json.dumps(_result()))
    report.render(path)
    assert path.with_suffix(".md").read_text() == text
    assert path.with_suffix(".png").stat().st_size > 0


def test_merge_keeps_the_published_rows_of_the_same_teacher_with_the_speed_they_were_timed_beside():
    published = _result()
    published["teacher"].update({"dev": 75.2, "test": 78.0, "ood": 72.0})
    teacher = {"dev": 75.2, "test": 78.0, "ood": 72.0, "throughput": [_speed(1, 90, 22e6)]}
    kept = frontier.carry_over(published, teacher, ["minilm_l1"])
    assert [s["label"] for s in kept] == ["tiny", "static_subword"]  # the row run now is not kept
    assert kept[0]["measured"] == {"git_commit": "abc", "date": "today", "command": "python benchmarks/frontier.py ner",
                                   "teacher_throughput": published["teacher"]["throughput"]}
    # merged twice: a row keeps where it was first measured, not the later invocation's
    again = {**published, "meta": {**published["meta"], "git_commit": "def"}, "students": kept}
    assert frontier.carry_over(again, teacher, [])[0]["measured"]["git_commit"] == "abc"
    with pytest.raises(SystemExit, match="teacher is not this one.*test: 78.0 vs 77.0"):
        frontier.carry_over(published, {**teacher, "test": 77.0}, ["minilm_l1"])


def test_a_merged_row_is_a_multiple_of_the_teacher_timed_with_it():
    result = _result()
    result["teacher"]["throughput"] = [_speed(1, 200, 22e6), _speed(2, 360, 22e6)]  # this invocation's teacher
    for student in result["students"][:2]:  # timed earlier beside a teacher at 100 / 180 words/s
        student["measured"] = {"git_commit": "old1", "date": "yesterday", "command": "python benchmarks/frontier.py x",
                               "teacher_throughput": [_speed(1, 100, 22e6), _speed(2, 180, 22e6)]}
    text = report.frontier_markdown(result)
    lines = {line.split(" |")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 30.0 |" in lines["static_subword **(frontier)**"]  # 3,000 / 100, not / 200
    assert "| 4.0 |" in lines["minilm_l1"]  # 800 / 200: this invocation's teacher
    assert ("Rows `tiny`, `static_subword`: trained and timed by an earlier invocation with the same teacher "
            "(commit old1, yesterday, `python benchmarks/frontier.py x`), their × teacher against the teacher timed "
            "then (100 words/s at 1 thread).") in text
    assert "earlier invocation" not in report.frontier_markdown(_result())


def test_a_tagged_result_has_a_file_of_its_own_that_the_report_renders():
    assert frontier.result_name("full", "ner") == "frontier_full_ner.json"
    assert frontier.result_name("full", "ner", "minilm") == "frontier_full_ner_minilm.json"
    for tag in frontier.TAGS:
        for task in ("ner", "dep"):
            assert Path(frontier.result_name("full", task, tag)).stem in report.FILE_RENDERERS


def _no_kd_result(reference=True):
    def run(seed, dev, test, ood, best):
        return {"student": "x", "kd": False, "seed": seed, "dev": dev, "test": test, "ood": ood, "best_epoch": best,
                "epoch_seconds_mean": 600.0}

    return {
        "meta": {"task": "dep", "regime": "full", "metric": "LAS", "ood_name": "GUM", "train_sentences": 12544,
                 "seeds": [13, 23], "student_epochs": 10, "transformer_epochs": 4, "machine": {"cpu": "test"},
                 "git_commit": "abc", "date": "today", "command": "python benchmarks/frontier.py dep --no-kd-only"},
        "reference_teacher": {"file": "frontier_full_dep.json", "dev": 89.0, "test": 90.0, "ood": 80.0,
                              "git_commit": "old", "date": "then", "cpu": "other"} if reference else None,
        "students": [
            {"label": "minilm_l2", "layers": 2, "seeds": [13, 23],
             "no_kd": [run(13, 86.0, 87.0, 78.0, 4), run(23, 86.0, 89.0, 78.0, 3)]},
            {"label": "static_subword_e20", "layers": None, "epochs": 20, "seeds": [13],
             "no_kd": [run(13, 85.0, 85.5, 76.0, 18)]},
            {"label": "minilm_l3", "layers": 3, "seeds": [13], "no_kd": []},  # not trained: no row
        ],
    }


def test_the_no_kd_table_compares_with_the_published_teacher_and_names_it():
    text = report.frontier_no_kd_markdown(_no_kd_result())
    lines = {line.split(" |")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert lines["teacher (`frontier_full_dep.json`)"].count("100.0 %") == 2
    row = lines["minilm_l2, no KD"]
    assert "| 88.00 ± 1.41 |" in row and "97.8 %" in row and "97.5 %" in row  # 88 / 90, 78 / 80
    assert "| 4, 3 | 4 | 10.0 | 2 |" in row  # best epochs per seed, the transformer epochs, minutes, seeds
    assert "| 18 | 20 | 10.0 | 1 |" in lines["static_subword_e20, no KD"]  # its own epochs
    assert "minilm_l3" not in text
    assert "commit old, then, other" in text and "No speed is measured" in text
    bare = report.frontier_no_kd_markdown(_no_kd_result(reference=False))
    assert "| teacher (" not in bare and "No published frontier" in bare and "| 88.00 ± 1.41 |" in bare


def test_no_kd_only_names_its_own_file_reads_the_published_teacher_and_builds_no_kd_job(tmp_path):
    assert frontier.result_name("full", "dep", no_kd=True) == "frontier_full_dep_no_kd.json"
    assert frontier.result_name("full", "ner", "minilm", no_kd=True) == "frontier_full_ner_minilm_no_kd.json"
    for tag in (None, *frontier.TAGS):
        assert Path(frontier.result_name("full", "dep", tag, no_kd=True)).stem in report.FILE_RENDERERS
    assert frontier.reference_teacher(tmp_path / "missing.json") is None
    published = tmp_path / "frontier_full_ner.json"
    result = _result()
    result["teacher"].update({"dev": 75.0})
    published.write_text(json.dumps(result))
    assert frontier.reference_teacher(published) == {"file": "frontier_full_ner.json", "dev": 75.0, "test": 78.0,
                                                     "ood": 72.0, "git_commit": "abc", "date": "today", "cpu": "test"}

    class Args:
        regime, objective, transformer_epochs, transformer_seeds, student_epochs = "full", "structural", 4, 1, None

    spec = frontier.transfer.TASKS["dep"]
    data = {"train": "t", "dev": "d", "test": "e", "train_sentences": 12544}
    chosen = [s for s in frontier.STUDENTS if s[0] in ("static_subword", "minilm_l2")]
    plain = frontier.student_jobs(Args, spec, data, tmp_path, chosen, [13, 23], None)
    assert [(fields["student"], fields["kd"], fields["seed"]) for fields, *_ in plain] == [
        ("static_subword", False, 13), ("static_subword", False, 23), ("minilm_l2", False, 13)]
    assert [config for _, config, *_ in plain] == ["dep_static_subword_baseline", "dep_static_subword_baseline",
                                                  "dep_minilm_l3_baseline"]
    assert plain[2][2] == tmp_path / "frontier" / "minilm_l2" / "s13" / "no_kd"  # the full frontier's folder: reused
    assert plain[2][3]["trainer.num_epochs"] == 4 and plain[2][3]["random_seed"] == 13
    assert "model.teacher.archive" not in plain[2][3]
    both = frontier.student_jobs(Args, spec, data, tmp_path, chosen, [13, 23], {"model.teacher.archive": "a"})
    assert [job[:3] for job in both if not job[0]["kd"]] == [job[:3] for job in plain]
    assert [job[1] for job in both if job[0]["kd"]] == ["dep_static_subword_struct_kd"] * 2 + [
        "dep_minilm_l3_struct_kd"]


def test_no_kd_only_refuses_the_teachers_flags():
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "frontier.py"
    for flag in (["--merge"], ["--teacher", "x.tar.gz"]):
        done = subprocess.run([sys.executable, str(script), "dep", "--no-kd-only", *flag], capture_output=True, text=True)
        assert done.returncode == 2 and "--no-kd-only trains no teacher" in done.stderr


def test_no_kd_only_writes_the_shared_meta_its_students_and_renders_it(tmp_path, monkeypatch):
    published = tmp_path / "frontier_full_dep.json"
    published.write_text(json.dumps(_result()))
    trained = []

    def run_all(jobs, workers, data, key, advice):
        trained.extend(jobs)
        return [{**fields, "test": 80.0} for fields, *_ in jobs]

    rendered = []
    monkeypatch.setattr(frontier.transfer, "run_all", run_all)
    monkeypatch.setattr(frontier, "git_commit", lambda: "abc")
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: rendered.append(command))

    class Args:
        task, regime, objective, tag = "dep", "full", "structural", None
        transformer_epochs, transformer_seeds, student_epochs, workers = 4, None, None, 2
        results_dir = str(tmp_path / "results")

    data = {"train": "t", "dev": "d", "test": "e", "train_sentences": 12544, "ood": {"name": "UD-GUM"}}
    chosen = [s for s in frontier.STUDENTS if s[0] == "minilm_l3"]
    frontier.no_kd_only(Args, frontier.transfer.TASKS["dep"], data, tmp_path, chosen, [13], published, 0.0)
    assert [fields for fields, *_ in trained] == [{"student": "minilm_l3", "kd": False, "seed": 13}]
    path = tmp_path / "results" / "frontier_full_dep_no_kd.json"
    result = json.loads(path.read_text())
    assert {"command", "task", "regime", "metric", "ood_name", "train_sentences", "seeds", "student_epochs",
            "transformer_epochs", "machine", "git_commit", "date", "wall_seconds"} <= set(result["meta"])
    assert result["meta"]["metric"] == "LAS" and result["meta"]["seeds"] == [13]
    assert result["meta"]["git_commit"] == "abc"
    assert result["reference_teacher"]["file"] == "frontier_full_dep.json"
    assert result["students"][0]["no_kd"] == [{"student": "minilm_l3", "kd": False, "seed": 13, "test": 80.0}]
    assert rendered == [[frontier.sys.executable, str(frontier.ROOT / "benchmarks" / "report.py"), str(path)]]
