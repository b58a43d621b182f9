# `make demo` and `make check` are the README's two commands; .ci/run runs `make check`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo check bench install install-test system-deps lint typecheck test
# Real servers the tests start on loopback for themselves (Debian packages; CI runs as root).
SYSTEM_PACKAGES := prometheus-pushgateway redis-server jq

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e '.[test]'

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; \
	fi

demo: install
	$(VENV)/bin/resumer demo

check: system-deps install-test lint typecheck test

bench: system-deps install-test  # as long as bench/run.py says; needs curl (xargs baseline); writes bench/RESULTS.md
	$(PY) -m bench.run

lint:
	$(PY) -m ruff check resumer tests bench
	$(PY) -m ruff format --check resumer tests bench

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest -q
