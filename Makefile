# `make demo` and `make test` work on a fresh clone: each creates .venv first.
# torch is installed on its own, pinned, before the package: a looser request
# would pull the newest CUDA build (gigabytes) instead of the local CPU wheel.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test docs bench bench-quick lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[test,docs,benchmarks,distributed]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m skae.demo

test: $(VENV)/.installed
	$(PY) -m pytest -n 2

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

docs: $(VENV)/.installed
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench-quick: $(VENV)/.installed
	$(PY) benchmarks/run.py --quick

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/gen_modules
