# Two commands do everything on a fresh machine (python3.11, Java 17, Maven):
#   make demo   - run the demo job on the embedded (delta-rs) engine
#   make test   - run the whole suite: delta-rs, and Spark + Delta for Fabric Runtime 1.3
#                 (.venv: Spark 3.5 / Delta 3.2.1) and Runtime 2.0 (.venv-rt20: Spark 4.1 /
#                 Delta 4.2.0). The Delta jars are resolved by Maven into .cache/jars.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RT20   := .venv-rt20
BIN20  := $(RT20)/bin
# The jar cache the suite's Spark sessions read (fmd_runtime.testing); ignored by git.
export FMD_JAR_CACHE ?= $(CURDIR)/.cache/jars
PYTEST_SPARK := -m "spark_delta or spark"

.PHONY: demo test test-rt13 test-rt20 test-spark-delta jars bench wheel lint typecheck ddl clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(BIN20)/python:
	$(PYTHON) -m venv $(RT20)
	$(BIN20)/python -m pip install -q --upgrade pip

# Stamps re-install when pyproject.toml changes.
$(VENV)/.demo-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[local]"
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[local,spark,dev]"
	touch $@ $(VENV)/.demo-deps

$(RT20)/.test-deps: pyproject.toml | $(BIN20)/python
	$(BIN20)/python -m pip install -q -e ".[local,spark4,dev]"
	touch $@

# The Delta jars of each runtime (Maven -> .cache/jars). A machine that cannot resolve them
# goes on: the Spark+Delta tests then skip with the reason (fail under FMD_REQUIRE_SPARK_DELTA=1).
jars: $(VENV)/.test-deps $(RT20)/.test-deps
	-$(BIN)/python -m fmd_runtime.testing resolve
	-$(BIN20)/python -m fmd_runtime.testing resolve

demo: $(VENV)/.demo-deps
	$(BIN)/fmd demo

# The tiers run side by side: the delta-rs tier (Runtime 1.3's venv, in the foreground), and
# each runtime's Spark tier as two shards (FMD_TEST_SHARD, whole files; each process its own JVM
# and one Spark session). Local Spark spends most of a test waiting on task scheduling, so the
# four sessions take little more than the longest shard. The Spark logs are printed after the
# delta-rs tier's output; any tier failing fails the target.
SPARK_SHARDS := rt13-1 rt13-2 rt20-1 rt20-2
test: jars
	$(MAKE) --no-print-directory lint typecheck
	@mkdir -p .cache; \
	FMD_TEST_SHARD=1/2 $(BIN)/python -m pytest $(PYTEST_SPARK) > .cache/test-rt13-1.log 2>&1 & p1=$$!; \
	FMD_TEST_SHARD=2/2 $(BIN)/python -m pytest $(PYTEST_SPARK) > .cache/test-rt13-2.log 2>&1 & p2=$$!; \
	FMD_TEST_SHARD=1/2 $(BIN20)/python -m pytest $(PYTEST_SPARK) > .cache/test-rt20-1.log 2>&1 & p3=$$!; \
	FMD_TEST_SHARD=2/2 $(BIN20)/python -m pytest $(PYTEST_SPARK) > .cache/test-rt20-2.log 2>&1 & p4=$$!; \
	$(BIN)/python -m pytest -m "not spark_delta and not spark"; rc=$$?; \
	for p in $$p1 $$p2 $$p3 $$p4; do wait $$p || rc=1; done; \
	for s in $(SPARK_SHARDS); do \
	  echo "======== Spark + Delta tier, $$s (-m \"spark_delta or spark\") ========"; \
	  cat .cache/test-$$s.log; \
	done; \
	test $$rc -eq 0

# One runtime at a time: everything on Runtime 1.3's venv, or the Spark tier of Runtime 2.0.
test-rt13: jars
	$(BIN)/python -m pytest
test-rt20: jars
	$(BIN20)/python -m pytest $(PYTEST_SPARK)
test-spark-delta: jars
	$(BIN)/python -m pytest $(PYTEST_SPARK) -rs
	$(BIN20)/python -m pytest $(PYTEST_SPARK) -rs

bench: $(VENV)/.test-deps
	$(BIN)/python -m benchmarks

wheel: $(VENV)/.test-deps
	$(BIN)/python -m build --wheel --outdir dist

ddl: $(VENV)/.demo-deps
	$(BIN)/python -m fmd_runtime.store.ddl > sql/metadata_tables.sql

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks conftest.py
	$(BIN)/ruff format --check src

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) $(RT20) dist build .fmd-demo .pytest_cache
