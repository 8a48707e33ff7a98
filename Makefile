# allennlp-subkd: `make demo` runs the main job, `make test` the tests (`make test-gpu` the GPU
# checks alone). Each first creates .venv (Python 3.10, the stack pinned by constraints.txt) when
# it is missing or stale.
SHELL := /bin/bash
PYTHON_VERSION ?= 3.10.13
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Python 3.10: pyenv's 3.10.13 where pyenv is installed, else python3.10 on the PATH.
PYTHON310 ?= $(shell PYENV_VERSION=$(PYTHON_VERSION) pyenv which python 2>/dev/null || command -v python3.10)

.PHONY: install test test-gpu demo readme-tables bench-kernels bench-ner bench-dep bench-ner-sweep bench-dep-sweep bench-ner-casing bench-static-options bench-char-cap bench-transfer bench-transfer-student bench-scenarios bench-frontier bench-mfvi bench-audit bench-case1b bench-ensemble bench-agreement bench-install fixtures clean

install: $(STAMP)

$(STAMP): setup.py constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (pyenv install $(PYTHON_VERSION)) or set PYTHON310=/path/to/python3.10"; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests -q

# The tests marked gpu (tests/gpu: distilled students on cuda:0 against the CPU); `make test`
# collects them too and skips them where torch sees no CUDA device.
test-gpu: $(STAMP)
	$(PY) -m pytest tests/gpu -q -m gpu

demo: $(STAMP)
	$(PY) scripts/demo.py

# Render the results tables of README.md, benchmarks/README.md and docs/ from benchmarks/results/*.json
# (between <!-- results:NAME --> markers; tests/test_report.py checks they are up to date).
readme-tables: $(STAMP)
	$(PY) benchmarks/report.py readme

# Rebuild the committed sample and fixture teachers (needs ../shared/data).
fixtures: $(STAMP)
	$(PY) scripts/make_sample.py --data-dir ../shared/data --out fixtures/data
	$(PY) scripts/make_fixture_teachers.py

clean:
	rm -rf $(VENV) demo_out build *.egg-info

# Benchmarks (not tests): the `bench` extra (pytorch-struct, matplotlib) is installed first.
# BENCH_ARGS passes options, e.g. make bench-ner BENCH_ARGS="--quick" or "--data-dir /data".
bench-install: $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e ".[bench]"

# Real-data accuracy and training cost: benchmarks/results/{ner,dep}.{json,md,png}.
bench-ner: bench-install
	$(PY) benchmarks/run.py ner $(BENCH_ARGS)

bench-dep: bench-install
	$(PY) benchmarks/run.py dep $(BENCH_ARGS)

# Transfer sets, two regimes (low-resource: 1,000 labeled sentences + the other 11.2k EWT training
# sentences unlabeled; full: all of EWT + GUM/LinES unlabeled), NER and parsing, in and out of domain:
# benchmarks/results/transfer_{low,full}_{ner,dep}.{json,md,png}. REGIME=low|full; BENCH_ARGS=--reuse
# resumes, --fresh starts over (a regime folder with runs in it is refused without one of them).
REGIME ?= low
bench-transfer: bench-install
	$(PY) benchmarks/transfer.py ner --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/transfer.py dep --regime $(REGIME) $(BENCH_ARGS)

# The same suites with a student preset (STUDENT=static_subword|minilm_l3), reusing the teachers
# and stores of bench-transfer: benchmarks/results/transfer_{low,full}_{ner,dep}_$(STUDENT).*
STUDENT ?= static_subword
bench-transfer-student: bench-install
	$(PY) benchmarks/transfer.py ner --regime $(REGIME) --student $(STUDENT) --reuse $(BENCH_ARGS)
	$(PY) benchmarks/transfer.py dep --regime $(REGIME) --student $(STUDENT) --reuse $(BENCH_ARGS)

# Which student for which CPU budget (issue 17): tiny, static-subword and 1/2/3-layer MiniLM
# students, no KD and KD + transfer set, then their CPU speed beside the teacher's (run it alone):
# benchmarks/results/frontier_$(REGIME)_{ner,dep}.*  (REGIME=full for the published frontier)
bench-frontier: bench-install
	$(PY) benchmarks/frontier.py ner --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/frontier.py dep --regime $(REGIME) $(BENCH_ARGS)

# Wang et al.'s cases 2a (the NER CRF teacher, shared with bench-transfer, into a softmax student) and
# 3 (a softmax teacher into the CRF student), scenario 4 (span NER teacher) and case 2b (second-order
# parser teacher) rows: the transfer suite with those teachers (about an hour per transformer teacher
# on 2 cores, --reuse resumes): benchmarks/results/transfer_$(REGIME)_{ner_softmax_student,
# ner_softmax_teacher,ner_span,dep_second_order}.*, then all beside the first-order teachers' rows:
# benchmarks/results/scenarios_$(REGIME).* (benchmarks/scenarios.py)
bench-scenarios: bench-install
	$(PY) benchmarks/transfer.py ner_softmax_student --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/transfer.py ner_softmax_teacher --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/transfer.py ner_span --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/transfer.py dep_second_order --regime $(REGIME) $(BENCH_ARGS)
	$(PY) benchmarks/scenarios.py --regime $(REGIME)

# How far the second-order parser's MFVI marginals are from the exact ones (enumeration, short
# dev sentences): benchmarks/results/mfvi_gap.*
bench-mfvi: bench-install
	$(PY) benchmarks/mfvi_gap.py --data ../shared/data/ud_ewt/en_ewt-ud-dev.conllu $(BENCH_ARGS)
	$(PY) benchmarks/report.py benchmarks/results/mfvi_gap.json

# Does every shipped KD config beat its plain student? Reads the published full-data results
# (trains nothing): benchmarks/results/defaults_audit.*
bench-audit: bench-install
	$(PY) benchmarks/defaults_audit.py

# Choosing the NER KD defaults on dev (needs the teacher: make bench-ner BENCH_ARGS=--only-teacher)
# and the casing input of the transformer teacher: benchmarks/results/ner_{sweep,teacher_casing}.*
bench-ner-sweep: bench-install
	$(PY) benchmarks/sweep.py ner $(BENCH_ARGS)

bench-ner-casing: bench-install
	$(PY) benchmarks/teacher_casing.py $(BENCH_ARGS)

# The static-subword student's table frozen or trainable, projected or not, chosen on dev
# (benchmarks/results/static_subword_options.*)
bench-static-options: bench-install
	$(PY) benchmarks/static_subword_options.py $(BENCH_ARGS)

# How many characters of a word the character CNN reads (capped_characters at load time) and where
# the taggers' CPU time goes, on the archives of bench-frontier (REGIME=full, --tag minilm; run it
# alone): benchmarks/results/{char_cap,student_profile}.*
bench-char-cap: bench-install
	$(PY) benchmarks/char_cap.py --reuse --retrain --throughput-caps 0 50 $(BENCH_ARGS)
	$(PY) benchmarks/profile_student.py

# What sub-structure KD should match for parsers, and how many teacher heads the relation terms
# need: a dev sweep on the shipped sample with make demo's parser teacher
# (benchmarks/results/dep_sweep.*; pass BENCH_ARGS="--teacher ARCHIVE" for another teacher).
bench-dep-sweep: bench-install
	$(PY) benchmarks/sweep.py dep $(BENCH_ARGS)

# Beyond one teacher and one student kind, on the full data, reusing the teachers of bench-ner /
# bench-dep: a parser teaching a sequence-labelling parser (case 1b) and a two-teacher ensemble:
# benchmarks/results/{dep_tagger,ner_ensemble}.{json,md}.
bench-case1b: bench-install
	$(PY) benchmarks/extra.py case1b $(BENCH_ARGS)

bench-ensemble: bench-install
	$(PY) benchmarks/extra.py ensemble $(BENCH_ARGS)

# How well each student imitates its teacher (agreement, KL, calibration) on the test set:
# benchmarks/results/{ner,dep}_agreement.{json,md}; needs the runs of bench-ner / bench-dep.
bench-agreement: bench-install
	$(PY) benchmarks/agreement.py ner $(BENCH_ARGS)
	$(PY) benchmarks/agreement.py dep $(BENCH_ARGS)

# Kernel benchmark against pytorch-struct; writes benchmarks/results/kernels.{json,md}.
bench-kernels: bench-install
	$(PY) benchmarks/kernels.py --json benchmarks/results/kernels.json --markdown benchmarks/results/kernels.md
