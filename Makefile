# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: install demo test lint unit integration e2e bench clean

$(BIN)/modelrail: pyproject.toml example-model/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev,mlflow]" \
		-r example-model/requirements.txt
	touch $@

install: $(BIN)/modelrail

demo: install
	$(BIN)/python -m demo.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests/lint

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install
	$(BIN)/pytest -q tests/e2e

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests

bench: install
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/pr_workflow.py
	$(BIN)/python bench/canary_judge.py
	$(BIN)/python bench/ab_sequential.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
