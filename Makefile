# Two entry points for a fresh clone: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aitl-reid-installed
DEMO_CONFIG ?= configs/demo.yaml
DEMO_DIR ?= log/demo

.PHONY: install demo test test-fast synthetic mutation

$(STAMP): setup.py requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

synthetic: install
	$(PY) tools/make_synthetic.py --config-file $(DEMO_CONFIG) --if-missing

# aitl-reid-demo (aitl_reid.demo): the synthetic data when missing, training, curves, attention figure and attribute
# report in DEMO_DIR. A demo run before this one is moved aside into DEMO_DIR/previous-run-<date>/ (the trainer
# prints where), so the figures are of this run. The same command runs wherever the package is installed.
demo: install
	$(VENV)/bin/aitl-reid-demo --config-file $(DEMO_CONFIG) --out $(DEMO_DIR)

# One pytest worker per core (pytest-xdist), each test file on one worker (module fixtures built once), one
# intra-op thread per worker: most tests are single-threaded anyway, and two workers each running two threads
# on 2 cores wait on each other (docs/DEVELOPMENT.md has the measurements).
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -q -n auto --dist loadfile

# pytest exits 5 when it collected no test: that is a broken suite, not a pass. Every run lists the ten slowest
# tests: the suite has a budget (docs/DEVELOPMENT.md).
test: install
	$(PYTEST) --durations=10 tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test-fast: install
	$(PYTEST) -m "not slow" tests

# Mutation testing of the modules where a wrong number is silent (slow: minutes per module; docs/TESTING.md).
# MUTATION_MODULES="flops transforms" limits it; results in build/mutation/<module>/.
MUTATION_MODULES ?=
mutation: install
	$(PY) -m pip install -q -r requirements-mutation.txt
	$(PY) tools/mutation_test.py $(MUTATION_MODULES)
