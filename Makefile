# Two commands do everything on a fresh machine (python3.11 + Java 17):
#   make demo   - run the demo job on the embedded (delta-rs) engine
#   make test   - run the test suite (Tier 1; the Spark+Delta tier reports why it is skipped)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-spark-delta bench wheel lint ddl clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-install when pyproject.toml changes.
$(VENV)/.demo-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[local]"
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[local,spark,dev]"
	touch $@ $(VENV)/.demo-deps

demo: $(VENV)/.demo-deps
	$(BIN)/fmd demo

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest

# Tier 2: the engine contract on Spark + Delta (needs the Delta jars: Maven access or FMD_DELTA_JARS).
test-spark-delta: $(VENV)/.test-deps
	$(BIN)/python -m pytest -m spark_delta -rs

bench: $(VENV)/.test-deps
	$(BIN)/python -m benchmarks

wheel: $(VENV)/.test-deps
	$(BIN)/python -m build --wheel --outdir dist

ddl: $(VENV)/.demo-deps
	$(BIN)/python -m fmd_runtime.store.ddl > sql/metadata_tables.sql

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) dist build .fmd-demo .pytest_cache
