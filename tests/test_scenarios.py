"""`benchmarks/scenarios.py`: Wang et al.'s scenarios gathered from the `transfer.py` suites — each
row's numbers are the suites' means, a softmax student is measured against its own plain student,
and a suite not yet run is named, with its command, never invented."""
import json

import pytest

from tests.benchmark_modules import load

scenarios = load("scenarios")
report = load("report")


def _suite(task, objectives, plain_of=None, teacher=(80.0, 70.0)):
    runs = []
    for seed, shift in ((13, 0.0), (23, 2.0)):
        runs.append({"model": "no KD", "seed": seed, "dev": 50 + shift, "test": 50 + shift, "ood": 40 + shift})
        for name, plain, (alone, added) in objectives:
            if plain != "no KD" and not any(r["model"] == plain and r["seed"] == seed for r in runs):
                runs.append({"model": plain, "seed": seed, "dev": 40 + shift, "test": 40 + shift, "ood": 30 + shift})
            runs.append({"model": name, "seed": seed, "dev": alone, "test": alone + shift, "ood": alone - 10})
            runs.append({"model": f"{name} + transfer set", "seed": seed, "dev": added, "test": added + shift,
                         "ood": added - 10})
    # a curve run is not a main row
    runs.append({"model": f"{objectives[0][0]} + 50 transfer sentences", "seed": 13, "dev": 0, "test": 0, "ood": 0,
                 "curve": True})
    metric, ood = ("LAS", "GUM") if task.startswith("dep") else ("F1", "UNER-PUD")
    meta = {"metric": metric, "ood_name": ood, "teacher_config": f"{task}_teacher", "seeds": [13, 23],
            "plain_of": plain_of or {}}
    return {"meta": meta, "teacher": {"test": teacher[0], "ood": teacher[1]}, "runs": runs}


def test_rows_are_the_suites_means_and_missing_suites_are_named(tmp_path):
    (tmp_path / "transfer_full_ner.json").write_text(json.dumps(_suite("ner", [("structural", "no KD", (54, 64))])))
    span = _suite("ner_span", [("structural, CRF student", "no KD", (55, 65)),
                               ("posterior, softmax student", "no KD, softmax student", (48, 60))],
                  plain_of={"posterior, softmax student": "no KD, softmax student"}, teacher=(78.0, 71.0))
    (tmp_path / "transfer_full_ner_span.json").write_text(json.dumps(span))
    result = scenarios.gather(tmp_path, "full")
    rows = {(r["task"], r["objective"]): r for r in result["rows"]}
    assert set(rows) == {("ner", "structural"), ("ner_span", "structural, CRF student"),
                         ("ner_span", "posterior, softmax student")}
    crf = rows[("ner", "structural")]
    # means over the two seeds (shift 0 and 2), the curve run left out
    assert crf["plain_test"] == 51.0 and crf["kd_test"] == 55.0 and crf["transfer_test"] == 65.0
    assert crf["transfer_ood"] == 54.0 and crf["teacher_test"] == 80.0
    softmax = rows[("ner_span", "posterior, softmax student")]
    assert softmax["plain"] == "no KD, softmax student" and softmax["plain_test"] == 41.0
    assert softmax["teacher_test"] == 78.0
    # both parsing suites are missing, named with the command that runs each
    missing = {(m["task"], m["objective"]) for m in result["missing"]}
    assert ("dep", "structural") in missing and ("dep_second_order", "local") in missing
    assert all(m["command"].startswith(f"python benchmarks/transfer.py {m['task']} --regime full")
               for m in result["missing"])

    markdown = report.scenarios_markdown(result)
    lines = markdown.splitlines()
    # the softmax student: 61 with the transfer set against its own 41 of a 37-point gap = 54 %
    assert ("| 4 | span (biaffine) ⇒ softmax tagger | posterior | exact | 78.00 / 71.00 F1 (UNER-PUD) "
            "| 41.00 | 49.00 | 61.00 | 50.00 | 54 % |") in lines
    assert "| 1a | linear-chain CRF ⇒ CRF tagger | structural | exact | 80.00 / 70.00 F1 (UNER-PUD) " \
           "| 51.00 | 55.00 | 65.00 | 54.00 | 48 % |" in lines
    assert markdown.count("`python benchmarks/transfer.py dep_second_order --regime full --reuse`") == 1
    assert "case 2b, second-order (siblings) ⇒ dependency tagger, structural" in markdown
    # the note names each row's teacher config (case 3's is no transformer), once per config
    assert "Teachers, trained as each suite says: `ner_teacher` (case 1a); `ner_span_teacher` (case 4) —" in markdown
    assert "case 2a" in markdown and "ner_softmax_student" in markdown  # missing: listed with its command


def test_a_suite_without_the_objective_is_an_error(tmp_path):
    (tmp_path / "transfer_full_ner.json").write_text(json.dumps(_suite("ner", [("posterior", "no KD", (54, 64))])))
    with pytest.raises(ValueError, match="no runs of the objective 'structural'"):
        scenarios.gather(tmp_path, "full")


def test_every_scenario_names_a_task_and_objective_transfer_py_runs():
    transfer = load("transfer")
    for case, task, objective, *_ in scenarios.SCENARIOS:
        assert objective in [name for name, _, _ in transfer.TASKS[task]["objectives"]], (case, task, objective)
