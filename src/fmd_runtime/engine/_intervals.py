"""Delta retention properties: interval text <-> hours, and the log retention a file retention needs.

Engine-neutral semantics of two table properties every restore point depends on
(``delta.deletedFileRetentionDuration`` and ``delta.logRetentionDuration``): both engines store
them as Delta interval text, and Delta 4.1+ requires the file retention not to exceed the log's.

Example:
    >>> parse_interval_hours("interval 7 days"), format_interval(720)
    (168.0, 'interval 30 days')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from fmd_runtime.errors import ConfigError, FmdError

DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"
LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_RETENTION_HOURS: dict[str, float] = {DELETED_FILE_RETENTION: 168.0, LOG_RETENTION: 720.0}
"""Delta's defaults when the property is unset: 7 days of tombstones, 30 days of log."""

_INTERVAL_UNIT_HOURS = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
}
_INTERVAL_UNIT_HOURS |= {"millisecond": 1 / 3_600_000, "microsecond": 1 / 3_600_000_000}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_interval_hours(
    text: str, *, table: str | None = None, error: type[FmdError] = ConfigError
) -> float:
    """Hours in a Delta interval property value.

    Accepts what Delta writes and operators type: ``"interval 7 days"``, ``"interval 168 hours"``,
    ``"7 days"``, ``"interval 1 week 2 days"`` (units week, day, hour, minute, second,
    millisecond, microsecond; singular or plural; any case).

    Args:
        text: the property value.
        table: the table, for the error context.
        error: the `FmdError` subclass to raise (the caller's capability error).

    Raises:
        ConfigError (or ``error``): the text is not such an interval.

    Example:
        >>> parse_interval_hours("interval 7 days"), parse_interval_hours("1 week 12 hours")
        (168.0, 180.0)
    """
    raw = str(text).strip().lower()
    body = raw[len("interval") :].strip() if raw.startswith("interval") else raw
    parts = _INTERVAL_PART.findall(body)
    units = [u[:-1] if u.endswith("s") and u[:-1] in _INTERVAL_UNIT_HOURS else u for _, u in parts]
    if (
        not parts
        or _INTERVAL_PART.sub("", body).strip()
        or any(u not in _INTERVAL_UNIT_HOURS for u in units)
    ):
        raise error(
            f"table property value {text!r} is not a Delta interval",
            table=table,
            hint="use e.g. 'interval 7 days' or 'interval 168 hours'",
        )
    return sum(float(n) * _INTERVAL_UNIT_HOURS[u] for (n, _), u in zip(parts, units, strict=True))


def format_interval(hours: float) -> str:
    """A Delta interval for whole hours (rounded up): days when they divide evenly.

    Example:
        >>> format_interval(720), format_interval(170)
        ('interval 30 days', 'interval 170 hours')
    """
    whole = int(math.ceil(hours))
    return f"interval {whole // 24} days" if whole % 24 == 0 else f"interval {whole} hours"


def retention_hours(
    properties: Mapping[str, str],
    key: str,
    *,
    table: str | None = None,
    error: type[FmdError] = ConfigError,
) -> float:
    """A table's retention in hours for ``key`` (Delta's default when the property is unset).

    Example:
        >>> retention_hours({}, LOG_RETENTION)
        720.0
    """
    value = properties.get(key)
    return (
        parse_interval_hours(value, table=table, error=error)
        if value
        else DEFAULT_RETENTION_HOURS[key]
    )


def log_retention_cover(
    properties: Mapping[str, str], changes: Mapping[str, str]
) -> dict[str, str]:
    """The log-retention raise that keeps ``logRetentionDuration >= deletedFileRetentionDuration``.

    Delta 4.1+ refuses a file retention longer than the log retention, and on every engine a
    restore point outlives neither. Given the current properties and the changes about to be
    set, return the extra change (``{LOG_RETENTION: ...}``) when the new file retention would
    exceed the log retention, else ``{}``.

    Example:
        >>> log_retention_cover({}, {DELETED_FILE_RETENTION: "interval 40 days"})
        {'delta.logRetentionDuration': 'interval 40 days'}
        >>> log_retention_cover({}, {DELETED_FILE_RETENTION: "interval 10 days"})
        {}
        >>> log_retention_cover({LOG_RETENTION: "interval 35 days"},
        ...                     {DELETED_FILE_RETENTION: "interval 32 days"})
        {'delta.logRetentionDuration': 'interval 35 days'}
    """
    if DELETED_FILE_RETENTION not in changes:
        return {}
    after = {**properties, **changes}
    files_h = retention_hours(after, DELETED_FILE_RETENTION)
    if retention_hours(after, LOG_RETENTION) < files_h:
        return {LOG_RETENTION: format_interval(files_h)}
    if LOG_RETENTION in properties and LOG_RETENTION not in changes:
        # Delta 4.2 checks a new file retention against the log retention of the same change and
        # takes the 30-day default when the change does not name one, although the table sets
        # it (a 35-day log and a 32-day file retention refused): restate the table's own value.
        return {LOG_RETENTION: str(properties[LOG_RETENTION])}
    return {}
