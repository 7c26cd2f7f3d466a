"""Watermark governance: typed values, the begin/commit protocol, recovery and migration.

A watermark is the point the next incremental load of an entity starts from. Each kind has one
canonical text form, so stored values compare, display and migrate the same way everywhere:

=============  ======================================  ==========================================
kind           canonical text                          also accepted (legacy forms)
=============  ======================================  ==========================================
``datetime``   ``2025-01-15T02:30:00.000000+00:00``    ``2025-01-15 02:30:00`` (naive: in the
               (UTC, microseconds, offset)             declared source time zone, default UTC),
                                                       ISO with ``Z`` or an offset, ``/Date(ms)/``,
                                                       a ``datetime``
``date``       ``2025-01-15``                          ``20250115``, midnight datetimes, a ``date``
``int``        ``12345`` (64-bit signed)               an int, digits with a sign
``rowversion`` ``0x00000000000A1B2C``                  ``0xA1B2C`` (any case, 1-16 hex digits),
                                                       8 bytes, a non-negative int
``string``     the text itself (declared only)         -
=============  ======================================  ==========================================

Epoch numbers are refused for ``datetime`` (seconds or milliseconds? nobody can tell): declare the
cursor as ``int`` or store ``/Date(ms)/``.

The protocol, in a notebook::

    w = rt.watermarks.begin("account", kind="datetime", table="bronze.account", layer="bronze")
    rows = copy(f"SELECT * FROM dbo.Account WHERE {w.predicate('ModifiedOn')}")
    high = rt.watermarks.high_from(rows, "ModifiedOn", "datetime")
    res = rt.runs.write("account", "bronze.account", rows, layer="bronze", watermark=high)
    rt.watermarks.commit(w, high, table_version=res.version)

``commit`` advances only forward, once per run; a failure before it leaves the stored value as it
was. State lives in ``metadata.Watermarks`` as events; the latest non-invalidated Commit, Reset,
Recover, Migrate or RollbackReset event is the current value.
"""

from __future__ import annotations

import atexit
import functools
import numbers
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime.config import MAX_RETENTION_DAYS, check_number, strict_bool
from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.store import utcnow
from fmd_runtime.tables import validate_identifier

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])
WatermarkKind = Literal["datetime", "date", "int", "rowversion", "string"]
Dialect = Literal["tsql", "spark"]

KINDS: tuple[str, ...] = ("datetime", "date", "int", "rowversion", "string")
STATE_OPERATIONS: tuple[str, ...] = ("Commit", "Reset", "Recover", "Migrate", "RollbackReset")
"""Watermark events that set the current value (Begin only records an attempt)."""

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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- parse / format --------------------------------------------------------------------------
def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _bad(value: Any, kind: str, entity: str | None, why: str = "") -> WatermarkError:
    reason = f" ({why})" if why else ""
    return WatermarkError(
        f"watermark value {_show(value)} is not a valid {kind} watermark{reason}",
        entity=entity,
        hint=f"expected {EXPECTED.get(kind, 'one of ' + ', '.join(KINDS))}",
        details={"kind": kind, "value": _show(value)},
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
            f"watermark kind {_show(kind)} is not supported",
            entity=entity,
            hint=f"use one of {', '.join(KINDS)}",
        )
    return k  # type: ignore[return-value]


def _zone(source_tz: str | tzinfo | None, entity: str | None) -> tzinfo:
    if source_tz is None:
        return timezone.utc
    if isinstance(source_tz, tzinfo):
        return source_tz
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(source_tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise WatermarkError(
            f"source time zone {_show(source_tz)} is not a known IANA zone",
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
        return _EPOCH + timedelta(milliseconds=int(m.group(1)))
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
    if not isinstance(value, str) or not value or len(value) > 4000 or _CONTROL.search(value):
        raise _bad(value, "string", entity)
    return value


def parse_watermark(
    value: Any,
    kind: str,
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
            return _parse_datetime(value, _zone(source_tz, entity), entity)
        if k == "date":
            return _parse_date(value, entity)
        if k == "int":
            return _parse_int(value, entity)
        if k == "rowversion":
            return _parse_rowversion(value, entity)
        return _parse_string(value, entity)
    except (ValueError, OverflowError) as exc:  # impossible calendar values, out-of-range years
        raise _bad(value, k, entity, str(exc)) from None


def to_native(canonical: str, kind: str) -> Any:
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


def is_canonical(value: Any, kind: str) -> bool:
    """True when ``value`` is already the canonical text of a ``kind`` watermark.

    Example:
        >>> is_canonical("2025-01-15", "date"), is_canonical("20250115", "date")
        (True, False)
    """
    try:
        return isinstance(value, str) and parse_watermark(value, kind) == value
    except WatermarkError:
        return False


def _lookback(kind: str, lookback: Any, entity: str | None) -> timedelta | int | None:
    """The validated overlap of a window: a timedelta for datetimes and dates (dates also take
    a whole number of days, at most `MAX_RETENTION_DAYS`), a unit count for int/rowversion."""
    if lookback is None:
        return None
    if kind in ("datetime", "date"):
        if kind == "date" and isinstance(lookback, int) and not isinstance(lookback, bool):
            if not 0 <= lookback <= MAX_RETENTION_DAYS:
                raise WatermarkError(
                    f"lookback {_show(lookback)} days is out of bounds",
                    entity=entity,
                    hint=f"pass a number of days between 0 and {MAX_RETENTION_DAYS}",
                )
            return timedelta(days=lookback)
        if not isinstance(lookback, timedelta) or lookback < timedelta(0):
            raise WatermarkError(
                f"lookback {_show(lookback)} is not a non-negative timedelta",
                entity=entity,
                hint="pass lookback=timedelta(minutes=15) (dates also accept a number of days)",
            )
        return lookback
    if kind in ("int", "rowversion"):
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
            raise WatermarkError(
                f"lookback {_show(lookback)} is not a non-negative integer",
                entity=entity,
                hint=f"an {kind} watermark looks back by a number of units, e.g. lookback=1000",
            )
        return lookback
    raise WatermarkError(
        "a string watermark cannot look back",
        entity=entity,
        hint="drop lookback, or declare a datetime/int cursor",
    )


def _shift(canonical: str, kind: str, lookback: Any, entity: str) -> str:
    """``canonical`` moved back by ``lookback`` (clamped at the kind's minimum)."""
    delta = _lookback(kind, lookback, entity)
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
    kind: str,
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
            f"{subject} {_show(canonical)} is a sentinel ({found.value}: {found.why}); {effect}",
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
            f"{subject} {_show(canonical)} is in the future (later than now + "
            f"{future_skew_hours:g} hours, {limit:%Y-%m-%d %H:%M} UTC); a watermark there makes "
            "the next loads skip every row until then",
            entity=entity,
            hint="check the cursor column and the source time zone (source_tz=...); if future "
            "values are real, pass allow_future=True or raise "
            "RuntimeConfig.watermark_future_skew_hours",
            details={"kind": k, "value": canonical, "refused": "future"},
        )
    return canonical


# -- SQL rendering ---------------------------------------------------------------------------
def _render_column(column: str, dialect: str) -> str:
    if not isinstance(column, str):
        validate_identifier(column, what="watermark column")  # refuses it, naming what it is
    parts = column.split(".")
    for part in parts:
        validate_identifier(part, what="watermark column")
    if dialect == "tsql":
        return ".".join(f"[{p}]" for p in parts)
    return ".".join(f"`{p}`" for p in parts)


def render_literal(
    canonical: str, kind: str, dialect: Dialect = "tsql", *, source_tz: str | None = None
) -> str:
    """Render a watermark as a SQL literal for the source query (validated first, never raw input).

    ``tsql`` datetimes become ``CONVERT(datetime2, '<wall time>', 126)`` in the source time zone
    (UTC when none is declared); ``spark`` datetimes become instant literals with an offset.

    Raises:
        WatermarkError: the value is not a valid watermark of that kind.
        ConfigError: unknown dialect.

    Example:
        >>> render_literal("0xA1B2C", "rowversion")
        '0x00000000000A1B2C'
        >>> render_literal("2025-01-15T02:30:00.000000+00:00", "datetime")
        "CONVERT(datetime2, '2025-01-15T02:30:00.000000', 126)"
    """
    k = check_kind(kind)
    value = parse_watermark(canonical, k)  # re-validated: nothing unchecked reaches SQL text
    if dialect not in ("tsql", "spark"):
        raise ConfigError(f"SQL dialect {dialect!r} is not supported", hint="use 'tsql' or 'spark'")
    if k == "datetime":
        instant = to_native(value, k)
        if dialect == "spark":
            return f"TIMESTAMP '{instant.isoformat(sep=' ', timespec='microseconds')}'"
        wall = instant.astimezone(_zone(source_tz, None)).replace(tzinfo=None)
        return f"CONVERT(datetime2, '{wall.isoformat(timespec='microseconds')}', 126)"
    if k == "date":
        return f"CONVERT(date, '{value}', 23)" if dialect == "tsql" else f"DATE '{value}'"
    if k == "int":
        return value
    if k == "rowversion":
        return value if dialect == "tsql" else f"X'{value[2:]}'"
    if dialect == "tsql":
        return "N'" + value.replace("'", "''") + "'"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Window(BaseModel):
    """The copy window an incremental load works on, as returned by `Watermarks.begin`.

    Attributes:
        entity: the entity loaded.
        kind: the watermark kind.
        low: the stored watermark (canonical), or None for a first load.
        effective_low: ``low`` moved back by ``lookback`` (the bound the source query uses).
        inclusive: the low bound is inclusive (``>=``); always true with a lookback.
        lookback: the overlap for late-arriving rows (timedelta, days or units), if any.
        run_id: the run that opened the window (the only run that may commit it).
        table / layer: the target table and layer, when given.
        source_tz: the time zone of the source's naive datetimes.
        recovered: the value `begin` completed from a landed commit, if it did.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    kind: WatermarkKind
    low: str | None
    effective_low: str | None
    inclusive: bool = False
    lookback: timedelta | int | None = None
    run_id: str
    table: str | None = None
    layer: str | None = None
    source_tz: str | None = None
    recovered: str | None = None
    opened_at: datetime = Field(default_factory=utcnow)

    @property
    def is_first_load(self) -> bool:
        """True when there is no low bound (nothing stored, no initial value)."""
        return self.effective_low is None

    def predicate(self, column: str, dialect: Dialect = "tsql", *, upper: Any = None) -> str:
        """The WHERE predicate of the source query for this window.

        Args:
            column: the cursor column (``Col`` or ``alias.Col``; validated, then quoted).
            dialect: ``tsql`` (``[Col] > 0x...``) or ``spark`` (backticks).
            upper: an optional inclusive upper bound (any accepted form of this kind).

        Returns:
            e.g. ``[ModifiedOn] > CONVERT(datetime2, '2025-01-15T02:30:00.000000', 126)``;
            ``1 = 1`` for a first load without an upper bound.

        Raises:
            InvalidIdentifierError: the column is not a plain identifier.
            WatermarkError: ``upper`` is not a valid watermark of this kind.

        Example:
            >>> w = Window(entity="a", kind="int", low="41", effective_low="41", run_id="r")
            >>> w.predicate("Id")
            '[Id] > 41'
        """
        if dialect not in ("tsql", "spark"):
            raise ConfigError(
                f"SQL dialect {_show(dialect)} is not supported", hint="use 'tsql' or 'spark'"
            )
        col = _render_column(column, dialect)
        clauses = []
        if self.effective_low is not None:
            op = ">=" if self.inclusive or self.lookback else ">"
            lit = render_literal(self.effective_low, self.kind, dialect, source_tz=self.source_tz)
            clauses.append(f"{col} {op} {lit}")
        if upper is not None:
            high = parse_watermark(upper, self.kind, self.source_tz, self.entity)
            clauses.append(
                f"{col} <= {render_literal(high, self.kind, dialect, source_tz=self.source_tz)}"
            )
        return " AND ".join(clauses) if clauses else "1 = 1"


# -- high value from copied data ---------------------------------------------------------------
def high_from(data: Any, column: str, kind: str, *, source_tz: str | None = None) -> str | None:
    """The canonical maximum of ``column`` in copied data (None when there are no rows/values).

    Args:
        data: a pyarrow Table / RecordBatch or a Spark DataFrame.
        column: the cursor column (validated; matched case-insensitively).
        kind: the watermark kind.
        source_tz: zone of naive datetimes (Arrow ``timestamp`` without tz, Spark ``timestamp_ntz``).

    Raises:
        WatermarkError: the column is missing or its maximum is not a valid watermark.

    Example:
        >>> import pyarrow as pa
        >>> high_from(pa.table({"Id": [3, 9, 4]}), "Id", "int")
        '9'
    """
    validate_identifier(column, what="watermark column")
    if getattr(data, "schema", None) is None:
        raise ConfigError(
            f"parameter 'data' must be a pyarrow Table / RecordBatch or a Spark DataFrame, got "
            f"{type(data).__name__}",
            hint="pass the copied rows, e.g. high_from(rows, 'ModifiedOn', 'datetime')",
        )
    names = (
        list(data.schema.names)
        if hasattr(data.schema, "names")
        else [f.name for f in data.schema.fields]
    )
    match = [n for n in names if n.lower() == column.lower()]
    if not match:
        raise WatermarkError(
            f"column {column!r} is not in the copied data (columns: {names[:20]})",
            hint="pass the cursor column's name as the source query returns it",
        )
    name = match[0]
    if type(data).__module__.startswith("pyarrow"):
        import pyarrow.compute as pc

        value = pc.max(data.column(name)).as_py()
    else:
        value = _spark_max(data, name)
    return None if value is None else parse_watermark(value, kind, source_tz)


def _spark_max(df: Any, name: str) -> Any:
    """max() of a Spark column; timestamps travel as UTC epoch micros (no driver-zone guessing)."""
    type_name = df.schema[name].dataType.simpleString()
    if type_name == "timestamp":
        micros = df.selectExpr(f"unix_micros(max(`{name}`)) AS m").collect()[0][0]
        return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))
    if type_name == "timestamp_ntz":
        return df.selectExpr(f"CAST(max(`{name}`) AS STRING) AS m").collect()[0][0]
    return df.selectExpr(f"max(`{name}`) AS m").collect()[0][0]


# -- the capability ----------------------------------------------------------------------------
class WatermarkState(BaseModel):
    """The current watermark of an entity: the latest state event in ``Watermarks``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    kind: str
    value: str | None
    operation: str
    run_id: str
    table: str | None = None
    layer: str | None = None
    table_version: int | None = None
    event_time: datetime


class MigrationChange(BaseModel):
    """One stored value `Watermarks.migrate` rewrites to canonical form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    kind: str
    old: str
    new: str


class MigrationRefusal(BaseModel):
    """One stored value `Watermarks.migrate` cannot parse (left as it is, listed for the operator)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    kind: str
    value: str
    error: str


class MigrationReport(BaseModel):
    """What `Watermarks.migrate` changed (or, in a dry run, would change) and what it refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_run: bool
    changes: tuple[MigrationChange, ...] = ()
    refused: tuple[MigrationRefusal, ...] = ()
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        """True when no value was refused."""
        return not self.refused


_LIVE: weakref.WeakSet[Watermarks] = weakref.WeakSet()


@atexit.register
def _flush_begin_events() -> None:
    for capability in list(_LIVE):
        try:
            capability._buffer.flush()
        except Exception:  # exit-time best effort: Begin rows only record attempts
            pass


def _check_entity(entity: Any) -> str:
    if (
        not isinstance(entity, str)
        or not entity.strip()
        or len(entity) > 256
        or _CONTROL.search(entity)
    ):
        raise WatermarkError(
            f"entity id {_show(entity)} is not valid",
            hint="pass the entity's id or name: non-empty text without control characters",
        )
    return entity


def _check_text(value: Any, parameter: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(
            f"parameter {parameter!r} must be text, got {_show(value)} ({type(value).__name__})",
            hint=f"pass {parameter}='...' or leave it out",
        )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _table_of(state: WatermarkState | None) -> str | None:
    return state.table if state is not None else None


def _is_live(row: Mapping[str, Any]) -> bool:
    return row.get("Invalidated") is not True


def _audit_refusals(operation: str) -> Callable[[F], F]:
    """Audit a `WatermarkError` the decorated method raises (a refusal), then re-raise it."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: Watermarks, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except WatermarkError as exc:
                if not exc.details.get("audited"):
                    self._rt.audit.event(
                        operation,
                        "Refused",
                        entity=exc.entity,
                        error=exc,
                        severity="MEDIUM",
                        flush=True,
                    )
                raise

        return wrapper  # type: ignore[return-value]

    return decorate


class Watermarks:
    """The watermark capability (``rt.watermarks``): begin, commit, reset, recover, migrate.

    Example:
        >>> # w = rt.watermarks.begin("account", kind="datetime", table="bronze.account")
        >>> # ... copy rows WHERE w.predicate("ModifiedOn") ...
        >>> # rt.watermarks.commit(w, rt.watermarks.high_from(rows, "ModifiedOn", "datetime"))
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._buffer = runtime.store.buffer("Watermarks")
        _LIVE.add(self)

    # -- reads ---------------------------------------------------------------------------
    def _rows(self, **where: Any) -> list[dict[str, Any]]:
        rows = self._rt.store.read("Watermarks", where or None)
        return sorted(rows, key=lambda r: _utc(r["EventTime"]))

    @staticmethod
    def _latest(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
        state = [r for r in rows if r["Operation"] in STATE_OPERATIONS and _is_live(r)]
        return dict(state[-1]) if state else None

    @staticmethod
    def _state(row: Mapping[str, Any] | None) -> WatermarkState | None:
        if row is None:
            return None
        kind = str(row["Kind"]).lower() if str(row["Kind"]).lower() in KINDS else str(row["Kind"])
        return WatermarkState(
            entity=row["EntityId"],
            kind=kind,
            value=row.get("Value"),
            operation=row["Operation"],
            run_id=row["RunId"],
            table=f"{row['SchemaName']}.{row['TableName']}" if row.get("TableName") else None,
            layer=row.get("Layer"),
            table_version=row.get("TableVersion"),
            event_time=_utc(row["EventTime"]),
        )

    def state(self, entity: str) -> WatermarkState | None:
        """The entity's current state (value, kind, event that set it), or None if never set.

        Example:
            >>> # rt.watermarks.state("account").value
        """
        return self._state(self._latest(self._rows(EntityId=_check_entity(entity))))

    def current(self, entity: str) -> str | None:
        """The entity's stored watermark (canonical unless a legacy value awaits migration).

        Example:
            >>> # rt.watermarks.current("account") -> '2025-01-15T02:30:00.000000+00:00'
        """
        st = self.state(entity)
        return st.value if st else None

    def states(self) -> list[WatermarkState]:
        """The current state of every entity, sorted by entity."""
        by_entity: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows():
            by_entity.setdefault(row["EntityId"], []).append(row)
        found = (self._state(self._latest(rows)) for _, rows in sorted(by_entity.items()))
        return [s for s in found if s is not None]

    # -- writes --------------------------------------------------------------------------
    def _row(self, entity: str, kind: str, operation: str, **values: Any) -> dict[str, Any]:
        table = values.pop("table", None)
        ref = self._rt.table(table) if table else None
        return {
            "EventId": str(uuid.uuid4()),
            "EntityId": entity,
            "Kind": kind,
            "Operation": operation,
            "SchemaName": ref.schema_name if ref else None,
            "TableName": ref.table if ref else None,
            "RunId": values.pop("run_id", None) or self._rt.context.run_id,
            "EventTime": utcnow(),
            **values,
        }

    def _audit(self, operation: str, status: str, where: tuple[Any, ...], **kw: Any) -> None:
        """One audit event; ``where`` is (entity, table, layer)."""
        entity, table, layer = where
        self._rt.audit.event(operation, status, entity=entity, table=table, layer=layer, **kw)

    def _resolve_kind(
        self,
        entity: str,
        kind: str | None,
        st: WatermarkState | None,
        table: str | None,
        attempted: WatermarkState | None = None,
    ) -> str:
        """The kind asked for, else the stored one, else an earlier attempt's, else PipelineConfig's."""
        if kind is not None:
            k = check_kind(kind, entity=entity)
            if st is not None and st.kind != k:
                raise WatermarkError(
                    f"the stored watermark is a {st.kind} watermark, begin asked for {k}",
                    entity=entity,
                    hint=f"to change the kind, reset it: rt.watermarks.reset({entity!r}, <value>, "
                    f"reason=..., kind={k!r})",
                )
            return k
        known = st or attempted
        if known is not None:
            return check_kind(known.kind, entity=entity)
        configured = self._rt.table_config(table).watermark_kind if table else None
        if configured:
            return check_kind(configured, entity=entity)
        raise WatermarkError(
            "no watermark kind is known for this entity",
            entity=entity,
            hint="pass kind='datetime' (or date, int, rowversion, string), or set watermark_kind "
            "in the table's PipelineConfig",
        )

    def _plausible(
        self, entity: str, allow_future: Any, allow_sentinel: Any, *, minimum_sentinels: bool
    ) -> Callable[..., str]:
        """The sentinel / future check of this call (flags parsed strictly, up front)."""
        future = strict_bool(allow_future, "allow_future")
        sentinel = strict_bool(allow_sentinel, "allow_sentinel")
        skew = self._rt.config.watermark_future_skew_hours

        def check(canonical: str, kind: str, subject: str = "watermark value") -> str:
            return check_plausible(
                canonical,
                kind,
                entity=entity,
                future_skew_hours=skew,
                allow_future=future,
                allow_sentinel=sentinel,
                minimum_sentinels=minimum_sentinels,
                subject=subject,
            )

        return check

    def _stored_value(self, st: WatermarkState | None, kind: str, tz: str | None) -> str | None:
        if st is None or st.value is None:
            return None
        try:
            return parse_watermark(st.value, kind, tz, st.entity)
        except WatermarkError as exc:
            raise WatermarkError(
                f"the stored watermark cannot be read: {exc.message}",
                entity=st.entity,
                hint="normalize stored values with `fmd watermarks migrate` (dry run first), or "
                "rt.watermarks.reset(entity, value, reason)",
            ) from exc

    @_audit_refusals("WatermarkBegin")
    def begin(
        self,
        entity: str,
        *,
        kind: str | None = None,
        lookback: timedelta | int | None = None,
        inclusive: bool = False,
        table: str | None = None,
        layer: str | None = None,
        initial: Any = None,
        source_tz: str | None = None,
        recover: bool = True,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> Window:
        """Open the copy window of an incremental load and record the attempt (a Begin event).

        When the entity's table is known (``table=`` or from its stored events), ``begin`` first
        runs `recover`: a data commit that landed after the last watermark commit (a crash between
        the two) completes the watermark instead of being loaded again.

        Args:
            entity: the entity (source object) id.
            kind: the watermark kind; defaults to the stored kind, then the table's
                ``watermark_kind`` in PipelineConfig.
            lookback: overlap for late rows (timedelta for datetimes, days or timedelta for
                dates, units for int/rowversion); makes the low bound inclusive. The overlap
                re-reads rows: load it with a merge/dedupe on the key, not a blind append.
            inclusive: ``>=`` instead of ``>`` on the low bound.
            table: the target table (``schema.table``), recorded and used for recovery.
            layer: the layer loaded.
            initial: the low bound of a first load (nothing stored yet); not stored until commit.
            source_tz: zone of the source's naive datetimes (parsing and T-SQL rendering).
            recover: look for a landed-but-uncommitted load first (default True).
            allow_future: accept a stored or ``initial`` value in the future (past now +
                ``RuntimeConfig.watermark_future_skew_hours``); refused by default, since such a
                window skips every row until then.
            allow_sentinel: accept an end-of-time sentinel (``9999-12-31`` ..., see
                `SENTINELS`) as the stored or ``initial`` value; minimum sentinels such as
                ``1900-01-01`` are always accepted here (a full first load).

        Returns:
            The frozen `Window`.

        Raises:
            WatermarkError: invalid entity/kind/initial/lookback, a kind that differs from the
                stored one, a stored value that cannot be read, or a stored or initial value
                that is a sentinel or in the future (checked before anything is written).
            InvalidIdentifierError: ``table`` is not a table of the connected lakehouse.
            ConfigError: a flag or ``layer`` of the wrong type.

        Example:
            >>> # w = rt.watermarks.begin("account", kind="rowversion", table="bronze.account")
            >>> # w.predicate("RowVersion") -> '[RowVersion] > 0x00000000000A1B2C'
        """
        entity = _check_entity(entity)
        inclusive, recover = strict_bool(inclusive, "inclusive"), strict_bool(recover, "recover")
        plausible = self._plausible(entity, allow_future, allow_sentinel, minimum_sentinels=False)
        _check_text(layer, "layer")
        explicit = self._rt.table(table).name if table is not None else None
        rows = self._rows(EntityId=entity)
        st = self._state(self._latest(rows))
        last = self._state(rows[-1]) if rows else None  # any event: an attempt knows kind and table
        target = explicit or _table_of(st or last)
        k = self._resolve_kind(entity, kind, st, target, last)
        tz = None if source_tz is None else str(source_tz)
        _zone(tz, entity)
        _lookback(k, lookback, entity)  # a bad lookback is refused on the first load too
        first = None if initial is None else plausible(parse_watermark(initial, k, tz, entity), k)
        recovered = self._recover(entity, rows, st, target, layer, k, tz) if recover else None
        st = self.state(entity) if recovered is not None else st
        low = self._stored_value(st, k, tz)
        if low is not None:
            plausible(low, k, subject="the stored watermark")
        elif first is not None:
            low = first
        effective = _shift(low, k, lookback, entity) if low is not None and lookback else low
        window = Window(
            entity=entity,
            kind=k,  # type: ignore[arg-type]
            low=low,
            effective_low=effective,
            inclusive=bool(inclusive or lookback),
            lookback=lookback,
            run_id=self._rt.context.run_id,
            table=target,
            layer=layer,
            source_tz=tz,
            recovered=recovered,
        )
        value = st.value if st else None
        row = self._row(
            entity, k, "Begin", table=target, Layer=layer, Value=value, WindowLow=effective
        )
        self._buffer.add(row)
        details = window.model_dump(
            mode="json", include={"kind", "low", "effective_low", "inclusive"}
        )
        self._audit("WatermarkBegin", "Started", (entity, target, layer), details=details)
        return window

    @_audit_refusals("WatermarkCommit")
    def commit(
        self,
        window: Window,
        high: Any,
        *,
        table_version: int | None = None,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> str | None:
        """Advance the entity's watermark to ``high`` after the copy succeeded: forward only, once per run.

        Args:
            window: the window `begin` returned.
            high: the new watermark (any accepted form; typically `high_from` the copied rows).
                None means nothing was copied: the stored value stays.
            table_version: the target version the data landed in (recorded; used by rollback);
                a non-negative integer.
            allow_future: accept a datetime/date ``high`` later than now +
                ``RuntimeConfig.watermark_future_skew_hours`` (refused by default: the next
                loads would skip every row until then).
            allow_sentinel: accept a known sentinel (`SENTINELS`: ``9999-12-31``,
                ``1900-01-01``, the int64 maximum ...), refused by default.

        Returns:
            The stored (canonical) watermark after the call.

        Raises:
            WatermarkError: ``high`` is invalid, a sentinel, in the future, or lower than the
                stored value (use `reset`); nothing is committed.
            ConfigError: ``window`` is not a `Window`, or ``table_version`` / a flag is invalid.

        Example:
            >>> # rt.watermarks.commit(w, "2025-01-16 02:30:00", table_version=res.version)
        """
        if not isinstance(window, Window):
            raise ConfigError(
                f"parameter 'window' must be the Window that begin() returned, got "
                f"{type(window).__name__}",
                hint="w = rt.watermarks.begin(entity, ...); ...; rt.watermarks.commit(w, high)",
            )
        if table_version is not None:
            table_version = check_number(table_version, "table_version", minimum=0, integer=True)
        entity, kind, where = (
            window.entity,
            window.kind,
            (window.entity, window.table, window.layer),
        )
        plausible = self._plausible(entity, allow_future, allow_sentinel, minimum_sentinels=True)
        if high is None:
            details: dict[str, Any] = {"reason": "no rows copied", "value": window.low}
            self._audit("WatermarkCommit", "Skipped", where, details=details)
            return self.current(entity)
        value = plausible(parse_watermark(high, kind, window.source_tz, entity), kind)
        rows = self._rows(EntityId=entity)
        mine = ("Commit", "Recover")
        done = [
            r
            for r in rows
            if r["RunId"] == window.run_id and r["Operation"] in mine and _is_live(r)
        ]
        if done:
            details = {
                "reason": "already committed by this run",
                "value": done[-1]["Value"],
                "asked": value,
            }
            self._audit("WatermarkCommit", "Skipped", where, details=details)
            return self.current(entity)
        st = self._state(self._latest(rows))
        stored = self._stored_value(st, kind, window.source_tz)
        if stored is not None and to_native(value, kind) < to_native(stored, kind):
            error = WatermarkError(
                f"commit would move the watermark backwards from {stored} to {value}",
                entity=entity,
                run_id=window.run_id,
                hint="a watermark only moves forward; to move it back on purpose use "
                f"rt.watermarks.reset({entity!r}, {value!r}, reason=...)",
                details={"audited": True},
            )
            details = {"stored": stored, "asked": value}
            self._audit(
                "WatermarkCommit",
                "Failed",
                where,
                error=error,
                severity="HIGH",
                details=details,
                flush=True,
            )
            raise error
        row = self._row(
            entity,
            kind,
            "Commit",
            table=window.table,
            Layer=window.layer,
            Value=value,
            PreviousValue=st.value if st else None,
            WindowLow=window.effective_low,
            RunId=window.run_id,
            TableVersion=table_version,
        )
        self._rt.store.append("Watermarks", [row])
        details = {
            "from": stored,
            "to": value,
            "window_low": window.effective_low,
            "table_version": table_version,
            "moved_since_begin": stored != window.low,
        }
        self._audit("WatermarkCommit", "Succeeded", where, details=details)
        return value

    @_audit_refusals("WatermarkReset")
    def reset(
        self,
        entity: str,
        value: Any,
        reason: str,
        *,
        kind: str | None = None,
        table: str | None = None,
        layer: str | None = None,
        source_tz: str | None = None,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> str | None:
        """Set an entity's watermark to any value, backwards included, with an audited reason.

        Args:
            entity: the entity.
            value: the new value (any accepted form), or None to force a full first load
                (a minimum sentinel such as ``1900-01-01`` is accepted for the same purpose).
            reason: why (required; recorded and audited).
            kind: the kind (defaults to the stored one; give it to change the kind).
            table / layer: recorded with the event (default: the stored ones).
            source_tz: zone of a naive datetime ``value``.
            allow_future: accept a value later than now + the configured skew.
            allow_sentinel: accept an end-of-time sentinel (``9999-12-31`` ..., `SENTINELS`).

        Returns:
            The canonical value stored.

        Raises:
            WatermarkError: no reason, invalid value, an end-of-time sentinel or a future value
                (unless allowed), or no kind known; nothing is stored.

        Example:
            >>> # rt.watermarks.reset("account", "2025-01-01", reason="re-load January after a fix")
        """
        entity = _check_entity(entity)
        if not isinstance(reason, str) or not reason.strip():
            hint = "say why, e.g. reason='re-load January after the source fix'"
            raise WatermarkError("a reset needs a reason", entity=entity, hint=hint)
        plausible = self._plausible(entity, allow_future, allow_sentinel, minimum_sentinels=False)
        _check_text(layer, "layer")
        explicit = self._rt.table(table).name if table is not None else None
        st = self.state(entity)
        k = check_kind(kind, entity=entity) if kind else self._resolve_kind(entity, None, st, table)
        canonical = None if value is None else parse_watermark(value, k, source_tz, entity)
        if canonical is not None:
            plausible(canonical, k)
        target = explicit or (st.table if st else None)
        lay, old = layer or (st.layer if st else None), st.value if st else None
        row = self._row(
            entity,
            k,
            "Reset",
            table=target,
            Layer=lay,
            Value=canonical,
            PreviousValue=old,
            Reason=reason.strip()[:1000],
        )
        self._rt.store.append("Watermarks", [row])
        details = {"from": old, "to": canonical, "kind": k, "reason": reason}
        self._audit(
            "WatermarkReset",
            "Succeeded",
            (entity, target, lay),
            severity="MEDIUM",
            details=details,
            flush=True,
        )
        return canonical

    def recover(
        self,
        entity: str,
        *,
        table: str | None = None,
        layer: str | None = None,
        kind: str | None = None,
    ) -> str | None:
        """Complete a watermark whose data landed but whose commit never happened (a crash between).

        Looks through the table's recent history (newest first) for the latest commit that
        `RunLedger.write` made for this entity and that no RESTORE or rollback has undone. When
        its proposed watermark (commit metadata ``fmd.watermark``) is newer than the stored one,
        a Recover event stores it and the ledger records that run's load as done.

        Args:
            entity: the entity.
            table: the target table (default: the one in the entity's stored events).
            layer: only commits of this layer (default: any).
            kind: the kind (default: the stored one).

        Returns:
            The recovered canonical value, or None when there was nothing to recover.

        Example:
            >>> # rt.watermarks.recover("account") -> '2025-01-16T02:30:00.000000+00:00' or None
        """
        entity = _check_entity(entity)
        _check_text(layer, "layer")
        explicit = self._rt.table(table).name if table is not None else None
        rows = self._rows(EntityId=entity)
        st = self._state(self._latest(rows))
        last = self._state(rows[-1]) if rows else None
        target = explicit or _table_of(st or last)
        if not target:
            return None
        k = self._resolve_kind(entity, kind, st, target, last)
        return self._recover(entity, rows, st, target, layer, k, None)

    def _recover(
        self,
        entity: str,
        rows: list[dict[str, Any]],
        st: WatermarkState | None,
        target: str | None,
        layer: str | None,
        k: str,
        tz: str | None,
    ) -> str | None:
        if not target or not self._rt.engine.exists(self._rt.table(target)):
            return None
        stored = self._stored_value(st, k, tz)
        skew = self._rt.config.watermark_future_skew_hours
        invalid = {r["RunId"] for r in rows if not _is_live(r)}
        since = st.table_version if st is not None and st.table == target else None
        for landed in self._rt.runs.landed(target, entity, layer=layer, since_version=since):
            if landed.undone or landed.watermark is None or landed.run_id in invalid:
                continue
            try:
                value = parse_watermark(landed.watermark, k, entity=entity)
                # a commit would refuse a sentinel or a future value: so does recovery
                check_plausible(value, k, entity=entity, future_skew_hours=skew)
            except WatermarkError:
                continue  # a malformed proposal is never trusted; the window is loaded again
            if stored is not None and to_native(value, k) <= to_native(stored, k):
                return None  # the newest load is already committed
            lay = landed.layer or layer
            reason = f"completed from {target} v{landed.version} by run {self._rt.context.run_id}"
            row = self._row(
                entity,
                k,
                "Recover",
                table=target,
                Layer=lay,
                Value=value,
                PreviousValue=st.value if st else None,
                RunId=landed.run_id,
                TableVersion=landed.version,
                Reason=reason,
            )
            self._rt.store.append("Watermarks", [row])
            self._rt.runs.record_landed(entity, landed, table=target)
            details = {
                "from": stored,
                "to": value,
                "table_version": landed.version,
                "landed_run_id": landed.run_id,
            }
            self._audit(
                "WatermarkRecover",
                "Succeeded",
                (entity, target, lay),
                severity="MEDIUM",
                details=details,
                flush=True,
            )
            return value
        return None

    def high_from(
        self, data: Any, column: str, kind: str, *, source_tz: str | None = None
    ) -> str | None:
        """The canonical maximum of ``column`` in copied data; see the module function `high_from`."""
        return high_from(data, column, kind, source_tz=source_tz)

    def migrate(
        self,
        dry_run: bool = True,
        *,
        source_tz: str | Mapping[str, str] | None = None,
        entities: Iterable[str] | None = None,
    ) -> MigrationReport:
        """Normalize every entity's stored (legacy) watermark to canonical form.

        Each entity's current value (its latest state event) is parsed with its kind; a value that
        is not canonical gets a Migrate event with the canonical text; a value that cannot be
        parsed is refused and listed (it stays as it is). Dry run by default.

        Args:
            dry_run: report only (default); False writes the Migrate events in one commit.
            source_tz: zone of naive legacy datetimes: one IANA name, or entity -> name.
            entities: only these entities (default: all).

        Returns:
            The `MigrationReport` (changes, refusals, unchanged count).

        Example:
            >>> # report = rt.watermarks.migrate()            # look first
            >>> # rt.watermarks.migrate(dry_run=False)        # then apply
        """
        dry_run = strict_bool(dry_run, "dry_run")
        if isinstance(entities, str):
            entities = [entities]  # one entity id (ids may contain commas: never split)
        if entities is not None and not (
            isinstance(entities, Iterable) and all(isinstance(e, str) for e in entities)
        ):
            raise ConfigError(
                f"parameter 'entities' must be a list of entity ids, got {_show(entities)}",
                hint="pass entities=['account', 'contact'], or leave it out for all",
            )
        if source_tz is not None and not isinstance(source_tz, str | Mapping):
            raise ConfigError(
                f"parameter 'source_tz' must be an IANA zone name or a mapping entity -> zone, "
                f"got {type(source_tz).__name__}",
                hint="pass source_tz='Europe/Amsterdam' or {'account': 'Europe/Amsterdam'}",
            )
        wanted = set(entities) if entities is not None else None
        changes, refused, unchanged, rows = [], [], 0, []
        for st in self.states():
            if (wanted is not None and st.entity not in wanted) or st.value is None:
                continue
            zone = source_tz.get(st.entity) if isinstance(source_tz, Mapping) else source_tz
            try:
                new = parse_watermark(st.value, st.kind, zone, st.entity)
            except WatermarkError as exc:
                shown = _show(st.value)
                refused.append(
                    MigrationRefusal(entity=st.entity, kind=st.kind, value=shown, error=str(exc))
                )
                continue
            if new == st.value:
                unchanged += 1
                continue
            kind = st.kind.lower()
            changes.append(MigrationChange(entity=st.entity, kind=kind, old=st.value, new=new))
            rows.append(
                self._row(
                    st.entity,
                    kind,
                    "Migrate",
                    table=st.table,
                    Layer=st.layer,
                    Value=new,
                    PreviousValue=st.value,
                    TableVersion=st.table_version,
                    Reason="normalized a legacy value to canonical form",
                )
            )
        if rows and not dry_run:
            self._rt.store.append("Watermarks", rows)
        for ch in changes:
            status = "Planned" if dry_run else "Succeeded"
            self._audit(
                "WatermarkMigrate",
                status,
                (ch.entity, None, None),
                dry_run=dry_run,
                details=ch.model_dump(),
            )
        for ref in refused:
            self._audit(
                "WatermarkMigrate",
                "Refused",
                (ref.entity, None, None),
                dry_run=dry_run,
                severity="MEDIUM",
                error=ref.error,
                details=ref.model_dump(),
            )
        self._rt.audit.flush()
        return MigrationReport(
            dry_run=dry_run, changes=tuple(changes), refused=tuple(refused), unchanged=unchanged
        )

    def invalidate_after(
        self, table: str, after: datetime, *, by_run_id: str
    ) -> list[dict[str, Any]]:
        """Rewind the watermarks of the entities loading ``table`` to their value at ``after``.

        Called by rollback after a RESTORE: state events newer than ``after`` are marked
        Invalidated and a RollbackReset event stores the last value committed at or before it
        (None when there was none: the next load is a first load). An event that records the
        version its data landed in is dated by that version's commit time, so a watermark
        committed a moment after its (kept) data is not rewound.

        Args:
            table: the restored table (``schema.table``).
            after: the point the table was restored to (naive = UTC).
            by_run_id: the rollback run (recorded on the events).

        Returns:
            One dict per rewound entity: entity, table, kind, from, to, invalidated_events.

        Example:
            >>> # rt.watermarks.invalidate_after("bronze.account", ckpt_time, by_run_id=run_id)
        """
        if not isinstance(after, datetime):
            raise ConfigError(
                f"parameter 'after' must be a datetime, got {type(after).__name__}",
                hint="pass the instant the table was restored to, e.g. the checkpoint's time",
            )
        if not isinstance(by_run_id, str) or not by_run_id.strip():
            raise ConfigError(
                f"parameter 'by_run_id' must be a run id, got {_show(by_run_id)}",
                hint="pass the rollback's run id",
            )
        ref, after = self._rt.table(table), _utc(after)
        times = self._rt.runs.version_times(ref.name)
        mine = {r["EntityId"] for r in self._rows(SchemaName=ref.schema_name, TableName=ref.table)}

        def when(row: Mapping[str, Any]) -> datetime:
            v = row.get("TableVersion")
            return times[v] if v is not None and v in times else _utc(row["EventTime"])

        out, new_rows = [], []
        for entity in sorted(mine):
            live = [
                r
                for r in self._rows(EntityId=entity)
                if r["Operation"] in STATE_OPERATIONS and _is_live(r)
            ]
            later = [r for r in live if when(r) > after]
            if not later:
                continue
            kept = [r for r in live if when(r) <= after]
            to, last = (kept[-1].get("Value") if kept else None), live[-1]
            self._invalidate(later)
            reason = (
                f"{ref.name} rolled back to its state at {after.isoformat()} by run {by_run_id}"
            )
            new_rows.append(
                self._row(
                    entity,
                    last["Kind"],
                    "RollbackReset",
                    table=ref.name,
                    Layer=last.get("Layer"),
                    Value=to,
                    PreviousValue=last.get("Value"),
                    RunId=by_run_id,
                    Reason=reason,
                    TableVersion=kept[-1].get("TableVersion") if kept else None,
                )
            )
            out.append(
                {
                    "entity": entity,
                    "table": ref.name,
                    "kind": last["Kind"],
                    "from": last.get("Value"),
                    "to": to,
                    "invalidated_events": len(later),
                }
            )
        if new_rows:
            self._rt.store.append("Watermarks", new_rows)
        for item in out:
            details = {**item, "after": after, "by_run_id": by_run_id}
            self._audit(
                "WatermarkRollbackReset",
                "Succeeded",
                (item["entity"], ref.name, None),
                severity="MEDIUM",
                details=details,
            )
        self._rt.audit.flush()
        return out

    def _invalidate(self, rows: list[dict[str, Any]]) -> None:
        ids = [r["EventId"] for r in rows if r.get("EventId")]
        if ids:
            self._rt.store.update("Watermarks", {"EventId": ids}, {"Invalidated": True})
        for r in rows:
            if not r.get("EventId"):  # rows written before EventId existed
                where = {k: r[k] for k in ("EntityId", "EventTime", "Operation")}
                self._rt.store.update("Watermarks", where, {"Invalidated": True})


# -- CLI -------------------------------------------------------------------------------------
# -- demo ------------------------------------------------------------------------------------
__all__ = [
    "EXPECTED",
    "KINDS",
    "SENTINELS",
    "STATE_OPERATIONS",
    "MigrationChange",
    "MigrationRefusal",
    "MigrationReport",
    "Sentinel",
    "WatermarkKind",
    "WatermarkState",
    "Watermarks",
    "Window",
    "check_kind",
    "check_plausible",
    "high_from",
    "is_canonical",
    "parse_watermark",
    "render_literal",
    "to_native",
]
