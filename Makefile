# Two commands set up everything on a fresh machine:
#   make chat   - virtualenv, install, build the index if missing, open the chat UI
#   make test   - virtualenv, install, run the whole test suite (unit + integration)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install chat index test lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/assistant index

chat: install
	$(BIN)/assistant chat

lint: install
	$(BIN)/ruff check assistant tests evals benchmarks

test: install lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) index/chroma .cache .pytest_cache
