"""Shared fixtures: real Delta tables in temporary lakehouses, one Spark session per process.

- ``lakehouse``: an empty temporary lakehouse folder (``<tmp>/Tables/...`` layout).
- ``rt``: a Runtime on the embedded engine over that folder.
- ``engine``: parametrized over every engine: delta-rs always; Spark+Delta under the
  ``spark_delta`` marker, skipped with the reason when the Delta jars do not resolve.
- ``spark``: the shared local Spark session (no Delta needed) for DataFrame-level tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))  # benchmarks.common helpers


@pytest.fixture
def lakehouse(tmp_path: Path) -> Path:
    root = tmp_path / "lakehouse"
    root.mkdir()
    return root


@pytest.fixture
def rt(lakehouse: Path):
    import fmd_runtime as fmd

    runtime = fmd.connect(
        lakehouse=lakehouse, run_id="test-run", pipeline_run_id="pipe-run", triggered_by="pytest"
    )
    yield runtime
    runtime.close()


@pytest.fixture(params=["deltars", pytest.param("spark", marks=pytest.mark.spark_delta)])
def engine(request: pytest.FixtureRequest, lakehouse: Path):
    """A DeltaEngine of each kind; tables created in a test are dropped with its lakehouse."""
    if request.param == "deltars":
        from fmd_runtime.engine.deltars import DeltaRsEngine

        return DeltaRsEngine(lakehouse)
    import spark_support

    return spark_support.spark_delta_engine()


@pytest.fixture(scope="session")
def spark():
    import spark_support

    reason = spark_support.spark_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return spark_support.get_spark()


def pytest_report_header(config: pytest.Config) -> list[str]:
    jars = os.environ.get("FMD_DELTA_JARS")
    return [f"fmd: FMD_DELTA_JARS={'set' if jars else 'unset'} (Spark+Delta tier: -m spark_delta)"]
