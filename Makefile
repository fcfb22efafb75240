# Chargeback Desk: `make run` serves a demo, `make test` runs every check. Both set everything up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_STAMP := clients/typescript/node_modules/.installed

.PHONY: run test lint install clean bench client-deps contract-deep

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/chargeback-desk demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/hadolint Dockerfile

# The TypeScript client's pinned packages (tests/contract); without npm that test says it is skipped.
$(NODE_STAMP): clients/typescript/package.json clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

client-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the TypeScript client test will be skipped (CBD_REQUIRE_NODE=1 fails it)"; fi

# The coverage floor sits a point or so below what the suite reaches (with or without PostgreSQL).
test: lint client-deps
	$(BIN)/pytest -n 2 --dist loadgroup --cov=app --cov-report=term-missing:skip-covered --cov-fail-under=92

# Schemathesis with a larger budget than the default suite's (CONTRACT_EXAMPLES, CONTRACT_SEED).
contract-deep: $(STAMP)
	CONTRACT_EXAMPLES=$${CONTRACT_EXAMPLES:-50} $(BIN)/pytest -n 2 -p no:cacheprovider tests/contract/test_schemathesis.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .coverage
	rm -rf clients/typescript/node_modules clients/typescript/dist clients/typescript/src/generated
