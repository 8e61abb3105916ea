# The two commands of a fresh machine: `make demo` (set up, run the main job) and
# `make test` (set up, run the tests). Both create .venv in the repo on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test quick lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sandbox tour

test: $(STAMP)
	$(BIN)/python -m pytest -n 2   # CI has 2 cores: one worker each (pytest-xdist)

quick: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check .
