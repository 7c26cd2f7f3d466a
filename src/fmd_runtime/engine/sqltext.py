"""Spark SQL text of the table DDL: pure builders, no engine, no session.

The Spark adapter runs these statements, and the metadata store's checked-in DDL
(`fmd_runtime.store.ddl`, ``sql/metadata_tables.sql``) is rendered by the same functions, so the
file is exactly what ``rt.store.ensure()`` runs on Spark. Identifiers go through
`quote_identifier`; values (property values, comments) are rendered only as Spark SQL string
literals by `sql_string`.

Example:
    >>> from fmd_runtime.engine import Column
    >>> from fmd_runtime.tables import TableRef
    >>> create_table_statement(TableRef.parse("s.t"), [Column(name="id", type="long")])
    'CREATE TABLE IF NOT EXISTS `s`.`t` (`id` bigint) USING DELTA'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from fmd_runtime.engine._models import Column
from fmd_runtime.engine._types import normalize_type
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import TableRef, quote_identifier

_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_.\-]+")  # fullmatch: "$" would allow "k\n"


def sql_string(value: str) -> str:
    """Render a value as a Spark SQL string literal (backslash and single quote escaped).

    Spark treats ``''`` as two adjacent literals, not an escaped quote, so ``\\'`` is used.

    Raises:
        ConfigError: the value is not a string or contains a NUL character.

    Example:
        >>> print(sql_string("it's"))
        'it\\'s'
    """
    if not isinstance(value, str) or "\x00" in value:
        raise ConfigError(f"{value!r:.60} cannot be a SQL string literal", hint="pass plain text")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def property_key(key: str) -> str:
    """Validate a table property key (letters, digits, ``_ . -``) and return it as a literal.

    Raises:
        ConfigError: anything else in the key.

    Example:
        >>> property_key("delta.logRetentionDuration")
        "'delta.logRetentionDuration'"
    """
    if not isinstance(key, str) or not _PROPERTY_KEY.fullmatch(key):
        raise ConfigError(
            f"table property key {key!r:.80} is not valid",
            hint="use letters, digits, '_', '.' and '-' only",
        )
    return f"'{key}'"


def version_number(version: int, what: str = "version") -> int:
    """A table version (or other count) as it may appear in SQL text: a non-negative int.

    Args:
        version: the value to check.
        what: what it is, for the error (``"retention_hours"``, ``"limit"``).

    Returns:
        The value itself.

    Raises:
        ConfigError: a bool, a non-int or a negative number.

    Example:
        >>> version_number(3)
        3
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(f"{what} {version!r} must be a non-negative integer")
    return version


def _schema_name(table: TableRef) -> str:
    parts = [table.lakehouse] if table.lakehouse else []
    return ".".join(quote_identifier(p) for p in [*parts, table.schema_name])


def _column_ddl(column: Column, *, nullable: bool | None = None) -> str:
    ddl = f"{quote_identifier(column.name)} {normalize_type(column.type)}"
    if not (column.nullable if nullable is None else nullable):
        ddl += " NOT NULL"
    return ddl + (f" COMMENT {sql_string(column.comment)}" if column.comment else "")


def _properties(props: Mapping[str, str]) -> str:
    return ", ".join(f"{property_key(k)} = {sql_string(str(v))}" for k, v in props.items())


def create_schema_statement(table: TableRef) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` for the table's schema.

    Example:
        >>> create_schema_statement(TableRef.parse("bronze.t"))
        'CREATE SCHEMA IF NOT EXISTS `bronze`'
    """
    return f"CREATE SCHEMA IF NOT EXISTS {_schema_name(table)}"


def create_table_statement(
    table: TableRef,
    columns: Sequence[Column],
    properties: Mapping[str, str] | None = None,
    partition_by: Sequence[str] = (),
    comment: str | None = None,
) -> str:
    """``CREATE TABLE IF NOT EXISTS ... USING DELTA`` with partitioning, comment and properties.

    Raises:
        ConfigError: no columns, a bad type, property key or value.
        InvalidIdentifierError: a column or partition column that is not a plain identifier.

    Example:
        >>> create_table_statement(TableRef.parse("s.t"), [Column(name="id", type="long")])
        'CREATE TABLE IF NOT EXISTS `s`.`t` (`id` bigint) USING DELTA'
    """
    if not columns:
        raise ConfigError("a table needs at least one column", table=table.name)
    text = f"CREATE TABLE IF NOT EXISTS {table.quoted} ("
    text += ", ".join(_column_ddl(c) for c in columns) + ") USING DELTA"
    if partition_by:
        text += f" PARTITIONED BY ({', '.join(quote_identifier(c) for c in partition_by)})"
    if comment:
        text += f" COMMENT {sql_string(comment)}"
    if properties:
        text += f" TBLPROPERTIES ({_properties(properties)})"
    return text


def set_properties_statement(table: TableRef, props: Mapping[str, str]) -> str:
    """``ALTER TABLE ... SET TBLPROPERTIES ('k' = 'v', ...)``.

    Example:
        >>> set_properties_statement(TableRef.parse("s.t"), {"a.b": "1"})
        "ALTER TABLE `s`.`t` SET TBLPROPERTIES ('a.b' = '1')"
    """
    if not props:
        raise ConfigError("no table properties to set", table=table.name)
    return f"ALTER TABLE {table.quoted} SET TBLPROPERTIES ({_properties(props)})"


def add_columns_statement(table: TableRef, columns: Sequence[Column]) -> str:
    """``ALTER TABLE ... ADD COLUMNS`` (always nullable: existing rows get NULL).

    Example:
        >>> add_columns_statement(TableRef.parse("s.t"), [Column(name="c", type="string")])
        'ALTER TABLE `s`.`t` ADD COLUMNS (`c` string)'
    """
    if not columns:
        raise ConfigError("add_columns needs at least one column", table=table.name)
    cols = ", ".join(_column_ddl(c, nullable=True) for c in columns)
    return f"ALTER TABLE {table.quoted} ADD COLUMNS ({cols})"


__all__ = [
    "add_columns_statement",
    "create_schema_statement",
    "create_table_statement",
    "property_key",
    "set_properties_statement",
    "sql_string",
    "version_number",
]
