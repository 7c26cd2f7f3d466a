"""DataFusion SQL parameters: the delta-rs adapter binds ``:name`` markers as typed literals.

DataFusion (through delta-rs' `QueryBuilder`) takes no bound parameters, so each value is
rendered by `sql_literal` from its Python type alone (strings quoted with quotes doubled), never
by formatting text into the query.

Example:
    >>> bind_parameters("SELECT * FROM t WHERE a = :a AND b IN :b", {"a": "x", "b": [1, 2]})
    "SELECT * FROM t WHERE a = 'x' AND b IN (1, 2)"
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from fmd_runtime.errors import ConfigError

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def sql_literal(value: Any) -> str:
    """Render a parameter value as a DataFusion SQL literal (the adapter's parameter binding).

    Only typed Python values are accepted; strings are single-quoted with quotes doubled.

    Raises:
        ConfigError: a value of an unsupported type, a non-finite float, or a NUL character.

    Example:
        >>> sql_literal("O'Brien"), sql_literal(3), sql_literal([1, 2])
        ("'O''Brien'", '3', '(1, 2)')
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError("a non-finite float cannot be a SQL parameter")
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return f"TIMESTAMP '{aware.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ConfigError("a SQL parameter contains a NUL character")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        if not items:
            raise ConfigError("an empty list cannot be a SQL IN parameter")
        return "(" + ", ".join(sql_literal(v) for v in items) + ")"
    raise ConfigError(f"a SQL parameter of type {type(value).__name__} is not supported")


def bind_parameters(query: str, params: Mapping[str, Any]) -> str:
    """``query`` with each ``:name`` marker replaced by `sql_literal` of its value.

    Raises:
        ConfigError: a marker without a value, or a value `sql_literal` refuses.
    """

    def bind(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in params:
            raise ConfigError(f"SQL parameter :{key} has no value")
        return sql_literal(params[key])

    return _PARAM.sub(bind, query)


__all__ = ["bind_parameters", "sql_literal"]
