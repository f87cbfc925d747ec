# `make run` and `make test` install what is missing, then do their job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
# Python 3.13 runs the devhost in worker mode (azure-functions-runtime); `make test` tests both.
VENV313 := .venv313
PY313 := $(VENV313)/bin/python
PY313_STAMP := $(VENV313)/.installed
PROTOS_DIR := .local/worker-protos
NODE_STAMP := node_modules/.installed
WEB_DIST := web/dist/index.html
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
RUN_ARGS ?=

.PHONY: run test install lint bench local-azure clean web-build docs docs-serve client-test trust-dev-ca

install: $(PY_STAMP) $(NODE_STAMP) $(WEB_DIST) $(CHECKOV_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# python3.13 on PATH (if it runs: a pyenv shim may not), else the newest $(pyenv root)/versions/3.13.*.
$(PY313_STAMP): requirements.txt requirements-dev.txt
	@py=""; \
	if python3.13 -c "" >/dev/null 2>&1; then py=python3.13; \
	else root=$$(pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}"); \
	  py=$$(ls -d "$$root"/versions/3.13.*/bin/python3.13 2>/dev/null | sort -V | tail -n 1); fi; \
	if [ -z "$$py" ]; then \
	  echo "make: Python 3.13 is missing: no working python3.13 on PATH and none under \$$(pyenv root)/versions/3.13.*/bin/ (the devhost's worker mode is tested on it; install it, e.g. 'pyenv install 3.13')" >&2; \
	  exit 1; fi; \
	echo "make: $(VENV313) from $$py"; "$$py" -m venv $(VENV313)
	$(PY313) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY313) -m devhost.worker.protos_build $(PROTOS_DIR) >/dev/null
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
$(WEB_DIST): $(NODE_STAMP) web/build.mjs web/index.html web/style.css $(wildcard web/src/*.ts) $(wildcard clients/js/src/*.ts)
	node web/build.mjs

web-build: $(NODE_STAMP)
	node web/build.mjs

# Azurite + local_azure + the function app (func start if installed, else the devhost) on :7071.
# Options go through RUN_ARGS, e.g. make run RUN_ARGS="--port 7072".
run: install
	$(PY) -m devtools.run $(RUN_ARGS)

# Every suite that goes through the devhost, with the devhost on Python 3.13 in worker mode
# (DEVHOST_PYTHON/DEVHOST_MODE); its logs are kept as test-artifacts/*.worker-mode.log. Then the whole
# suite on Python 3.11 (devhost in direct mode); after it, the log hygiene hook scans every log of both passes.
DEVHOST_SUITES := tests/devhost tests/browser tests/evidence tests/telemetry

# The docs site (mkdocs.yml): strict, so a broken link or anchor, or a page missing from the nav, fails.
docs: $(PY_STAMP)
	$(PY) -m mkdocs build --strict --quiet

docs-serve: $(PY_STAMP)
	$(PY) -m mkdocs serve --strict --dev-addr 127.0.0.1:8000

# The token client for frontends (clients/js): esbuild + tsc into clients/js/dist, then its unit tests.
# Needs node_modules (`make install`; `test` installs first); no stamp prerequisite, so it never runs npm ci.
client-test:
	node clients/js/build.mjs
	node --test clients/js/test/

test: docs install $(PY313_STAMP) client-test
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo 'make: chromium not installed; browser tests will fail'
	@command -v certutil >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss3-tools >/dev/null; } || echo 'make: certutil (libnss3-tools) not installed; the trust-dev-ca test is skipped'
	rm -f test-artifacts/*.worker-mode.log
	DEVHOST_PYTHON=$(PY313) DEVHOST_MODE=worker $(PY) -m pytest $(DEVHOST_SUITES)
	cd test-artifacts && for f in *.log; do mv "$$f" "$${f%.log}.worker-mode.log"; done
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

local-azure: install
	$(PY) -m local_azure --data-dir .local/azure

# Let this user's Chromium and Firefox trust local_azure's dev CA (the local issuer is https); needs
# certutil (libnss3-tools). Touches only ~/.pki/nssdb and ~/.mozilla/firefox profiles. ARGS=--remove undoes it.
trust-dev-ca: $(PY_STAMP)
	$(PY) -m devtools.trust_dev_ca $(ARGS)

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(VENV313) $(CHECKOV_VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache test-artifacts site
