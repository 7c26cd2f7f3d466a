"""Column types of the port: the engine-neutral spelling (Spark SQL type names) and its Arrow twin.

Operators write Spark SQL type names in DDL and metadata (``bigint``, ``decimal(18,2)``), so the
port keeps that spelling for every engine; each adapter maps it to its own types.

Example:
    >>> normalize_type("LONG"), str(arrow_type("bigint"))
    ('bigint', 'int64')
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fmd_runtime.errors import ConfigError

WriteMode = Literal["append", "overwrite"]
"""How `DeltaEngine.write` commits: add rows, or replace the table's rows."""
SchemaMode = Literal["merge", "overwrite"]
"""How `DeltaEngine.write` treats a frame whose schema differs: add its columns, or replace."""

# Column types are Spark SQL type names (what operators write in DDL); each adapter maps them.
_SIMPLE_TYPES = {
    "string",
    "bigint",
    "int",
    "smallint",
    "tinyint",
    "boolean",
    "double",
    "float",
    "date",
    "timestamp",
    "timestamp_ntz",
    "binary",
}
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


def normalize_type(type_name: str) -> str:
    """Return the canonical (lower-case Spark SQL) spelling of a column type.

    Args:
        type_name: e.g. ``"BIGINT"``, ``"long"``, ``"Decimal(18, 2)"``.

    Raises:
        ConfigError: the type is not one the engines support.

    Example:
        >>> normalize_type("LONG"), normalize_type("decimal(18, 2)")
        ('bigint', 'decimal(18,2)')
    """
    t = type_name.strip().lower()
    aliases = {
        "long": "bigint",
        "integer": "int",
        "short": "smallint",
        "byte": "tinyint",
        "bool": "boolean",
    }
    t = aliases.get(t, t)
    if t in _SIMPLE_TYPES:
        return t
    m = _DECIMAL.match(t)
    if m and 0 < int(m.group(1)) <= 38 and int(m.group(2)) <= int(m.group(1)):
        return f"decimal({int(m.group(1))},{int(m.group(2))})"
    raise ConfigError(
        f"column type {type_name!r} is not supported",
        hint=f"use one of {sorted(_SIMPLE_TYPES)} or decimal(p,s)",
    )


def arrow_type(type_name: str) -> Any:
    """The pyarrow type for an engine-neutral column type (timestamps are UTC microseconds).

    Example:
        >>> str(arrow_type("bigint"))
        'int64'
    """
    import pyarrow as pa

    t = normalize_type(type_name)
    simple = {
        "string": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "smallint": pa.int16(),
        "tinyint": pa.int8(),
        "boolean": pa.bool_(),
        "double": pa.float64(),
        "float": pa.float32(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamp_ntz": pa.timestamp("us"),
        "binary": pa.binary(),
    }
    if t in simple:
        return simple[t]
    precision, scale = (int(x) for x in t[len("decimal(") : -1].split(","))
    return pa.decimal128(precision, scale)
