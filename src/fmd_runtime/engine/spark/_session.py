"""The Spark session as the adapter uses it: versions, features, and confs set for one call.

Session-wide Spark confs (commit user metadata for RESTORE / OPTIMIZE / UPDATE, the VACUUM
retention check) are set for one call and restored in ``finally``, under one lock per process:
a session's conf is shared by every thread (and every `SparkEngine` on it), and Delta reads it at
commit time, so every commit that does not carry its metadata as a write option commits under
that lock: no commit takes another thread's run id.

Example:
    >>> metadata_conf(None)
    {'spark.databricks.delta.commitInfo.userMetadata': None}
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from fmd_runtime.engine._models import CommitOptions
from fmd_runtime.errors import EngineError

_USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
_RETENTION_CONF = "spark.databricks.delta.retentionDurationCheck.enabled"
_CONSTANT_PARAMETERS_CONF = "spark.sql.legacy.parameterSubstitution.constantsOnly"
_VORDER_CONFS = ("spark.sql.parquet.vorder.default", "spark.sql.parquet.vorder.enabled")
# One lock for every SparkEngine of the process (see the module docstring): engines built by
# separate `connect(spark=...)` calls share the session, hence its commit-metadata conf.
_SESSION_CONF_LOCK = threading.RLock()


def spark_version(spark: Any) -> tuple[int, int]:
    """The session's Spark (major, minor); ``(0, 0)`` when its version does not parse."""
    found = [int(x) for x in re.findall(r"\d+", str(spark.version))[:2]]
    return (found[0], found[1]) if len(found) == 2 else (0, 0)


def check_parameters_supported(spark: Any) -> None:
    """Refuse named SQL parameters on Spark older than 3.5 (no Python-valued parameters there).

    Raises:
        EngineError: the session is Spark < 3.5.
    """
    if spark_version(spark) < (3, 5):
        raise EngineError(
            f"SQL parameters need Spark 3.5+, this session is {spark.version}",
            hint="use a Fabric runtime 1.3 or later",
        )


def delta_version(spark: Any) -> tuple[int, int, int]:
    """The session's Delta version (``io.delta.VERSION`` of the jars); ``(0, 0, 0)`` if unknown."""
    found: tuple[int, int, int] = (0, 0, 0)
    with contextlib.suppress(Exception):
        pkg = getattr(getattr(spark.sparkContext._jvm.io.delta, "package$"), "MODULE$")
        parts = [int(x) for x in re.findall(r"\d+", str(pkg.VERSION()))[:3]]
        found = (parts + [0, 0, 0])[0], (parts + [0, 0, 0])[1], (parts + [0, 0, 0])[2]
    return found


def versions(spark: Any, delta: tuple[int, int, int]) -> dict[str, str]:
    """The session's versions as text: ``{"spark": "3.5.5", "delta": "3.2.1"}``."""
    return {"spark": str(spark.version), "delta": ".".join(str(part) for part in delta)}


def has_vorder(spark: Any) -> bool:
    """True when the session is a Fabric runtime with V-Order (one of its confs is set)."""
    return any(spark.conf.get(k, None) is not None for k in _VORDER_CONFS)


def bind_parameters_with_delta_parser(spark: Any) -> None:
    """Make named SQL parameters work under Delta's SQL parser on Spark 4.1+.

    Delta's parser does not forward Spark 4.1's new ``parsePlanWithParameters`` (it keeps the
    interface's default, which drops the parameters: delta-io/delta#7640, seen with Delta
    4.2), so every ``spark.sql(text, args=...)`` fails with UNBOUND_SQL_PARAMETER. Spark's
    legacy substitution (parameters only where constants may stand, which is all this
    adapter uses) binds them before parsing. Set once per session, unless the user chose.
    """
    with contextlib.suppress(Exception):
        if spark_version(spark) >= (4, 1) and (
            spark.conf.get(_CONSTANT_PARAMETERS_CONF, None) is None
            or spark.conf.get(_CONSTANT_PARAMETERS_CONF, None) == "false"
        ):
            spark.conf.set(_CONSTANT_PARAMETERS_CONF, "true")


@contextlib.contextmanager
def session_conf(
    spark: Any, lock: threading.RLock, settings: Mapping[str, str | None]
) -> Iterator[None]:
    """Set session confs for one call under ``lock``; restore the previous values afterwards.

    A None value means "leave as is": a session-level setting of the user stays in effect.
    """
    changes = {k: v for k, v in settings.items() if v is not None}
    with lock:
        before = {k: spark.conf.get(k, None) for k in changes}
        try:
            for k, v in changes.items():
                spark.conf.set(k, v)
            yield
        finally:
            for k, old in before.items():
                if old is None:
                    spark.conf.unset(k)
                else:
                    spark.conf.set(k, old)


def metadata_conf(commit: CommitOptions | None) -> dict[str, str | None]:
    """The conf that carries a commit's user metadata (None: leave the session's as is)."""
    meta = json.dumps(commit.metadata, sort_keys=True) if commit and commit.metadata else None
    return {_USER_METADATA_CONF: meta}
