# quire: `make test` and `make demo` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: help venv test demo lint bench models clean

help:
	@echo "make demo   set up .venv (first run), read sample pages with the shipped models"
	@echo "make test   set up .venv (first run) and run the test suite"
	@echo "make lint   ruff and shellcheck"
	@echo "make bench  run the benchmarks in bench/, figures to bench/results/*.json"
	@echo "make models retrain the shipped models in models/ from scratch (see docs/layout.md)"
	@echo "make clean  remove .venv and caches"

$(STAMP): pyproject.toml constraints.txt
	@scripts/lib/check-system.sh $(PYTHON)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh demo --runner local

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/shellcheck -x $$(find scripts -name "*.sh" -o -name "*.sbatch") .ci/run .ci/slurm

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench

models: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/make-models.sh models --runner local

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache src/*.egg-info
