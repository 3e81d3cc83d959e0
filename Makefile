# The two user-facing commands: `make demo` and `make test`. Everything else here is plumbing for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck unit clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "judge needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	@touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/python -m judge.cli.demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check judge workers tests bench
	$(BIN)/ruff format --check judge workers tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy judge

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -n 3

test: lint typecheck unit

clean:
	rm -rf $(VENV) judge.db .pytest_cache .mypy_cache .ruff_cache
