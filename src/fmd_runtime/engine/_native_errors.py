"""What each engine's native commit conflicts look like, in pure Python (no pyspark, no deltalake).

The retry predicate (`fmd_runtime.retry.is_transient`) asks the port (`native_transient`)
whether a native error is a transient commit conflict; these are the adapters' answers. They
live here, outside the adapter packages, because an error is often classified where the adapter
was never imported (a unit test's synthetic exception, a Py4JJavaError raised before
``import delta`` converts it) and because the port must not import an adapter. Each classifier
matches names and text only, so it needs neither engine installed.

- delta-spark: conflict exceptions by class name along the MRO (``io.delta.exceptions.*``: the
  Python classes exist only after ``import delta``, and they share no base class), by Spark
  error class (``getCondition()`` / ``getErrorClass()`` or in the text: ``DELTA_CONCURRENT_*``,
  ``DELTA_METADATA_CHANGED``, ``DELTA_PROTOCOL_CHANGED``), and by Java class name in the text of
  an unconverted ``Py4JJavaError``.
- delta-rs: ``deltalake.exceptions.CommitFailedError`` (and subclasses), by class name.

Example:
    >>> class ConcurrentAppendException(Exception): ...
    >>> is_delta_spark_conflict(ConcurrentAppendException("x"), "x")
    True
    >>> is_deltars_conflict(ValueError("x"), "x") is None
    True
"""

from __future__ import annotations

import re

DELTA_SPARK_CONFLICTS = frozenset(
    {
        "DeltaConcurrentModificationException",
        "ConcurrentWriteException",
        "ConcurrentAppendException",
        "ConcurrentDeleteReadException",
        "ConcurrentDeleteDeleteException",
        "ConcurrentTransactionException",
        "MetadataChangedException",
        "ProtocolChangedException",
    }
)
"""delta-spark's commit-conflict exceptions (``io.delta.exceptions.*``), by class name."""

_DELTA_ERROR_CLASS = re.compile(
    r"\bDELTA_(?:CONCURRENT_[A-Z_]+|METADATA_CHANGED|PROTOCOL_CHANGED)\b"
)
_DELTA_EXC_IN_TEXT = re.compile(r"\b(?:" + "|".join(sorted(DELTA_SPARK_CONFLICTS)) + r")\b")


def spark_error_class(exc: BaseException) -> str | None:
    """Spark's error class of an exception (``getCondition`` / ``getErrorClass``), if it tells.

    Args:
        exc: any exception; only pyspark's have these methods.

    Returns:
        The error class (``"DELTA_CONCURRENT_APPEND"``), or None.

    Example:
        >>> spark_error_class(ValueError("x")) is None
        True
    """
    for method in ("getCondition", "getErrorClass"):
        fn = getattr(exc, method, None)
        if callable(fn):
            try:
                value = fn()
            except Exception:  # needs a live gateway; absent in tests and after shutdown
                continue
            if value:
                return str(value)
    return None


def is_delta_spark_conflict(exc: BaseException, text: str) -> bool | None:
    """True when ``exc`` is a delta-spark commit conflict (a retry may cure it); else None.

    Args:
        exc: the exception (one link of a ``__cause__`` chain).
        text: its rendered message (and service error codes), as the caller already read it.

    Returns:
        True, or None when this classifier does not decide (never False: other rules decide).

    Example:
        >>> is_delta_spark_conflict(RuntimeError("x"), "[DELTA_CONCURRENT_APPEND] Files were added")
        True
    """
    if {cls.__name__ for cls in type(exc).__mro__} & DELTA_SPARK_CONFLICTS:
        return True
    error_class = spark_error_class(exc) or ""
    if _DELTA_ERROR_CLASS.search(error_class) or _DELTA_ERROR_CLASS.search(text):
        return True
    if _DELTA_EXC_IN_TEXT.search(text):  # e.g. a Py4JJavaError before `import delta` converts it
        return True
    return None


def is_deltars_conflict(exc: BaseException, text: str) -> bool | None:
    """True when ``exc`` is delta-rs' failed commit (``CommitFailedError``); else None.

    Matched by class name along the MRO, which also covers ``deltalake.exceptions``' own class
    without importing deltalake. (The adapter turns a failed commit that names an unsupported
    table feature into a terminal `UnsupportedFeatureError` before any retry sees it.)

    Args:
        exc: the exception.
        text: its rendered message (unused: delta-rs is told by class).

    Returns:
        True, or None when this classifier does not decide.

    Example:
        >>> class CommitFailedError(Exception): ...
        >>> is_deltars_conflict(CommitFailedError("conflict"), "conflict")
        True
    """
    if "CommitFailedError" in {cls.__name__ for cls in type(exc).__mro__}:
        return True
    return None


__all__ = [
    "DELTA_SPARK_CONFLICTS",
    "is_delta_spark_conflict",
    "is_deltars_conflict",
    "spark_error_class",
]
