# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: system-packages install gitlab-ci-local locks demo test lint unit integration e2e image bench clean
# Prerequisites in the order written: the system packages before the venv (python3-venv).
.NOTPARALLEL:

# uv's version and hashes come from requirements/uv.txt, compiled from pyproject's dev extra.
$(BIN)/modelrail: pyproject.toml requirements/uv.txt example-model/requirements.txt example-model/serving/requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r requirements/uv.txt
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev,mlflow]" \
		-r example-model/serving/requirements-dev.txt
	touch $@

install: $(BIN)/modelrail

# gitlab-ci-local (npm), which runs the GitLab components in the e2e tests: the exact
# version and integrity hashes of tools/gitlab-ci-local/package-lock.json, installed into
# that folder (git-ignored node_modules) by `npm ci`, never globally.
GITLAB_CI_LOCAL := tools/gitlab-ci-local/node_modules/.bin/gitlab-ci-local
$(GITLAB_CI_LOCAL): tools/gitlab-ci-local/package.json tools/gitlab-ci-local/package-lock.json
	npm ci --prefix tools/gitlab-ci-local --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

gitlab-ci-local: $(GITLAB_CI_LOCAL)

# Rewrites the hash-locked requirements/*.txt that install-modelrail.sh installs (needs PyPI).
locks: install
	$(BIN)/python scripts/lock_requirements.py

# Installs the Debian packages the target needs when one is missing (as root or with
# password-less sudo), else stops with one message naming them and the command to run.
SYSTEM_PACKAGES_FOR ?= test
system-packages:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/install-system-packages.sh $(SYSTEM_PACKAGES_FOR)

demo: SYSTEM_PACKAGES_FOR = demo
demo: system-packages install gitlab-ci-local
	$(BIN)/python -m demo.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests/lint

unit: install
	$(BIN)/pytest -q tests/unit

integration: system-packages install
	$(BIN)/pytest -q tests/integration

e2e: system-packages install gitlab-ci-local
	$(BIN)/pytest -q tests/e2e

image: system-packages install
	$(BIN)/pytest -q tests/image

# Two workers: most of the suite waits on act, servers and canary holds, not on a core.
# Each file stays on one worker (its module fixtures run once); tests/conftest.py hands
# out the slowest folders first.
TEST_WORKERS ?= 2
test: system-packages install gitlab-ci-local
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 tests
	cd example-model && ../$(BIN)/pytest -q
	cd example-model/serving && ../../$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/pr_workflow.py
	$(BIN)/python bench/canary_judge.py
	$(BIN)/python bench/ab_sequential.py
	$(BIN)/python bench/ab_group_sequential.py
	$(BIN)/python bench/serving_latency.py
	$(BIN)/python bench/monitor.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
