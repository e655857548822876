# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= .signalhub
LISTEN ?= 127.0.0.1:50051
METRICS_LISTEN ?= 127.0.0.1:9464

.PHONY: run test lint typecheck proto bench-match install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The installed package is the project in editable mode; the stamp files re-run pip only when
# pyproject.toml changes.
$(VENV)/.installed: pyproject.toml matcher/_core/pdqcore.c | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The TLSH example plug-in is installed too: the suite proves a type can be added from outside.
$(VENV)/.installed-dev: pyproject.toml matcher/_core/pdqcore.c \
                        examples/plugins/signalhub-tlsh/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,pytx]'
	$(BIN)/pip install --quiet -e examples/plugins/signalhub-tlsh
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## make run: install, initialise $(DATA) with a demo member, start the hub in the foreground.
run: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" DATA="$(DATA)" LISTEN="$(LISTEN)" \
	    METRICS_LISTEN="$(METRICS_LISTEN)" bash scripts/run-demo

## make test: install dev dependencies, lint, type-check and run the whole suite.
test: $(VENV)/.installed-dev lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

# lint-imports: the import contracts of pyproject.toml (docs/architecture.md).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/plugins/signalhub-tlsh/signalhub_tlsh

## make proto: regenerate signalhub/v1 and signalhub/storage/v1 from proto/.
proto: $(VENV)/.installed-dev
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. \
	    proto/signalhub/v1/*.proto
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. \
	    proto/signalhub/storage/v1/*.proto

## make bench-match: the matcher benchmark against faiss and numpy (needs the bench extra).
bench-match: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.match $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DATA)
