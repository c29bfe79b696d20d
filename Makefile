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

# DEMO_DIR is the data.save_dir of DEMO_CONFIG. A demo run before this one is moved aside into
# DEMO_DIR/previous-run-<date>/ (the trainer prints where), so the figures below are of this run.
demo: synthetic
	$(PY) tools/main.py --config-file $(DEMO_CONFIG) data.save_dir $(DEMO_DIR) train.existing_run move_aside
	$(PY) tools/plot_curves.py "ASTA + AITL=$(DEMO_DIR)/metrics.csv" --out $(DEMO_DIR)/dvdp_map.png
	$(PY) tools/visualize_attention.py --config-file $(DEMO_CONFIG) --out $(DEMO_DIR)/attention.png data.save_dir $(DEMO_DIR)
	@echo "Demo outputs (synthetic data):"
	@echo "  metrics per epoch : $(DEMO_DIR)/metrics.csv   (log: $(DEMO_DIR)/log.txt)"
	@echo "  DVDP / mAP curves : $(DEMO_DIR)/dvdp_map.png"
	@echo "  attention maps    : $(DEMO_DIR)/attention.png"
	@echo "  attribute report  : $(DEMO_DIR)/attributes_mars_attr.txt   (each attribute against the majority class)"
	@echo "  earlier demo runs : $(DEMO_DIR)/previous-run-<date>/   (if any: moved aside, never deleted)"

# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
test: install
	$(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test-fast: install
	$(PY) -m pytest -q -m "not slow" tests

# Mutation testing of the modules where a wrong number is silent (slow: minutes per module; docs/TESTING.md).
# MUTATION_MODULES="flops transforms" limits it; results in build/mutation/<module>/.
MUTATION_MODULES ?=
mutation: install
	$(PY) -m pip install -q -r requirements-mutation.txt
	$(PY) tools/mutation_test.py $(MUTATION_MODULES)
