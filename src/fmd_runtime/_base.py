"""Small definitions every layer shares, defined once: the frozen-model configuration and UTC.

Example:
    >>> from datetime import datetime
    >>> as_utc(datetime(2025, 1, 15, 2, 0)).isoformat()
    '2025-01-15T02:00:00+00:00'
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import ConfigDict

FROZEN = ConfigDict(frozen=True, extra="forbid")
"""The configuration of every result model: immutable, unknown fields refused."""


def as_utc(ts: datetime) -> datetime:
    """``ts`` as an aware datetime: naive values (read back from a Delta table) are UTC.

    An aware value is returned unchanged (not converted): its instant is what matters.

    Example:
        >>> as_utc(datetime(2025, 1, 15)).tzinfo
        datetime.timezone.utc
    """
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


__all__ = ["FROZEN", "as_utc"]
