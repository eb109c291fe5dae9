# Lead scoring. `make all` runs the whole job on the sample data; `make test` runs the tests.
# Both install what they need into .venv/ (uv, from the pinned uv.lock). `make test-fast` leaves
# out the tests marked slow (they train a model or run a notebook).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
BIN := .venv/bin
CONFIG ?= config/default.yaml
SAMPLE_AS_OF ?= 2026-11-01T00:00:00
LEADS ?= 20000

export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
export UV_PROJECT_ENVIRONMENT := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1

.PHONY: help all setup data train retrain score test test-fast test-serving lint format docs bench bench-large bench-shortcuts lab ui clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

all: setup data train score ## Fresh machine: install, generate sample data, train, register, score

# -qq: only errors; pip's warnings about this machine's own index settings are not the project's
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --quiet uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: .venv/.synced ## Install the locked environment into .venv/

data: setup ## Generate the sample CRM export in data/raw/ (LEADS=20000)
	$(BIN)/leadscore generate --leads $(LEADS) --out data/raw

data/raw/leads.csv:
	$(MAKE) data

train: setup data/raw/leads.csv ## Train, evaluate, log to MLflow, register (CONFIG=...)
	$(BIN)/leadscore train --config $(CONFIG)

retrain: setup data/raw/leads.csv ## Train only when due (champion age, new outcomes); else "not due:"
	$(BIN)/leadscore retrain --config $(CONFIG)

score: setup ## Score the sample's open leads into data/scored/scores.csv
	$(BIN)/leadscore score --config $(CONFIG) --leads data/raw/open_leads.csv \
		--activities data/raw/activities.csv --as-of $(SAMPLE_AS_OF)

test: setup ## Run the test suite (slow tests included)
	$(BIN)/pytest

# -m replaces the -m of pyproject's addopts, so it repeats "not serving"
test-fast: setup ## The tests that train no model and run no notebook (under a minute)
	$(BIN)/pytest -n auto --dist loadfile -m "not slow and not serving"

test-serving: setup ## Spark (local[2]) and REST serving tests; installs the spark extra
	$(UV) sync --frozen --python $(PYTHON) --extra spark
	$(BIN)/pytest -m serving

lint: setup ## ruff lint and format check, then vulture (unused code; config in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m vulture

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: setup ## Build the docs site into site/ (mkdocs build --strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup ## Benchmarks at 100k and 1M leads; writes bench/results.json
	$(BIN)/python bench/run.py

bench-large: setup ## Train on 1M leads / ~20M events (~10 min more); adds train_1m_* to results
	$(BIN)/python bench/run.py --large

bench-shortcuts: setup ## AUC and time cost of each training.scale shortcut on 100k (~15 min)
	$(BIN)/python bench/shortcuts.py

lab: setup ## Jupyter Lab on notebooks/
	$(UV) sync --frozen --python $(PYTHON) --group lab
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

ui: setup ## MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000

clean: ## Remove generated data, models and the environment
	rm -rf .venv .uv data/raw data/scored models
