"""Watermarks in SQL text: the literal and the quoted cursor column of a source query.

A watermark reaches the source query only through here: the value is parsed again (nothing
unchecked becomes SQL text) and rendered as a literal of the dialect (``tsql`` for the source
database, ``spark`` for a Spark DataFrame filter); the column is validated as an identifier and
quoted. Kept apart from the values because only the window's predicate renders SQL.

Example:
    >>> render_literal("2025-01-15", "date"), render_column("d.Day", "spark")
    ("CONVERT(date, '2025-01-15', 23)", '`d`.`Day`')
"""

from __future__ import annotations

from typing import Literal

from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import validate_identifier
from fmd_runtime.watermarks._values import (
    WatermarkKind,
    check_kind,
    parse_watermark,
    to_native,
    zone_of,
)

Dialect = Literal["tsql", "spark"]
"""The SQL a literal is rendered for: the source database (T-SQL) or a Spark filter."""


def render_column(column: str, dialect: str) -> str:
    """A cursor column (``Col`` or ``alias.Col``), validated, quoted for the dialect."""
    if not isinstance(column, str):
        validate_identifier(column, what="watermark column")  # refuses it, naming what it is
    parts = column.split(".")
    for part in parts:
        validate_identifier(part, what="watermark column")
    if dialect == "tsql":
        return ".".join(f"[{p}]" for p in parts)
    return ".".join(f"`{p}`" for p in parts)


def render_literal(
    canonical: str, kind: WatermarkKind, *, dialect: Dialect = "tsql", source_tz: str | None = None
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
        wall = instant.astimezone(zone_of(source_tz, None)).replace(tzinfo=None)
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


__all__ = ["Dialect", "render_column", "render_literal"]
