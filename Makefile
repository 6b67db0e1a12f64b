# Procure: `make help` lists the targets. Everything is installed by the Makefile itself:
# uv into .tools/ (with the machine's python3), then the workspace into .venv/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

MEMBERS := pyproject.toml uv.lock shared/pyproject.toml tools/pyproject.toml $(wildcard services/*/pyproject.toml)
# The AsyncAPI 3 JSON schema our generated event document is checked against (vendored).
ASYNCAPI_SCHEMA := tests/data/asyncapi/asyncapi-3.0.0-schema.json

.PHONY: help runtime install browser up test check lint fmt docs bench smoke-up clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The runtime alone (what `make up` needs: the services and the tools group, the procure
# command), without removing the development tools if a test run installed them; the
# development group on top for tests, lint and benchmarks.
$(VENV)/.runtime: $(UV) $(MEMBERS)
	$(UV) sync --frozen --no-default-groups --group tools --inexact --python $(PYTHON)
	@touch $@

$(VENV)/.synced: $(UV) $(MEMBERS)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@ $(VENV)/.runtime

runtime: $(VENV)/.runtime

install: $(VENV)/.synced ## Install uv and the workspace with its development tools (.venv)

# Debian's chromium for the dashboard's browser test, where this machine lets us install it.
browser:
	@bash scripts/install-chromium.sh

# `make up AT=2023-07-24 RATE=3600`: the services' clock starts on that date (or ISO instant)
# and runs RATE times faster than real time (an hour a second); either may be left out.
# `make up WITHOUT=contracts` leaves that service to you: `.venv/bin/procure serve contracts`.
up: runtime ## Run the whole system on embedded servers (data in .procure/); Ctrl-C stops it
	$(if $(AT),PROCURE_CLOCK_START=$(AT)) $(if $(RATE),PROCURE_CLOCK_RATE=$(RATE)) \
		$(if $(WITHOUT),PROCURE_DEV_WITHOUT=$(WITHOUT)) $(BIN)/procure up

test: install browser ## Run every test against real PostgreSQL and nats-server (and chromium)
	$(BIN)/pytest

# The unit layer (pure rules, a few seconds), then one integration path of each feature against
# real PostgreSQL and NATS (the tests marked `check`); make test runs everything.
check: install ## The quick subset for the start of a session (under a minute)
	$(BIN)/pytest tests/unit -q -x --timeout 60
	$(BIN)/pytest -m check -q -x --timeout 120

lint: install ## ruff, mypy --strict and import-linter (and no merge conflict left in any file)
	@if git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . ; then echo "merge conflict markers left"; exit 1; fi
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared tools services tests
	$(BIN)/lint-imports
	$(BIN)/procure asyncapi | $(BIN)/check-jsonschema --schemafile '$(ASYNCAPI_SCHEMA)' -

docs: install ## Regenerate the generated documents (asyncapi.json, configuration.md, operations.md)
	$(BIN)/procure asyncapi --out docs/events/asyncapi.json
	$(BIN)/procure configuration --out docs/configuration.md
	$(BIN)/procure bus identities --out docs/operations.md

fmt: install ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## Run the benchmarks under bench/ (writes bench/results/)
	$(BIN)/python -m bench

smoke-up: install ## Start `make up`, kill everything with -9, start again: both must reach ready
	bash scripts/smoke-up.sh

# As root in a folder others may not enter, PostgreSQL's data lives in the temporary folder,
# .procure/postgres being a link to it: remove that too.
clean: ## Remove the environments and the embedded servers' data
	if [ -L .procure/postgres ]; then rm -rf "$$(dirname "$$(readlink .procure/postgres)")"; fi
	rm -rf $(VENV) $(TOOLS) .procure .mypy_cache .ruff_cache .pytest_cache test-output
