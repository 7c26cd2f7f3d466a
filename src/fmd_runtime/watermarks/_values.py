"""Watermark values: the kinds, parsing to one canonical text, comparison, sentinels.

Each kind has one canonical text form (see the table in `fmd_runtime.watermarks`), so stored
values compare, display and migrate the same way everywhere. `parse_watermark` accepts the
canonical form, the legacy forms sources write and native values read from data, and returns
the canonical text; `to_native` gives the comparable Python value; `check_plausible` refuses a
known sentinel (`SENTINELS`) or a value in the future. This module is pure (no table, no
runtime): the begin/commit protocol, the administrative operations and the SQL rendering all
validate through it, so it is kept apart from each of them.

Example:
    >>> parse_watermark("2025-01-15 02:30:00", "datetime")
    '2025-01-15T02:30:00.000000+00:00'
"""

from __future__ import annotations

import numbers
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from fmd_runtime._entities import CONTROL_CHARACTERS, shown
from fmd_runtime.config import MAX_RETENTION_DAYS
from fmd_runtime.errors import WatermarkError
from fmd_runtime.store import utcnow

WatermarkKind = Literal["datetime", "date", "int", "rowversion", "string"]

KINDS: tuple[str, ...] = ("datetime", "date", "int", "rowversion", "string")

EXPECTED: dict[str, str] = {
    "datetime": "UTC ISO 8601 like 2025-01-15T02:30:00.000000+00:00 (also '2025-01-15 02:30:00', "
    "ISO with Z or an offset, /Date(1736908200000)/, or a datetime)",
    "date": "YYYY-MM-DD like 2025-01-15 (also YYYYMMDD, a midnight datetime, or a date)",
    "int": "a 64-bit integer like 12345",
    "rowversion": "0x followed by 1 to 16 hex digits like 0x00000000000A1B2C (or 8 bytes, "
    "or a non-negative int)",
    "string": "a non-empty text without control characters, at most 4000 characters",
}

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_ROWVERSION_MAX = 2**64 - 1
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$",
    re.IGNORECASE,
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MS_DATE = re.compile(r"^\\?/Date\((-?\d{1,15})(?:[+-]\d{4})?\)\\?/$")
_INT_TEXT = re.compile(r"^[+-]?\d{1,20}$")
_HEX_TEXT = re.compile(r"^0x([0-9a-f]{1,16})$", re.IGNORECASE)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The Unix epoch, UTC: `/Date(ms)/` values and Spark timestamps count from it."""


# -- parse / format --------------------------------------------------------------------------
def _bad(value: Any, kind: str, entity: str | None, why: str = "") -> WatermarkError:
    reason = f" ({why})" if why else ""
    return WatermarkError(
        f"watermark value {shown(value)} is not a valid {kind} watermark{reason}",
        entity=entity,
        hint=f"expected {EXPECTED.get(kind, 'one of ' + ', '.join(KINDS))}",
        details={"kind": kind, "value": shown(value)},
    )


def check_kind(kind: str, *, entity: str | None = None) -> WatermarkKind:
    """Validate a watermark kind name (case-insensitive) and return it in lower case.

    Raises:
        WatermarkError: not one of `KINDS`.

    Example:
        >>> check_kind("DateTime")
        'datetime'
    """
    k = str(kind).strip().lower() if kind is not None else ""
    if k not in KINDS:
        raise WatermarkError(
            f"watermark kind {shown(kind)} is not supported",
            entity=entity,
            hint=f"use one of {', '.join(KINDS)}",
        )
    return k  # type: ignore[return-value]


def zone_of(source_tz: str | tzinfo | None, entity: str | None) -> tzinfo:
    """The zone naive datetimes are wall times in (UTC when none is declared)."""
    if source_tz is None:
        return timezone.utc
    if isinstance(source_tz, tzinfo):
        return source_tz
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(source_tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise WatermarkError(
            f"source time zone {shown(source_tz)} is not a known IANA zone",
            entity=entity,
            hint="use an IANA name such as 'Europe/Amsterdam' or 'UTC'",
        ) from None


def _localize(naive: datetime, zone: tzinfo, value: Any, entity: str | None) -> datetime:
    """Attach ``zone`` to a naive wall time; refuse wall times a DST gap skips.

    Ambiguous wall times (the hour repeated when clocks go back) take the earlier instant: a
    watermark that is too early re-reads a few rows, one that is too late would skip them.
    """
    aware = naive.replace(tzinfo=zone, fold=0)
    if zone is timezone.utc:
        return aware
    back = aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise _bad(
            value, "datetime", entity, f"{naive.isoformat()} does not exist in {zone} (DST gap)"
        )
    return aware


def _datetime_from_text(text: str, zone: tzinfo, entity: str | None) -> datetime:
    m = _MS_DATE.match(text)
    if m:
        return EPOCH + timedelta(milliseconds=int(m.group(1)))
    m = _ISO.match(text)
    if not m:
        raise _bad(text, "datetime", entity)
    y, mo, d, hh, mi, ss, frac, offset = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])  # floor to microseconds: re-read, never skip
    naive = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    if offset is None:
        return _localize(naive, zone, text, entity)
    if offset.upper() == "Z":
        return naive.replace(tzinfo=timezone.utc)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise _bad(text, "datetime", entity, "offset out of range")
    return naive.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def _parse_datetime(value: Any, zone: tzinfo, entity: str | None) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else _localize(value, zone, value, entity)
    elif isinstance(value, str):
        aware = _datetime_from_text(value.strip(), zone, entity)
    else:
        why = "epoch numbers are ambiguous; declare kind 'int' or use /Date(ms)/"
        raise _bad(value, "datetime", entity, why if isinstance(value, numbers.Number) else "")
    return aware.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse_date(value: Any, entity: str | None) -> str:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise _bad(value, "date", entity, "a date watermark cannot carry a time of day")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise _bad(value, "date", entity)
    text = value.strip()
    m = _COMPACT_DATE.match(text)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    m = _ISO.match(text)
    if not m or m.group(8):
        raise _bad(value, "date", entity)
    if any(int(part or 0) for part in m.groups()[3:7]):
        raise _bad(value, "date", entity, "a date watermark cannot carry a time of day")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()


def _parse_int(value: Any, entity: str | None) -> str:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        n = int(value)
    elif isinstance(value, str) and _INT_TEXT.match(value.strip()):
        n = int(value.strip())
    else:
        raise _bad(value, "int", entity)
    if not _INT_MIN <= n <= _INT_MAX:
        raise _bad(value, "int", entity, "outside the 64-bit range")
    return str(n)


def _parse_rowversion(value: Any, entity: str | None) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if not 1 <= len(raw) <= 8:
            raise _bad(value, "rowversion", entity, f"{len(raw)} bytes, a rowversion has 8")
        n = int.from_bytes(raw, "big")
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
        if not 0 <= n <= _ROWVERSION_MAX:
            raise _bad(value, "rowversion", entity, "outside the unsigned 64-bit range")
    elif isinstance(value, str) and _HEX_TEXT.match(value.strip()):
        n = int(_HEX_TEXT.match(value.strip()).group(1), 16)  # type: ignore[union-attr]
    else:
        raise _bad(value, "rowversion", entity)
    return f"0x{n:016X}"


def _parse_string(value: Any, entity: str | None) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > 4000
        or CONTROL_CHARACTERS.search(value)
    ):
        raise _bad(value, "string", entity)
    return value


def parse_watermark(
    value: Any,
    kind: WatermarkKind,
    *,
    source_tz: str | tzinfo | None = None,
    entity: str | None = None,
) -> str:
    """Validate a watermark value and return its canonical text.

    Args:
        value: text in a canonical or accepted legacy form, or a native value (``datetime``,
            ``date``, ``int``, ``bytes``) as read from data.
        kind: ``datetime``, ``date``, ``int``, ``rowversion`` or ``string`` (see `KINDS`).
        source_tz: IANA zone naive datetimes are wall times in (default UTC). Ambiguous wall
            times take the earlier instant; wall times skipped by a DST change are refused.
        entity: the entity the value belongs to (named in errors).

    Returns:
        The canonical text (a fixed point: parsing it again returns it unchanged).

    Raises:
        WatermarkError: unknown kind or a value not in an accepted form; the message names the
            entity, the (truncated) value and the expected form.

    Example:
        >>> parse_watermark("2025-01-15 02:30:00", "datetime")
        '2025-01-15T02:30:00.000000+00:00'
        >>> parse_watermark("/Date(1736908200000)/", "datetime")
        '2025-01-15T02:30:00.000000+00:00'
        >>> parse_watermark("2025-01-15 03:30:00", "datetime", source_tz="Europe/Amsterdam")
        '2025-01-15T02:30:00.000000+00:00'
        >>> parse_watermark("0xA1B2C", "rowversion")
        '0x00000000000A1B2C'
    """
    k = check_kind(kind, entity=entity)
    if value is None:
        raise WatermarkError(
            f"no {k} watermark value given", entity=entity, hint=f"expected {EXPECTED[k]}"
        )
    try:
        if k == "datetime":
            return _parse_datetime(value, zone_of(source_tz, entity), entity)
        if k == "date":
            return _parse_date(value, entity)
        if k == "int":
            return _parse_int(value, entity)
        if k == "rowversion":
            return _parse_rowversion(value, entity)
        return _parse_string(value, entity)
    except (ValueError, OverflowError) as exc:  # impossible calendar values, out-of-range years
        raise _bad(value, k, entity, str(exc)) from None


def to_native(canonical: str, kind: WatermarkKind) -> Any:
    """The comparable Python value of a canonical watermark (datetime, date, int or str).

    Rowversions compare as unsigned integers, datetimes as UTC instants.

    Example:
        >>> to_native("0x00000000000A1B2C", "rowversion")
        662316
    """
    k = check_kind(kind)
    if k == "datetime":
        return datetime.fromisoformat(canonical)
    if k == "date":
        return date.fromisoformat(canonical)
    if k == "int":
        return int(canonical)
    if k == "rowversion":
        return int(canonical, 16)
    return canonical


def is_canonical(value: Any, kind: WatermarkKind) -> bool:
    """True when ``value`` is already the canonical text of a ``kind`` watermark.

    Example:
        >>> is_canonical("2025-01-15", "date"), is_canonical("20250115", "date")
        (True, False)
    """
    try:
        return isinstance(value, str) and parse_watermark(value, kind) == value
    except WatermarkError:
        return False


def check_lookback(kind: str, lookback: Any, entity: str | None) -> timedelta | int | None:
    """The validated overlap of a window: a timedelta for datetimes and dates (dates also take
    a whole number of days, at most `MAX_RETENTION_DAYS`), a unit count for int/rowversion."""
    if lookback is None:
        return None
    if kind in ("datetime", "date"):
        if kind == "date" and isinstance(lookback, int) and not isinstance(lookback, bool):
            if not 0 <= lookback <= MAX_RETENTION_DAYS:
                raise WatermarkError(
                    f"lookback {shown(lookback)} days is out of bounds",
                    entity=entity,
                    hint=f"pass a number of days between 0 and {MAX_RETENTION_DAYS}",
                )
            return timedelta(days=lookback)
        if not isinstance(lookback, timedelta) or lookback < timedelta(0):
            raise WatermarkError(
                f"lookback {shown(lookback)} is not a non-negative timedelta",
                entity=entity,
                hint="pass lookback=timedelta(minutes=15) (dates also accept a number of days)",
            )
        return lookback
    if kind in ("int", "rowversion"):
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
            raise WatermarkError(
                f"lookback {shown(lookback)} is not a non-negative integer",
                entity=entity,
                hint=f"an {kind} watermark looks back by a number of units, e.g. lookback=1000",
            )
        return lookback
    raise WatermarkError(
        "a string watermark cannot look back",
        entity=entity,
        hint="drop lookback, or declare a datetime/int cursor",
    )


def shift(canonical: str, kind: WatermarkKind, lookback: Any, entity: str) -> str:
    """``canonical`` moved back by ``lookback`` (clamped at the kind's minimum)."""
    delta = check_lookback(kind, lookback, entity)
    if isinstance(delta, timedelta):
        native = to_native(canonical, kind)
        floor = datetime.min.replace(tzinfo=timezone.utc) if kind == "datetime" else date.min
        shifted = native - delta if native - floor > delta else floor
        return parse_watermark(shifted, kind)
    lowest = _INT_MIN if kind == "int" else 0
    return parse_watermark(max(lowest, to_native(canonical, kind) - (delta or 0)), kind)


# -- sentinels and absurd values ---------------------------------------------------------------
class Sentinel(NamedTuple):
    """A value that sources write as a placeholder, never as a real load position.

    Attributes:
        kinds: the watermark kinds it applies to.
        value: the value (``YYYY-MM-DD`` for dates and datetimes: any time that day, in any
            time zone; canonical text for int and rowversion).
        end: True for an end-of-time value (nothing can come after it: a watermark there stops
            every later load); False for a minimum / default value (a cursor column holding
            defaults, not change times).
        why: where it comes from.
    """

    kinds: tuple[str, ...]
    value: str
    end: bool
    why: str


_DATES = ("datetime", "date")
SENTINELS: tuple[Sentinel, ...] = (
    Sentinel(
        _DATES,
        "9999-12-31",
        True,
        "end of time: SQL Server's datetime/datetime2/date maximum, .NET DateTime.MaxValue",
    ),
    Sentinel(_DATES, "2999-12-31", True, "a common 'valid until further notice' placeholder"),
    Sentinel(_DATES, "2100-01-01", True, "a common far-future placeholder"),
    Sentinel(_DATES, "2099-12-31", True, "a common far-future placeholder"),
    Sentinel(_DATES, "2079-06-06", True, "SQL Server's smalldatetime maximum"),
    Sentinel(_DATES, "0001-01-01", False, "datetime2/date minimum, .NET DateTime.MinValue"),
    Sentinel(_DATES, "1753-01-01", False, "SQL Server's datetime minimum"),
    Sentinel(_DATES, "1899-12-30", False, "day zero of OLE Automation / Excel / Access dates"),
    Sentinel(
        _DATES,
        "1900-01-01",
        False,
        "SQL Server's datetime default (0 or '' cast to datetime) and smalldatetime minimum",
    ),
    Sentinel(_DATES, "1970-01-01", False, "the Unix epoch (a timestamp of 0)"),
    Sentinel(("int",), str(_INT_MAX), True, "the 64-bit maximum: no value can follow it"),
    Sentinel(
        ("rowversion",),
        f"0x{_ROWVERSION_MAX:016X}",
        True,
        "the largest rowversion: no value can follow it",
    ),
)
"""The known sentinel values, refused as watermarks unless ``allow_sentinel=True``.

A commit refuses all of them: an end value stops every later load, a minimum value as the
highest value copied means the cursor column holds defaults, so rows with it would never be
loaded again. ``begin`` (the stored value and ``initial``) and ``reset`` refuse only the end
values: a minimum there is the usual way to ask for a full (re)load. -1 and other "magic" numbers
are not listed: nothing here treats them specially, so they are ordinary values.
"""

_MAX_OFFSET = timedelta(hours=14)  # a naive sentinel read in any source time zone


def _sentinel(canonical: str, kind: str, native: Any) -> Sentinel | None:
    for s in SENTINELS:
        if kind not in s.kinds:
            continue
        if kind in ("int", "rowversion"):
            if canonical == s.value:
                return s
            continue
        day = date.fromisoformat(s.value)
        if kind == "date":
            if native == day:
                return s
            continue
        start = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
        lo = start - _MAX_OFFSET if day > date.min else start
        hi = start + timedelta(days=1) + _MAX_OFFSET if day < date.max else None
        if lo <= native and (hi is None or native < hi):
            return s
    return None


def check_plausible(
    canonical: str,
    kind: WatermarkKind,
    *,
    entity: str | None = None,
    future_skew_hours: float = 24,
    now: datetime | None = None,
    allow_future: bool = False,
    allow_sentinel: bool = False,
    minimum_sentinels: bool = True,
    subject: str = "watermark value",
) -> str:
    """Refuse a watermark that is a known sentinel or lies in the future.

    A watermark is where the next load starts: ``9999-12-31`` (or any value past now) would make
    every later load copy nothing, silently. See `SENTINELS` for the list and which are refused
    where; ``future_skew_hours`` is ``RuntimeConfig.watermark_future_skew_hours`` (default 24).

    Args:
        canonical: a canonical watermark (from `parse_watermark`).
        kind: its kind (string watermarks are never refused here).
        entity: the entity, for the error.
        future_skew_hours: how far past ``now`` a datetime (or date) may be.
        now: the current instant (default: now, UTC).
        allow_future: accept values past ``now`` + skew (a source with real future values).
        allow_sentinel: accept sentinel values.
        minimum_sentinels: also refuse the minimum sentinels (``1900-01-01`` ...), not only
            the end-of-time ones.
        subject: how the value is named in the error.

    Returns:
        ``canonical``.

    Raises:
        WatermarkError: a sentinel or a future value, naming the entity, the value and the fix.

    Example:
        >>> check_plausible("2025-01-15", "date")
        '2025-01-15'
        >>> check_plausible("9999-12-31", "date")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fmd_runtime.errors.WatermarkError: watermark value '9999-12-31' is a sentinel...
    """
    k = check_kind(kind, entity=entity)
    if k == "string":
        return canonical
    native = to_native(canonical, k)
    found = None if allow_sentinel else _sentinel(canonical, k, native)
    if found is not None and (found.end or minimum_sentinels):
        effect = (
            "as a watermark it would make every later load start after it and copy nothing"
            if found.end
            else "as the highest value copied it means the cursor column holds defaults, and "
            "rows with it would never be loaded again"
        )
        raise WatermarkError(
            f"{subject} {shown(canonical)} is a sentinel ({found.value}: {found.why}); {effect}",
            entity=entity,
            hint="check the cursor column and the source query (a placeholder is not a load "
            "position); a stored value is moved with rt.watermarks.reset(entity, <value>, "
            "reason=...), None for a full reload; pass allow_sentinel=True only if this value "
            "is really meant",
            details={"kind": k, "value": canonical, "refused": "sentinel"},
        )
    if allow_future or k not in _DATES:
        return canonical
    limit = (now or utcnow()) + timedelta(hours=future_skew_hours)
    ahead = native > limit if k == "datetime" else native > limit.date()
    if ahead:
        raise WatermarkError(
            f"{subject} {shown(canonical)} is in the future (later than now + "
            f"{future_skew_hours:g} hours, {limit:%Y-%m-%d %H:%M} UTC); a watermark there makes "
            "the next loads skip every row until then",
            entity=entity,
            hint="check the cursor column and the source time zone (source_tz=...); if future "
            "values are real, pass allow_future=True or raise "
            "RuntimeConfig.watermark_future_skew_hours",
            details={"kind": k, "value": canonical, "refused": "future"},
        )
    return canonical


__all__ = [
    "EPOCH",
    "EXPECTED",
    "KINDS",
    "SENTINELS",
    "Sentinel",
    "WatermarkKind",
    "check_kind",
    "check_lookback",
    "check_plausible",
    "is_canonical",
    "parse_watermark",
    "shift",
    "to_native",
    "zone_of",
]
