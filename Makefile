# `make demo` and `make check` are the README's two commands; .ci/run runs `make check`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo check install install-test lint typecheck test

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

lint:
	$(PY) -m ruff check resumer tests
	$(PY) -m ruff format --check resumer tests

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest -q
