# StatsBot: every target bootstraps .venv from requirements.lock when it is missing or stale.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install run demo sandbox test unit integration lint format bench lock clean

help:  ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $@

install: $(STAMP)  ## Create .venv and install pinned dependencies

run: $(STAMP)  ## Run the bot against Discord (settings from the environment / .env)
	$(PY) -m src run

demo: $(STAMP)  ## Watch the bot work against the embedded Discord sandbox (no token needed)
	$(PY) -m src demo

# `@`: make's echo of the command would land on stdout ahead of the JSON line or the --print-env exports.
sandbox: $(STAMP)  ## Run the Discord emulator alone (prints its URLs as JSON); options: ARGS="--members 10000 --print-env"
	@$(PY) -m src sandbox $(ARGS)

test: $(STAMP)  ## Unit and integration tests with branch coverage (what CI runs)
	$(PY) -m pytest -q --cov --cov-report=term:skip-covered tests/unit tests/integration

unit: $(STAMP)  ## Unit tests only
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)  ## Integration tests only (the real bot and discord.py against the sandbox)
	$(PY) -m pytest -q tests/integration

lint: $(STAMP)  ## ruff and mypy --strict
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests
	$(PY) -m mypy

format: $(STAMP)  ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix src tests
	$(PY) -m ruff format src tests

bench: $(STAMP)  ## Benchmarks against the sandbox; writes bench/results.json and bench/results.md
	$(PY) -m tests.performance.run_bench

lock: $(STAMP)  ## Re-pin requirements.lock to what .venv has installed (pip freeze, run after changing it)
	$(PY) -m pip freeze --exclude-editable | grep -v '^statsbot' > requirements.lock

clean:  ## Remove the virtual environment, caches and coverage data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info .coverage
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
