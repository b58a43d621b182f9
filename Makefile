# `make demo` and `make check` are the README's two commands; .ci/run runs `make check`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo check bench install install-test lint typecheck test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e '.[test]'

demo: install
	$(VENV)/bin/resumer demo

check: install-test lint typecheck test

bench: install-test  # about 7 minutes; needs curl for the xargs baseline; writes bench/RESULTS.md
	$(PY) -m bench.run

lint:
	$(PY) -m ruff check resumer tests bench
	$(PY) -m ruff format --check resumer tests bench

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest -q
