# Scalelite Serverless — developer commands. Everything installs itself: a fresh machine needs only CPython.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SAMVENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

.PHONY: help shell deploy install venv sam-venv run test test-unit test-integration test-e2e lint format validate build bench cost deps lock deps-check clean

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

test-unit: venv ## unit tests only
	@$(PY) -m pytest -q tests/unit

test-integration: venv ## integration tests only
	@$(PY) -m pytest -q tests/integration

test-e2e: venv ## e2e tests only (they start the local stack)
	@$(PY) -m pytest -q tests/e2e

lint: venv ## ruff + mypy (strict on our packages) + template.yaml's CloudFront Functions match cloudfront/functions/
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(PY) scripts/cloudfront_functions.py --check

format: venv ## ruff format + fixes
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

validate: sam-venv ## cfn-lint, sam validate (+ --lint), offline SAM→CloudFormation translation + lint (cycles), IAM least privilege
	@$(SAMVENV)/bin/python scripts/sam_checks.py

build: sam-venv deps-check ## sam build with the Lambda runtime's Python on PATH (layer deps from the lock)
	@scripts/sam-build.sh

deploy: build ## sam deploy --guided (prompts; the LB secret is asked hidden, never saved)
	@$(SAMVENV)/bin/sam deploy --guided

shell: venv ## a shell with .venv activated (scalelite, bbbctl, scalelite-local on PATH)
	@bash --rcfile <(echo '. ~/.bashrc 2>/dev/null; . $(VENV)/bin/activate')

bench: venv ## benchmarks print their figures (targets in the output)
	@$(PY) -m bench

cost: venv ## monthly AWS cost at the reference load, from counts measured on the handlers (docs/cost.md)
	@$(PY) -m bench.cost_model

# uv (pinned in scripts/uv.sh) installs itself into .venv-uv on first use.
# `make deps UPGRADE=boto3` upgrades one locked package, `make deps UPGRADE=all` all of them.
UPGRADE ?=
deps: ## re-lock uv.lock from pyproject.toml and export layers/common/requirements.txt (UPGRADE=pkg|all)
	@python3 scripts/deps.py $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

lock: deps ## alias of deps

deps-check: ## uv.lock matches pyproject.toml and layers/common/requirements.txt matches uv.lock (offline)
	@python3 scripts/deps.py --check

clean: ## remove build and tool caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
