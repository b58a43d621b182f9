# One command for every check: `make check` (what .ci/run calls).
PY ?= .venv/bin/python

.PHONY: install check lint typecheck test demo bench-smoke

install:
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'

lint:
	$(PY) -m ruff check resumer tests bench
	$(PY) -m ruff format --check resumer tests bench

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest -q

check: lint typecheck test

demo:
	.venv/bin/resumer demo
