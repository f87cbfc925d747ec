# `make run` and `make test` install what is missing, then do their job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test install lint bench local-azure clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(PY) -m devhost.run

test: install
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo 'make: chromium not installed; browser tests will fail'
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

local-azure: install
	$(PY) -m local_azure --data-dir .local/azure

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache test-artifacts
