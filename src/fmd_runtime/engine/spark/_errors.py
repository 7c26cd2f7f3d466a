"""Spark / py4j / Delta errors: classified (`classify_error`) and translated (`_translate`).

Native errors reach the port's callers only as the `fmd_runtime.errors` tree (``raise ... from
exc``): a commit conflict is a transient `ConcurrentWriteError`, a missing table or version a
`TableNotFoundError`, retention refusals a `RetentionError`, anything else of Spark's an
`EngineError`. Programming errors pass through unchanged.

Matching is by name and text, never by importing pyspark or delta: delta-spark's Python
exception classes exist only after ``import delta``, a py4j error that was not converted names
the Java class only in its text, and Spark error classes (``[DELTA_CONCURRENT_APPEND]``) head
the message. The conflict names are the ones the retry predicate asks the port about
(`fmd_runtime.engine._native_errors`): one list for translation and retry.

Example:
    >>> class ConcurrentAppendException(Exception): ...
    >>> classify_error(ConcurrentAppendException("x"))
    'concurrent'
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator

from fmd_runtime.engine._intervals import DELETED_FILE_RETENTION
from fmd_runtime.engine._native_errors import DELTA_SPARK_CONFLICTS
from fmd_runtime.engine.spark._session import _RETENTION_CONF
from fmd_runtime.errors import (
    ConcurrentWriteError,
    EngineError,
    FmdError,
    RetentionError,
    TableNotFoundError,
)
from fmd_runtime.tables import TableRef

_ERROR_CLASS = re.compile(r"^\s*\[([A-Z0-9_]+)(?:\.[A-Z0-9_]+)?\]")
_BEYOND_RETENTION_CLASS = "DELTA_UNSUPPORTED_TIME_TRAVEL_BEYOND_DELETED_FILE_RETENTION"
_BEYOND_RETENTION_TEXT = "Cannot time travel beyond delta.deletedFileRetentionDuration"
_LOG_RETENTION_ORDER_TEXT = "needs to be less than or equal to delta.logRetentionDuration"
_CONCURRENT_NAMES = DELTA_SPARK_CONFLICTS
_CONCURRENT_CLASSES = ("DELTA_CONCURRENT_", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED")
_NOT_FOUND_NAMES = {"NoSuchTableException", "NoSuchDatabaseException", "NoSuchNamespaceException"}
_NOT_FOUND_CLASSES = (
    "TABLE_OR_VIEW_NOT_FOUND", "DELTA_TABLE_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE",
    "SCHEMA_NOT_FOUND", "DELTA_VERSION_NOT_FOUND", "DELTA_TABLE_ONLY_OPERATION",
)  # fmt: skip
_NOT_FOUND_TEXT = ("not a Delta table", "Table or view not found", "Cannot time travel Delta table")
_SPARK_MODULES = {"pyspark", "py4j", "delta"}


def _error_class(exc: BaseException) -> str:
    with contextlib.suppress(Exception):
        found = exc.getErrorClass()  # type: ignore[attr-defined]
        if found:
            return str(found)
    m = _ERROR_CLASS.match(_message(exc))
    return m.group(1) if m else ""


def _message(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)  # an unconverted Py4JJavaError: say the Java error
    if java is not None:
        with contextlib.suppress(Exception):
            return str(java.toString())
    for attr in ("desc", "message"):
        text = getattr(exc, attr, None)
        if isinstance(text, str) and text:
            return text
    try:
        return str(exc)
    except Exception:  # captured pyspark errors need a live JVM to render
        return type(exc).__name__


def classify_error(exc: BaseException) -> str | None:
    """Classify a native error: ``"not_found"``, ``"concurrent"``, ``"retention"``,
    ``"beyond_retention"`` (Delta 4.1+ refuses a version older than the file retention),
    ``"retention_order"`` (file retention above log retention), ``"engine"``.

    Matches Python class names along the MRO (delta-spark's converted exceptions and Java-named
    ones), Spark error classes, and Java class names in the message (unconverted py4j errors).
    Returns None for errors that are not the engine's (programming errors pass through).

    Example:
        >>> class ConcurrentAppendException(Exception): ...
        >>> classify_error(ConcurrentAppendException("x"))
        'concurrent'
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    error_class, text = _error_class(exc), _message(exc)
    head = text[:2000]
    if names & _CONCURRENT_NAMES or error_class.startswith(_CONCURRENT_CLASSES):
        return "concurrent"
    if any(f".{n}" in head for n in _CONCURRENT_NAMES):
        return "concurrent"
    if names & _NOT_FOUND_NAMES or error_class in _NOT_FOUND_CLASSES:
        return "not_found"
    if any(s in head for s in _NOT_FOUND_TEXT):
        return "not_found"
    if _RETENTION_CONF in head:
        return "retention"
    if error_class.startswith(_BEYOND_RETENTION_CLASS) or _BEYOND_RETENTION_TEXT in head:
        return "beyond_retention"
    if _LOG_RETENTION_ORDER_TEXT in head:
        return "retention_order"
    if type(exc).__module__.split(".")[0] in _SPARK_MODULES:
        return "engine"
    return None


@contextlib.contextmanager
def _translate(table: TableRef | None, operation: str) -> Iterator[None]:
    """Translate pyspark / py4j / Delta errors into the FmdError tree (``raise ... from exc``)."""
    name = table.name if table else None
    try:
        yield
    except FmdError:
        raise
    except Exception as exc:
        kind = classify_error(exc)
        if kind is None:
            raise
        first = (_message(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if kind == "not_found":
            raise TableNotFoundError(
                f"{operation}: table (or version) not found: {first}",
                table=name,
                hint="check the name, the default lakehouse and the version, or create the table",
            ) from exc
        if kind == "concurrent":
            # name Delta's exception, also when py4j did not convert it (Spark 4.1 / Delta 4.2)
            mro = {cls.__name__ for cls in type(exc).__mro__}
            head = _message(exc)[:2000]
            found = sorted(n for n in _CONCURRENT_NAMES if n in mro or f".{n}" in head)
            raise ConcurrentWriteError(
                f"{operation}: commit conflicted with another writer "
                f"({found[0] if found else type(exc).__name__})",
                table=name,
                hint="retry the operation; it is safe to re-run",
            ) from exc
        if kind == "beyond_retention":
            raise RetentionError(
                f"{operation}: Delta refuses versions older than the table's "
                f"delta.deletedFileRetentionDuration (Delta 4.1+): {first}",
                table=name,
                hint="that version cannot be restored or read any more; raise "
                "delta.deletedFileRetentionDuration (and delta.logRetentionDuration) before a "
                "restore point ages past it: checkpoints do this when they are created",
            ) from exc
        if kind == "retention_order":
            raise RetentionError(
                f"{operation}: {first}",
                table=name,
                hint="raise delta.logRetentionDuration in the same change, to at least the file "
                "retention (Delta 4.1+ requires file retention <= log retention)",
            ) from exc
        if kind == "retention":
            raise RetentionError(
                f"{operation}: retention below Delta's safety check: {first}",
                table=name,
                hint=f"keep retention >= 168 hours, or set {_RETENTION_CONF}=false in the "
                "Fabric Environment (a session-level setting is not honoured there)",
            ) from exc
        raise EngineError(
            f"{operation} failed: {type(exc).__name__}: {first}",
            table=name,
            hint="see the chained Spark error; check the table's history and storage access",
        ) from exc


def ignored_retention_error(
    table: TableRef, hours: int, table_hours: float, delta_version: tuple[int, int, int]
) -> RetentionError | None:
    """The refusal of a VACUUM whose ``RETAIN n HOURS`` Delta 4.1+ would ignore, or None.

    From Delta 4.1, VACUUM ignores ``RETAIN n HOURS`` unless n is 0 and uses the table's
    ``delta.deletedFileRetentionDuration``: a request for another retention is refused rather
    than silently run with a different one.

    Example:
        >>> ignored_retention_error(TableRef.parse("s.t"), 168, 168.0, (4, 2, 0)) is None
        True
    """
    if hours == math.ceil(table_hours):
        return None
    version = ".".join(str(p) for p in delta_version)
    return RetentionError(
        f"vacuum: Delta {version} ignores RETAIN {hours} HOURS and would vacuum with "
        f"the table's {DELETED_FILE_RETENTION} of {table_hours:g} hours",
        table=table.name,
        hint=f"set {DELETED_FILE_RETENTION} to 'interval {hours} hours' first "
        f"(rt.maintenance.set_retention), or vacuum with {math.ceil(table_hours)} hours",
    )


def keep_versions_error(table: TableRef) -> EngineError:
    """The refusal of ``keep_versions``: Spark VACUUM cannot protect versions (the maintenance
    layer protects checkpoints through retention properties instead)."""
    return EngineError(
        "vacuum: keep_versions is not supported by Spark VACUUM",
        table=table.name,
        hint="protect restore points with a retention covering them (maintenance does)",
    )


__all__ = [
    "DELTA_SPARK_CONFLICTS",
    "classify_error",
    "ignored_retention_error",
    "keep_versions_error",
]
