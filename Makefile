# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: install demo test lint unit integration e2e image bench clean

$(BIN)/modelrail: pyproject.toml example-model/requirements.txt example-model/serving/requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev,mlflow]" \
		-r example-model/serving/requirements-dev.txt
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

image: install
	$(BIN)/pytest -q tests/image

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests
	cd example-model && ../$(BIN)/pytest -q
	cd example-model/serving && ../../$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/pr_workflow.py
	$(BIN)/python bench/canary_judge.py
	$(BIN)/python bench/ab_sequential.py
	$(BIN)/python bench/serving_latency.py
	$(BIN)/python bench/monitor.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
