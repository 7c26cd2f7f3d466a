"""Table references: parse, validate, quote, and map names to OneLake folders.

A `TableRef` is the only way a table name reaches an engine. Parsing validates every part as a
plain identifier (letters, digits, underscore; not starting with a digit), so nothing a user typed
can change the shape of a SQL statement; quoting then adds backticks for Spark SQL.

Table identity is case-insensitive, as in Spark and Fabric: ``bronze.ACCOUNT`` and
``bronze.account`` are one table (`parse_tables` drops such repeats; PipelineConfig lookups match
case-insensitively and keep the spelling first stored). Names given to a runtime are names in the
lakehouse it is connected to (`local_table`): a ``lakehouse.schema.table`` name naming another
lakehouse is refused instead of silently acting on the local table of the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from fmd_runtime.errors import InvalidIdentifierError

DEFAULT_SCHEMA = "dbo"
"""Fabric's default schema in schema-enabled lakehouses."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_IDENTIFIER = 128


def validate_identifier(name: str, *, what: str = "identifier", table: str | None = None) -> str:
    """Check that ``name`` is a plain identifier and return it unchanged.

    Args:
        name: the candidate (schema, table or column name).
        what: what it names, for the error message ("column", "schema" ...).
        table: the table it belongs to, for the error context.

    Returns:
        ``name``.

    Raises:
        InvalidIdentifierError: empty, too long, or containing anything but letters, digits and
            underscores (or starting with a digit).

    Example:
        >>> validate_identifier("IsDeleted", what="column")
        'IsDeleted'
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or len(name) > _MAX_IDENTIFIER:
        shown = repr(name)[:80]
        raise InvalidIdentifierError(
            f"{what} {shown} is not a plain identifier",
            table=table,
            hint="use letters, digits and underscores only (not starting with a digit), "
            f"at most {_MAX_IDENTIFIER} characters",
        )
    return name


def quote_identifier(name: str) -> str:
    """Validate ``name`` and quote it for Spark SQL (backticks).

    Example:
        >>> quote_identifier("TableName")
        '`TableName`'
    """
    return f"`{validate_identifier(name)}`"


class TableRef(BaseModel):
    """A validated reference to a lakehouse table.

    Attributes:
        schema_name: the schema (``dbo`` when omitted).
        table: the table name.
        lakehouse: optional lakehouse name (``lakehouse.schema.table``).

    Example:
        >>> ref = TableRef.parse("bronze.account")
        >>> ref.name, ref.quoted
        ('bronze.account', '`bronze`.`account`')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: str
    table: str
    lakehouse: str | None = None

    @classmethod
    def parse(cls, value: str | TableRef, *, default_schema: str = DEFAULT_SCHEMA) -> TableRef:
        """Parse ``table``, ``schema.table`` or ``lakehouse.schema.table``.

        Args:
            value: the name (a `TableRef` is returned as is).
            default_schema: the schema used when only a table name is given.

        Raises:
            InvalidIdentifierError: a part is empty or not a plain identifier, or there are more
                than three parts; the message names the bad part.

        Example:
            >>> TableRef.parse("account").name
            'dbo.account'
        """
        if isinstance(value, TableRef):
            return value
        if not isinstance(value, str) or not value.strip():
            raise InvalidIdentifierError(
                f"table name {value!r} is empty or not a string",
                hint="pass 'table', 'schema.table' or 'lakehouse.schema.table'",
            )
        parts = value.strip().split(".")
        if len(parts) > 3:
            raise InvalidIdentifierError(
                f"table name {value!r} has {len(parts)} parts (a workspace-qualified name?)",
                hint="pass 'table' or 'schema.table' of the connected lakehouse "
                "(connect to another lakehouse to work on its tables)",
            )
        labels = {1: ["table"], 2: ["schema", "table"], 3: ["lakehouse", "schema", "table"]}
        for label, part in zip(labels[len(parts)], parts, strict=True):
            validate_identifier(part, what=f"{label} part", table=value)
        if len(parts) == 1:
            return cls(
                schema_name=validate_identifier(default_schema, what="schema"), table=parts[0]
            )
        if len(parts) == 2:
            return cls(schema_name=parts[0], table=parts[1])
        return cls(lakehouse=parts[0], schema_name=parts[1], table=parts[2])

    @property
    def name(self) -> str:
        """``schema.table`` (the lakehouse is left out: it is the connection's concern)."""
        return f"{self.schema_name}.{self.table}"

    @property
    def quoted(self) -> str:
        """Quoted for Spark SQL: ```lakehouse`.`schema`.`table``` or ```schema`.`table```."""
        parts = [self.lakehouse] if self.lakehouse else []
        parts += [self.schema_name, self.table]
        return ".".join(quote_identifier(p) for p in parts)

    def path(self, root: str | Path) -> str:
        """The table's folder in the OneLake layout: ``<root>/Tables/<schema>/<table>``.

        Args:
            root: the lakehouse root (local folder, ``/lakehouse/default`` or an abfss URL).

        Example:
            >>> TableRef.parse("bronze.account").path("/lh")
            '/lh/Tables/bronze/account'
        """
        base = str(root).rstrip("/")
        return f"{base}/Tables/{self.schema_name}/{self.table}"

    def __str__(self) -> str:
        return self.name


def parse_tables(
    values: Iterable[str | TableRef] | str, *, default_schema: str = DEFAULT_SCHEMA
) -> list[TableRef]:
    """Parse a list of table names, or a comma-separated string, keeping order and dropping repeats.

    Example:
        >>> [t.name for t in parse_tables("bronze.a, bronze.b,bronze.a")]
        ['bronze.a', 'bronze.b']
    """
    items = [v for v in values.split(",")] if isinstance(values, str) else list(values)
    seen: dict[str, TableRef] = {}
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        ref = TableRef.parse(
            item.strip() if isinstance(item, str) else item, default_schema=default_schema
        )
        seen.setdefault(ref.name.lower(), ref)
    return list(seen.values())


def local_table(
    value: str | TableRef,
    *,
    default_schema: str = DEFAULT_SCHEMA,
    lakehouses: Iterable[str] = (),
    parameter: str = "table",
) -> TableRef:
    """Parse a name of a table in the connected lakehouse: ``table`` or ``schema.table``.

    Everything fmd_runtime records (PipelineConfig, checkpoints, watermarks, audit) names a table
    by ``schema.table`` in the lakehouse it is connected to, and the embedded engine maps that to
    ``<root>/Tables/<schema>/<table>``. A ``lakehouse.schema.table`` name that names another
    lakehouse would therefore act on the LOCAL table of the same name: it is refused. It is
    accepted only when its first part is one of ``lakehouses`` (the connected lakehouse's own
    names, compared case-insensitively); the lakehouse part is then dropped. Four-part
    (workspace) names are always refused.

    Args:
        value: the name (a `TableRef` is checked the same way).
        default_schema: the schema of a bare table name.
        lakehouses: names of the connected lakehouse (e.g. its folder name).
        parameter: the parameter's name, for the error.

    Returns:
        A `TableRef` without a lakehouse part.

    Raises:
        InvalidIdentifierError: not a valid name, or it names another lakehouse.

    Example:
        >>> local_table("sales.bronze.account", lakehouses=["Sales"]).name
        'bronze.account'
        >>> local_table("other.bronze.account")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fmd_runtime.errors.InvalidIdentifierError: ...names lakehouse 'other'...
    """
    if not isinstance(value, str | TableRef):
        raise InvalidIdentifierError(
            f"parameter {parameter!r} must be a table name, got {repr(value)[:60]} "
            f"({type(value).__name__})",
            hint="pass 'table' or 'schema.table', e.g. 'bronze.account'",
        )
    ref = TableRef.parse(value, default_schema=default_schema)
    if ref.lakehouse is None:
        return ref
    known = {name.lower() for name in lakehouses if name}
    if ref.lakehouse.lower() in known:
        return TableRef(schema_name=ref.schema_name, table=ref.table)
    shown = value if isinstance(value, str) else ref.quoted
    connected = f" (connected to {sorted(known)})" if known else ""
    raise InvalidIdentifierError(
        f"parameter {parameter!r}: {shown!r} names lakehouse {ref.lakehouse!r}, not the "
        f"lakehouse this runtime is connected to{connected}; acting on it would change the "
        "local table of the same name",
        hint=f"pass {ref.name!r} for the connected lakehouse's table, or connect to lakehouse "
        f"{ref.lakehouse!r} to work on its tables",
    )


__all__ = [
    "DEFAULT_SCHEMA",
    "TableRef",
    "local_table",
    "parse_tables",
    "quote_identifier",
    "validate_identifier",
]
