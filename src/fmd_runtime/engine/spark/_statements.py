"""The SQL text the Spark adapter runs: pure builders, testable without a JVM.

Table DDL (``CREATE``, ``ALTER ... ADD COLUMNS / SET TBLPROPERTIES``) is shared with the metadata
store and lives in `fmd_runtime.engine.sqltext`; it is re-exported here so every statement of the
adapter is found in one place. Identifiers go through `quote_identifier`; query values travel as
Spark named parameters (`bind_parameters`), never in the text.

Example:
    >>> from fmd_runtime.tables import TableRef
    >>> restore_statement(TableRef.parse("s.t"), 3)
    'RESTORE TABLE `s`.`t` TO VERSION AS OF 3'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fmd_runtime.engine._models import SqlSource, TableAt
from fmd_runtime.engine.sqltext import (
    add_columns_statement,
    create_schema_statement,
    create_table_statement,
    property_key,
    set_properties_statement,
    sql_string,
)
from fmd_runtime.engine.sqltext import version_number as _version
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import TableRef, quote_identifier, validate_identifier

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


def restore_statement(table: TableRef, version: int) -> str:
    """``RESTORE TABLE ... TO VERSION AS OF n``.

    Example:
        >>> restore_statement(TableRef.parse("s.t"), 3)
        'RESTORE TABLE `s`.`t` TO VERSION AS OF 3'
    """
    return f"RESTORE TABLE {table.quoted} TO VERSION AS OF {_version(version)}"


def vacuum_statement(table: TableRef, retention_hours: int, dry_run: bool) -> str:
    """``VACUUM ... RETAIN n HOURS [DRY RUN]``.

    Example:
        >>> vacuum_statement(TableRef.parse("s.t"), 168, True)
        'VACUUM `s`.`t` RETAIN 168 HOURS DRY RUN'
    """
    hours = _version(retention_hours, "retention_hours")
    return f"VACUUM {table.quoted} RETAIN {hours} HOURS" + (" DRY RUN" if dry_run else "")


def optimize_statement(table: TableRef, zorder_by: Sequence[str] = (), vorder: bool = False) -> str:
    """``OPTIMIZE ... [ZORDER BY (...)] [VORDER]`` (VORDER is Fabric's syntax).

    Example:
        >>> optimize_statement(TableRef.parse("s.t"), ["a"], vorder=True)
        'OPTIMIZE `s`.`t` ZORDER BY (`a`) VORDER'
    """
    text = f"OPTIMIZE {table.quoted}"
    if zorder_by:
        text += f" ZORDER BY ({', '.join(quote_identifier(c) for c in zorder_by)})"
    return text + (" VORDER" if vorder else "")


def describe_history_statement(table: TableRef, limit: int | None = None) -> str:
    """``DESCRIBE HISTORY ... [LIMIT n]``.

    Example:
        >>> describe_history_statement(TableRef.parse("s.t"), 1)
        'DESCRIBE HISTORY `s`.`t` LIMIT 1'
    """
    return f"DESCRIBE HISTORY {table.quoted}" + (
        f" LIMIT {_version(limit, 'limit')}" if limit is not None else ""
    )


def describe_detail_statement(table: TableRef) -> str:
    """``DESCRIBE DETAIL ...``.

    Example:
        >>> describe_detail_statement(TableRef.parse("s.t"))
        'DESCRIBE DETAIL `s`.`t`'
    """
    return f"DESCRIBE DETAIL {table.quoted}"


def source_sql(source: SqlSource) -> str:
    """A query source: the quoted name, plus `` VERSION AS OF n`` for a pinned version.

    Example:
        >>> source_sql(TableAt(table=TableRef.parse("s.t"), version=2))
        '`s`.`t` VERSION AS OF 2'
    """
    at = source if isinstance(source, TableAt) else TableAt(table=TableRef.parse(source))
    suffix = f" VERSION AS OF {_version(at.version)}" if at.version is not None else ""
    return at.table.quoted + suffix


def select_statement(
    table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
) -> str:
    """``SELECT cols FROM t [VERSION AS OF n]``.

    Example:
        >>> select_statement(TableRef.parse("s.t"), 1, ["a"])
        'SELECT `a` FROM `s`.`t` VERSION AS OF 1'
    """
    cols = ", ".join(quote_identifier(c) for c in columns) if columns else "*"
    return f"SELECT {cols} FROM {source_sql(TableAt(table=table, version=version))}"


def bind_parameters(query: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Expand list parameters (``x IN :ids``) into one named parameter per item.

    Spark binds a Python list as an ARRAY, while the port's SQL (shared with delta-rs) means
    ``IN :ids`` as an IN list; the values still travel as parameters, never as SQL text.

    Raises:
        ConfigError: a bad parameter name, an empty list, or a marker with no value.

    Example:
        >>> bind_parameters("x IN :ids", {"ids": [1, 2]})
        ('x IN (:ids_0, :ids_1)', {'ids_0': 1, 'ids_1': 2})
    """
    args: dict[str, Any] = {}
    for key, value in params.items():
        validate_identifier(key, what="SQL parameter")
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
            if not items:
                raise ConfigError(f"SQL parameter :{key} is an empty list")
            args.update({f"{key}_{i}": v for i, v in enumerate(items)})
        else:
            args[key] = value

    def expand(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in params:
            raise ConfigError(f"SQL parameter :{key} has no value")
        value = params[key]
        if isinstance(value, (list, tuple, set, frozenset)):
            return "(" + ", ".join(f":{key}_{i}" for i in range(len(value))) + ")"
        return m.group(0)

    return _PARAM.sub(expand, query), args


def first_table(sources: Mapping[str, SqlSource]) -> TableRef | None:
    """The table of a query's first source (the table its errors name), if it names one.

    Example:
        >>> first_table({"t": "s.t"}).name
        's.t'
    """
    first = next(iter(sources.values()), None)
    table = first.table if isinstance(first, TableAt) else None
    if isinstance(first, (TableRef, str)):
        table = TableRef.parse(first)
    return table


__all__ = [
    "add_columns_statement",
    "bind_parameters",
    "create_schema_statement",
    "create_table_statement",
    "describe_detail_statement",
    "describe_history_statement",
    "first_table",
    "optimize_statement",
    "property_key",
    "restore_statement",
    "select_statement",
    "set_properties_statement",
    "source_sql",
    "sql_string",
    "vacuum_statement",
]
