# simlab: `make setup` prepares everything (venv, Docker engine, host image),
# `make test` runs the whole suite, `make bench` measures speed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup venv engine image tools lint test unit bench clean

setup: venv engine image

venv: $(BIN)/simlab

$(BIN)/simlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Starts an engine only where none answers (and only on Debian as root).
engine: venv
	scripts/ensure-engine.sh $(BIN)/python

image: venv engine
	$(BIN)/simlab image build --if-missing

# Debian's chromium, tmux and tshark, for the tests that use them as a person would.
tools:
	scripts/ensure-tools.sh

# ruff: pyflakes, pycodestyle, import order, bugbear, pyupgrade (pyproject.toml [tool.ruff]);
# mypy: the types of simlab (pyproject.toml [tool.mypy]).
lint: venv
	$(BIN)/ruff check simlab tests
	$(BIN)/mypy simlab

test: setup tools lint
	$(BIN)/python -m pytest -v

unit: venv
	$(BIN)/python -m pytest -v -m "not engine"

bench: setup
	bench/run

# Removes the virtualenv only: labs are removed with `simlab down`, never wholesale here.
clean:
	rm -rf $(VENV) *.egg-info
