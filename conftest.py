"""The suite's shared fixtures: real Delta tables in temporary lakehouses, one Spark session per
process (built by `fmd_runtime.testing.local_spark_session`, as users build theirs).

- ``lakehouse``: an empty temporary lakehouse folder (``<tmp>/Tables/...`` layout).
- ``rt``: a Runtime on the embedded engine over that folder.
- ``engine``: a real `DeltaEngine` of every kind: delta-rs always; Spark + Delta under the
  ``spark_delta`` marker (the session's Delta pair: Runtime 1.3 in ``.venv``, Runtime 2.0 in
  ``.venv-rt20``). Spark tables a test creates are dropped after it.
- ``any_rt``: a Runtime over ``engine``: scenario tests written once, run on every engine.
- ``spark``: the shared local Spark + Delta session (for SQL view and DataFrame tests).

The fixtures of the ``fmd_runtime`` pytest plugin (`fmd_runtime.testing.plugin`) do the work.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers (nbrun, sqlviews ...)
sys.path.insert(1, str(ROOT))  # benchmarks.common helpers

ENGINES = ["deltars", pytest.param("spark", marks=pytest.mark.spark_delta)]


@pytest.fixture
def lakehouse(fmd_lakehouse: Path) -> Path:
    return fmd_lakehouse


@pytest.fixture
def rt(lakehouse: Path) -> Iterator[Any]:
    import fmd_runtime as fmd

    runtime = fmd.connect(
        lakehouse=lakehouse, run_id="test-run", pipeline_run_id="pipe-run", triggered_by="pytest"
    )
    yield runtime
    runtime.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, lakehouse: Path) -> Iterator[Any]:
    """A DeltaEngine of each kind; the tables a test creates go with its lakehouse / catalog."""
    if request.param == "deltars":
        from fmd_runtime.engine.deltars import DeltaRsEngine

        yield DeltaRsEngine(lakehouse)
        return
    from fmd_runtime.engine.spark import SparkEngine
    from fmd_runtime.testing import reset_catalog
    from fmd_runtime.testing.plugin import spark_delta_session

    session = spark_delta_session()
    try:
        yield SparkEngine(session)
    finally:
        reset_catalog(session)


@pytest.fixture
def any_rt(engine: Any) -> Iterator[Any]:
    """A Runtime on each engine (the same scenario, every engine)."""
    import fmd_runtime as fmd

    runtime = fmd.connect(
        engine=engine, run_id="test-run", pipeline_run_id="pipe-run", triggered_by="pytest"
    )
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def spark() -> Any:
    from fmd_runtime.testing.plugin import spark_delta_session

    return spark_delta_session()


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        from fmd_runtime.testing import delta_runtime

        pair = delta_runtime().label
    except Exception as exc:  # noqa: BLE001 - no Spark installed in this environment
        pair = f"none ({exc})"
    return [f"fmd: Spark+Delta tier: {pair}"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.stats
    counts = {
        key: sum(
            1
            for r in stats.get(key, [])
            if {"spark", "spark_delta"} & set(getattr(r, "keywords", {}))
        )
        for key in ("passed", "failed", "skipped", "error")
    }
    try:
        from fmd_runtime.testing import delta_runtime

        label = delta_runtime().label
    except Exception:  # noqa: BLE001
        label = "not installed"
    terminalreporter.write_line(
        f"fmd Spark+Delta tier [{label}]: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )
