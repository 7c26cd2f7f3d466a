"""Retention: the table properties a restore point depends on, in days, and the marker of an
operator's own setting.

A checkpoint can only be restored while the table keeps its log (``delta.logRetentionDuration``)
and its removed files (``delta.deletedFileRetentionDuration``) long enough; checkpoints raise these
properties, maintenance never lowers them below what an active checkpoint needs, and rollback
reads them to say whether a target is still restorable. The interval arithmetic itself
(`parse_interval_hours`, `format_interval`, `retention_hours`, `log_retention_cover`) sits below
the engine port, because the adapters read the same properties; it is re-exported here so the
capabilities have one place to take retention from. The value an operator had set before the
library raised it is kept under `BASELINE_PREFIX` so it can be given back when no checkpoint needs
more.

Example:
    >>> property_days({}, LOG_RETENTION), parse_interval_days("interval 168 hours")
    (30.0, 7.0)
"""

from __future__ import annotations

from fmd_runtime.engine import (
    DEFAULT_RETENTION_HOURS,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
    log_retention_cover,
    parse_interval_hours,
    retention_hours,
)
from fmd_runtime.errors import CheckpointError

BASELINE_PREFIX = "fmd.maintenance.baseline."
"""Prefix of the property that keeps an operator's own retention value (the one to give back)."""

DEFAULT_PROPERTY_DAYS = {k: h / 24 for k, h in DEFAULT_RETENTION_HOURS.items()}
"""Delta's default of each retention property, in days (what an unset property means)."""


def parse_interval_days(text: str, *, table: str | None = None) -> float:
    """Days in a Delta interval property (``"interval 7 days"``, ``"interval 168 hours"``).

    Raises:
        CheckpointError: not an interval (units week, day, hour, minute, second ...).

    Example:
        >>> parse_interval_days("interval 168 hours"), parse_interval_days("1 week 12 hours")
        (7.0, 7.5)
    """
    return parse_interval_hours(text, table=table, error=CheckpointError) / 24


def property_days(properties: dict[str, str], key: str, *, table: str | None = None) -> float:
    """The retention of a table in days for ``key`` (Delta's default when the property is unset).

    Example:
        >>> property_days({}, LOG_RETENTION)
        30.0
    """
    value = properties.get(key)
    return parse_interval_days(value, table=table) if value else DEFAULT_PROPERTY_DAYS[key]


__all__ = [
    "BASELINE_PREFIX",
    "DEFAULT_PROPERTY_DAYS",
    "DEFAULT_RETENTION_HOURS",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "format_interval",
    "log_retention_cover",
    "parse_interval_days",
    "parse_interval_hours",
    "property_days",
    "retention_hours",
]
