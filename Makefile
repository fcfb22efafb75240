# Chargeback Desk: `make run` serves a demo, `make test` runs every check. Both set everything up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Redocly CLI (npm, pinned in tools/openapi-lint/package-lock.json) lints the committed openapi.json.
LINTER := tools/openapi-lint
NODE_STAMP := $(LINTER)/node_modules/.installed

CLIENT := clients/typescript
CLIENT_STAMP := $(CLIENT)/node_modules/.installed

.PHONY: run test lint install clean bench openapi node-tools contract-deep

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

# npm packages, pinned by their lockfiles: Redocly CLI lints openapi.json; the TypeScript client is
# generated and type-checked in tests/contract. Without npm those tests skip with a message, unless
# CBD_REQUIRE_NODE=1 (CI) makes that a failure, as CBD_REQUIRE_POSTGRES does for PostgreSQL.
$(NODE_STAMP): $(LINTER)/package.json $(LINTER)/package-lock.json
	cd $(LINTER) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CLIENT_STAMP): $(CLIENT)/package.json $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP) $(CLIENT_STAMP); \
	else echo "npm not found: the Redocly lint and the TypeScript client test will be skipped (install Node.js 20.19+)"; fi

# Refresh the committed OpenAPI snapshot after changing the API (a test fails while it is stale).
openapi: $(STAMP)
	$(BIN)/chargeback-desk openapi > openapi.json

# The coverage floor sits a point or so below what the suite reaches (with or without PostgreSQL).
test: lint node-tools
	$(BIN)/pytest -n 2 --dist loadgroup --cov=app --cov-report=term-missing:skip-covered --cov-fail-under=92

# Schemathesis with a larger budget than the default suite's (CONTRACT_EXAMPLES, CONTRACT_SEED).
contract-deep: $(STAMP)
	CONTRACT_EXAMPLES=$${CONTRACT_EXAMPLES:-50} $(BIN)/pytest -n 2 -p no:cacheprovider tests/contract/test_schemathesis.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(LINTER)/node_modules var .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .coverage
	rm -rf $(CLIENT)/node_modules $(CLIENT)/dist $(CLIENT)/src/generated
