# Two commands set up everything on a fresh machine:
#   make chat   - virtualenv, install, build the index if missing, open the chat UI
#   make test   - virtualenv, install, run the whole test suite (unit + integration)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser chat index test lint bench clean

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

# The browser tests drive Debian's Chromium. In CI (CI=true) it must be there; elsewhere the
# tests skip, saying why, when it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "Installing Chromium for the browser tests (apt-get install chromium)..." \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || [ "$$CI" != "true" ]

test: install lint browser
	$(BIN)/pytest

# Speed and memory figures next to the raw model and a naive LangChain baseline (not a test).
bench: install
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) index/chroma .cache .pytest_cache
