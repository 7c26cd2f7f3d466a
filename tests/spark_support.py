"""The ONE local Spark session of the test process, Delta-enabled when the Delta jars resolve.

A JVM hosts one Spark session per process, so every test (plain DataFrame tests under the
``spark`` marker and the Spark+Delta engine contract under ``spark_delta``) shares the session
built here by `get_spark` (``local[2]``, 2 shuffle partitions, UI off, UTC session time zone,
warehouse and Derby under a temporary folder, log level ERROR).

How the session gets Delta, first match wins:

1. ``FMD_DELTA_JARS`` names existing jar files (separated by ``,`` or ``os.pathsep``): they are
   added through ``spark.jars`` with Delta's SQL extension and catalog.
2. The Delta jars resolve through Maven: the installed delta-spark version is already in the
   local Ivy cache (``~/.ivy2``), or repo1.maven.org:443 accepts a TCP connection within 3 s;
   then ``delta.configure_spark_with_delta_pip`` adds them as ``spark.jars.packages``.
3. Otherwise a plain local session is built and `delta_unavailable_reason` says why; the
   ``spark_delta`` tests skip with that reason (they are never faked).

Run the Spark+Delta tier (Tier 2) on a machine with Maven access, or with local jars::

    .venv/bin/pytest -m spark_delta
    FMD_DELTA_JARS=/jars/delta-spark_2.12-3.3.3.jar,/jars/delta-storage-3.3.3.jar \\
        .venv/bin/pytest -m spark_delta

Example:
    >>> import spark_support  # doctest: +SKIP
    >>> spark_support.get_spark().range(3).count()  # doctest: +SKIP
    3
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

_DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
_DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
_MAVEN = ("repo1.maven.org", 443)

_session: Any = None
_tried = False
_delta_reason: str | None = None
_spark_reason: str | None = None


def _delta_version() -> str | None:
    try:
        return importlib.metadata.version("delta-spark")
    except importlib.metadata.PackageNotFoundError:
        return None


def delta_jars_from_env() -> list[str]:
    """The jar files named by ``FMD_DELTA_JARS`` (``,`` or ``os.pathsep`` separated).

    Raises:
        FileNotFoundError: a named jar does not exist (a typo should not silently skip a tier).

    Example:
        >>> os.environ.pop("FMD_DELTA_JARS", None) is None or True
        True
    """
    raw = os.environ.get("FMD_DELTA_JARS", "")
    jars = [j.strip() for part in raw.split(",") for j in part.split(os.pathsep) if j.strip()]
    missing = [j for j in jars if not Path(j).is_file()]
    if missing:
        raise FileNotFoundError(f"FMD_DELTA_JARS names missing files: {', '.join(missing)}")
    return jars


def _ivy_cached(version: str) -> bool:
    ivy = Path.home() / ".ivy2"
    cache = ivy / "cache" / "io.delta" / "delta-spark_2.12" / "jars"
    candidates = [
        ivy / "jars" / f"io.delta_delta-spark_2.12-{version}.jar",
        cache / f"delta-spark_2.12-{version}.jar",
    ]
    return any(p.is_file() for p in candidates)


def _maven_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(_MAVEN, timeout=timeout):
            return True
    except OSError:
        return False


def _builder(tmp: Path) -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("fmd-runtime-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tmp / 'derby'}")
    )


def _with_delta(builder: Any) -> Any:
    return builder.config("spark.sql.extensions", _DELTA_EXTENSION).config(
        "spark.sql.catalog.spark_catalog", _DELTA_CATALOG
    )


def _has_delta_classes(spark: Any) -> bool:
    from py4j.java_gateway import JavaClass

    jvm = spark.sparkContext._jvm
    return isinstance(jvm.io.delta.tables.DeltaTable, JavaClass)


def _start(builder: Any) -> Any:
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _stop(spark: Any) -> None:
    try:
        spark.stop()
    except Exception:  # noqa: BLE001 - best effort at interpreter exit
        pass


def _discard_jvm(spark: Any | None) -> None:
    """Stop a failed Delta attempt and its JVM: spark-submit turned its confs into JVM system
    properties, so a plain session in the same JVM would still load the Delta catalog."""
    from pyspark import SparkContext

    if spark is not None:
        _stop(spark)
    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if gateway is not None:
        gateway.shutdown()
    if proc is not None:
        proc.stdin.close()  # the JVM exits when its stdin closes
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - last resort for a JVM that does not exit
            proc.kill()
    SparkContext._gateway = None
    SparkContext._jvm = None


def _delta_builder(tmp: Path) -> tuple[Any, str]:
    """The Delta-enabled builder and how the jars come, or (None, reason why not)."""
    try:
        jars = delta_jars_from_env()
    except FileNotFoundError as exc:
        return None, f"Spark+Delta tier skipped: {exc}"
    if jars:
        builder = _with_delta(_builder(tmp).config("spark.jars", ",".join(jars)))
        return builder, "FMD_DELTA_JARS"
    version = _delta_version()
    if version is None:
        return None, "Spark+Delta tier skipped: delta-spark is not installed"
    if _ivy_cached(version) or _maven_reachable():
        from delta import configure_spark_with_delta_pip

        builder = configure_spark_with_delta_pip(_with_delta(_builder(tmp)))
        return builder, "Maven (configure_spark_with_delta_pip)"
    return None, (
        "Spark+Delta tier skipped: FMD_DELTA_JARS is not set and Maven Central is "
        "unreachable (no cached delta-spark jars); run `make test-spark-delta` on a machine "
        f"with Maven access, or set FMD_DELTA_JARS=/path/delta-spark_2.12-{version}.jar,"
        f"/path/delta-storage-{version}.jar"
    )


def _build() -> None:
    """Build the session once: Delta if it resolves, else plain; record the reasons."""
    global _session, _tried, _delta_reason, _spark_reason
    _tried = True
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _spark_reason = "Spark tests skipped: pyspark is not installed (pip install -e '.[spark]')"
        _delta_reason = _spark_reason
        return
    tmp = Path(tempfile.mkdtemp(prefix="fmd-spark-"))
    atexit.register(shutil.rmtree, tmp, True)

    delta_builder, how = _delta_builder(tmp)
    if delta_builder is None:
        _delta_reason = how
    else:
        spark = None
        try:
            spark = _start(delta_builder)
            if _has_delta_classes(spark):
                _session = spark
                atexit.register(_stop, spark)
                return
            _delta_reason = f"Spark+Delta tier skipped: Delta classes not loaded from {how}"
        except Exception as exc:  # noqa: BLE001 - any failure means: no Delta here
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            _delta_reason = f"Spark+Delta tier skipped: Delta session via {how} failed: {first}"
        _discard_jvm(spark)

    try:
        _session = _start(_builder(tmp))
        atexit.register(_stop, _session)
    except Exception as exc:  # noqa: BLE001 - e.g. no Java runtime
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        _spark_reason = (
            f"Spark tests skipped: a local Spark session could not start ({first}); "
            "install a Java 17 runtime and set JAVA_HOME"
        )
        _delta_reason = _delta_reason or _spark_reason


def get_spark() -> Any:
    """The shared local SparkSession (built on first use; Delta-enabled when possible).

    Raises:
        RuntimeError: no session could be built (the message is `spark_unavailable_reason`).

    Example:
        >>> get_spark().range(3).count()  # doctest: +SKIP
        3
    """
    if not _tried:
        _build()
    if _session is None:
        raise RuntimeError(_spark_reason or "no Spark session")
    return _session


def spark_unavailable_reason() -> str | None:
    """Why no Spark session at all can run here (None when one does); builds it if needed."""
    if not _tried:
        _build()
    return _spark_reason


def delta_unavailable_reason() -> str | None:
    """Why the shared session has no Delta (None when it has); builds it if needed.

    Example:
        >>> delta_unavailable_reason()  # doctest: +SKIP
        'Spark+Delta tier skipped: FMD_DELTA_JARS is not set and Maven Central is unreachable ...'
    """
    if not _tried:
        _build()
    return _delta_reason


def spark_delta_engine() -> Any:
    """A `SparkEngine` on the Delta-enabled shared session, or ``pytest.skip`` with the reason.

    Example:
        >>> spark_delta_engine().name  # doctest: +SKIP
        'spark'
    """
    import pytest

    reason = delta_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from fmd_runtime.engine.spark import SparkEngine

    return SparkEngine(get_spark())
