# careops: two commands do everything on a fresh Debian 12 machine.
#   make demo   bring up the lab and run the main job on it, with a summary
#   make test   lint and the whole test suite (pytest against the lab, molecule)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup image lab-up lab-down lab-status lint pytest molecule test demo clean

help:
	@echo "make demo       bring up the lab (emulated AWS + podman fleet) and run the main job"
	@echo "make test       lint and the whole test suite"
	@echo "make lab-up     bring the lab up and leave it running (state in .lab/)"
	@echo "make lab-down   stop the lab and remove its containers"
	@echo "make lint       ansible-lint (production), yamllint, ruff"

setup: $(VENV)/.requirements.sha256

$(VENV)/.requirements.sha256: requirements.txt scripts/bootstrap.sh
	@bash scripts/bootstrap.sh

image: setup
	@$(PY) -m lab image

lab-up: setup
	@$(PY) -m lab up

lab-down: setup
	@$(PY) -m lab down

lab-status: setup
	@$(PY) -m lab status

lint: setup
	@echo "== yamllint"
	@$(BIN)/yamllint --strict .
	@echo "== ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@echo "== detect-secrets"
	@bash scripts/check_secrets.sh
	@echo "== ansible-lint (production profile)"
	@$(BIN)/ansible-lint --strict

pytest: setup image
	@echo "== pytest"
	@$(BIN)/pytest

molecule: setup image
	@for config in molecule/*/molecule.yml; do \
	  [ -f "$$config" ] || continue; \
	  scenario=$$(basename "$$(dirname "$$config")"); \
	  echo "== molecule test -s $$scenario"; \
	  $(BIN)/molecule test -s "$$scenario"; \
	done

test: lint pytest molecule
	@echo "== make test: all passed"

demo: setup
	@bash scripts/demo.sh

clean: lab-down
	@rm -rf .cache reports
