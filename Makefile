# `make run` and `make test` install what is missing, then do their job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WEB_DIST := web/dist/index.html
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
RUN_ARGS ?=

.PHONY: run test install lint bench local-azure clean web-build

install: $(PY_STAMP) $(NODE_STAMP) $(WEB_DIST) $(CHECKOV_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov in a virtualenv of its own (its pinned dependencies clash with the test tools').
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo page: bundled by esbuild into web/dist (gitignored), rebuilt when its sources change.
$(WEB_DIST): $(NODE_STAMP) web/build.mjs web/index.html web/style.css $(wildcard web/src/*.ts)
	node web/build.mjs

web-build: $(NODE_STAMP)
	node web/build.mjs

# Azurite + local_azure + the function app (func start if installed, else the devhost) on :7071.
# Options go through RUN_ARGS, e.g. make run RUN_ARGS="--port 7072".
run: install
	$(PY) -m devhost.run $(RUN_ARGS)

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
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache test-artifacts
