"""pytest plugin (entry point ``pytest11``: ``fmd_runtime``): fixtures to test notebooks' code.

Installed with the wheel; pytest loads it automatically. Fixtures (prefixed ``fmd_`` so they
never shadow yours):

- ``fmd_lakehouse``: an empty temporary lakehouse folder (``<tmp>/lakehouse``; ``Tables/...``
  is created as tables are).
- ``fmd_rt``: a `Runtime` on the embedded engine (delta-rs) over ``fmd_lakehouse``.
- ``fmd_spark``: the process's local Spark + Delta session (`local_spark_session`).
- ``fmd_spark_rt``: a `Runtime` on that session; the databases a test created are dropped after
  it, so every test starts from an empty catalog.

Where the Delta jars cannot be resolved, the Spark fixtures skip with the exact reason; with
``FMD_REQUIRE_SPARK_DELTA=1`` (CI) they fail instead, and so does any skipped test marked
``spark_delta``: the tier can never silently disappear.

Example::

    def test_my_load(fmd_spark_rt):
        fmd_spark_rt.engine.create(fmd_spark_rt.table("bronze.account"), columns)
        ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_FLAG = "FMD_REQUIRE_SPARK_DELTA"
_state: dict[str, Any] = {}


def spark_delta_required() -> bool:
    """True when a skipped Spark+Delta test must fail (``FMD_REQUIRE_SPARK_DELTA=1``).

    Example:
        >>> isinstance(spark_delta_required(), bool)
        True
    """
    return os.environ.get(REQUIRE_FLAG, "").strip().lower() in {"1", "true", "yes"}


def spark_delta_unavailable_reason() -> str | None:
    """Why no local Spark + Delta session can be built here (None when it can); builds it once.

    Example:
        >>> spark_delta_unavailable_reason()  # doctest: +SKIP
    """
    if "tried" not in _state:
        _state["tried"] = True
        try:
            from fmd_runtime.testing._session import local_spark_session

            _state["session"] = local_spark_session()
        except Exception as exc:  # noqa: BLE001 - any failure means no Spark+Delta, and why
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:600]
            _state["reason"] = f"Spark+Delta unavailable: {type(exc).__name__}: {first}"
    return _state.get("reason")


def spark_delta_session() -> Any:
    """The shared session, or ``pytest.skip`` (``pytest.fail`` when required) with the reason.

    Example:
        >>> spark_delta_session()  # doctest: +SKIP
    """
    reason = spark_delta_unavailable_reason()
    if reason:
        if spark_delta_required():
            pytest.fail(f"{reason} ({REQUIRE_FLAG}=1: a skipped Spark+Delta test is a failure)")
        pytest.skip(reason)
    return _state["session"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``spark_delta`` marker."""
    config.addinivalue_line(
        "markers",
        "spark_delta: needs a local Spark + Delta session (skipped with the reason where the "
        f"Delta jars cannot be resolved; a failure under {REQUIRE_FLAG}=1)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``FMD_REQUIRE_SPARK_DELTA=1`` a skipped ``spark_delta`` test is reported failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and spark_delta_required() and item.get_closest_marker("spark_delta"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_FLAG}=1 and this Spark+Delta test was skipped: {reason}"


@pytest.fixture
def fmd_lakehouse(tmp_path: Path) -> Path:
    """An empty temporary lakehouse folder."""
    root = tmp_path / "lakehouse"
    root.mkdir()
    return root


@pytest.fixture
def fmd_rt(fmd_lakehouse: Path) -> Iterator[Any]:
    """A Runtime on the embedded engine (delta-rs) over ``fmd_lakehouse``."""
    import fmd_runtime as fmd

    rt = fmd.connect(lakehouse=fmd_lakehouse, run_id="pytest-run", triggered_by="pytest")
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def fmd_spark() -> Any:
    """The process's local Spark + Delta session (skips with the reason where unavailable)."""
    return spark_delta_session()


@pytest.fixture
def fmd_spark_rt(fmd_spark: Any) -> Iterator[Any]:
    """A Runtime on the local Spark + Delta session; the test's databases are dropped after it."""
    import fmd_runtime as fmd
    from fmd_runtime.testing._session import reset_catalog

    rt = fmd.connect(spark=fmd_spark, run_id="pytest-run", triggered_by="pytest")
    try:
        yield rt
    finally:
        rt.close()
        reset_catalog(fmd_spark)


__all__ = [
    "REQUIRE_FLAG",
    "spark_delta_required",
    "spark_delta_session",
    "spark_delta_unavailable_reason",
]
