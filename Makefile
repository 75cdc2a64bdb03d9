# Samvaad: every target sets up what it needs on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run demo test test-fast lint format protos check-protos migrate bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv and install Samvaad with its dev tools

run: $(STAMP) ## migrate the database and start the server on 127.0.0.1:50051
	$(BIN)/python -m server

demo: $(STAMP) ## a whole practice interview against the server of `make run` (start it first)
	$(BIN)/python -m clients.demo

migrate: $(STAMP) ## apply database migrations (DATABASE_URL or SQLite in ./var)
	$(BIN)/python -m server.db.migrate

test: $(STAMP) ## run the test suite (PostgreSQL too when SAMVAAD_TEST_POSTGRES_URL is set)
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
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
