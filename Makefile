# `make run` and `make test` are the two set-up commands: each creates .venv and installs what it needs.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data

.PHONY: run test check install install-test system-deps lint bench soak web modes2d clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip

# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The page: npm packages from the committed lockfile, then the vendored browser builds copied into web/vendor.
web/vendor/.built: web/package.json web/package-lock.json web/build.mjs
	cd web && npm ci --no-audit --no-fund --loglevel=error
	cd web && npm run --silent build
	touch $@

web: web/vendor/.built

install: $(VENV)/.installed web/vendor/.built

install-test: $(VENV)/.installed-test web/vendor/.built system-deps

# Debian packages the suite needs; installed when root, named otherwise.
system-deps:
	@./scripts/system-deps.sh

run: install
	mkdir -p $(DATA_DIR)
	$(BIN)/ganplay serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# The toolchain first (lint, format, types, the page's pure modules), then the whole suite.
test: install-test check
	$(BIN)/python -m pytest

check: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd web && node --test test/

# The long fault/load variants (marker soak), deselected from make test.
soak: install-test
	$(BIN)/python -m pytest -m soak

lint: check

modes2d: install
	$(BIN)/python benchmarks/modes2d.py --seeds 3

# Every benchmark, sized to fit 15 minutes on 2 cores, then a summary table beside the goals (benchmarks/run_all.py).
bench: install-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache web/node_modules web/vendor
