# One Makefile: the README, CI (.ci/run) and developers all call these targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo run bench bench-pipeline bench-scaling nab test test-unit test-integration faults fuzz lint typecheck check schemas kafka-up kafka-down clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## install: venv, the package with its dev tools, and the Kafka broker's jars
install: $(STAMP)
	$(BIN)/gridwatch kafka jars

SAMPLE_REGISTRY := data/registry/shanghai-sample.geojson

## demo: set up, then the main job: broker (if none answers), worker, simulator, live view
demo: install
	$(BIN)/gridwatch demo

## run: local broker, topics, the sample registry, and a worker in the foreground (Ctrl-C stops it)
run: install
	$(BIN)/gridwatch kafka up
	$(BIN)/gridwatch topics create
	$(BIN)/gridwatch assets load $(SAMPLE_REGISTRY)
	$(BIN)/gridwatch worker

## bench: the engine benchmark (prints a table and JSON, writes bench-engine.json)
bench: $(STAMP)
	$(BIN)/gridwatch bench engine --out bench-engine.json

## bench-pipeline: the live path on one broker (starts the local one if none answers), writes bench-pipeline.json
bench-pipeline: install
	$(BIN)/gridwatch bench pipeline --out bench-pipeline.json

## bench-scaling: throughput, peak RSS and recovery over assets x partitions x workers, writes bench-scaling.json
bench-scaling: install
	$(BIN)/gridwatch bench scaling --out bench-scaling.json

## nab: the learned detector on the NAB subsets in ../shared/data/nab (NAB=DIR for another)
NAB ?= ../shared/data/nab
nab: $(STAMP)
	$(BIN)/gridwatch bench nab $(NAB) --out bench-nab.json

## test: unit, integration (real Kafka, started by the tests) and e2e tests
test: install
	$(BIN)/python -m pytest tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: install
	$(BIN)/python -m pytest tests/integration tests/e2e

## faults: the long fault runs: a larger city, 5 SIGKILLs in both replay modes, 3 workers, a 60 s broker outage
faults: install
	GRIDWATCH_FAULTS=long $(BIN)/python -m pytest tests/integration/test_faults.py -v

## fuzz: the decoder's property tests with 20,000 examples each (any bytes, any JSON, any field)
fuzz: install
	GRIDWATCH_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest tests/unit/test_bad_input.py -k decode -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## schemas: regenerate schemas/json from the models (a test fails on drift)
schemas: $(STAMP)
	$(BIN)/python -m schemas.export

kafka-up: install
	$(BIN)/gridwatch kafka up

kafka-down: $(STAMP)
	$(BIN)/gridwatch kafka down

clean: kafka-down
	rm -rf .gridwatch .pytest_cache .mypy_cache .ruff_cache
