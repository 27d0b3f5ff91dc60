# Scalelite Serverless — developer commands. Everything installs itself: a fresh machine needs only CPython.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SAMVENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: install venv sam-venv run test test-unit test-integration test-e2e lint format validate build bench deps deps-check clean

install: venv sam-venv ## idempotent set-up of both venvs

venv:
	@scripts/app-venv.sh

sam-venv:
	@scripts/sam-venv.sh >/dev/null

run: venv ## the local stack in the foreground (Ctrl-C stops all of it)
	@$(VENV)/bin/scalelite-local

test: install deps-check lint ## unit + integration + template checks, then e2e (own process: it runs the local stack), + lint
	@$(PY) -m pytest -n 2 --dist loadfile -q --ignore=tests/e2e
	@$(PY) -m pytest -q tests/e2e

test-unit: venv
	@$(PY) -m pytest -q tests/unit

test-integration: venv
	@$(PY) -m pytest -q tests/integration

test-e2e: venv
	@$(PY) -m pytest -q tests/e2e

lint: venv ## ruff + mypy (strict on our packages)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

format: venv
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

validate: sam-venv ## cfn-lint, sam validate, offline SAM→CloudFormation translation + lint (cycle check)
	@$(SAMVENV)/bin/python scripts/sam_checks.py

build: sam-venv ## sam build with the Lambda runtime's Python on PATH
	@scripts/sam-build.sh

bench: venv ## benchmarks print their figures (targets in the output)
	@$(PY) -m bench

deps: ## regenerate layers/common/requirements.txt from pyproject.toml
	@python3 scripts/deps.py

deps-check:
	@python3 scripts/deps.py --check

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
