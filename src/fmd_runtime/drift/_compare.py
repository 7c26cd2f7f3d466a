"""Schema comparison: read the columns of any frame or schema, and list every difference.

`columns_of` reads a Spark StructType or DataFrame, an Arrow schema or table, or `Column`s;
`compare_schemas` matches names case-insensitively and reports additions, removals, type
changes (`is_widening` says which lose nothing), nullability and name-case differences. Pure
functions, no I/O: the policy (``_policy``) decides what the differences mean.

Example:
    >>> from fmd_runtime.engine import Column
    >>> r = compare_schemas([Column(name="Id", type="bigint")], [Column(name="Id", type="int")], table="s.t")
    >>> [c.describe() for c in r.changes]
    ['column `Id` changed type int -> bigint (widening)']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime.engine import Column, frame_columns
from fmd_runtime.errors import ConfigError, SchemaDriftError
from fmd_runtime.tables import validate_identifier

ChangeKind = Literal["added", "removed", "type_changed", "nullability_changed", "case_changed"]

_INT_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}
_INT_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 20}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def is_widening(old: str, new: str) -> bool:
    """True when a column of type ``old`` can take type ``new`` without losing any value.

    Integers to wider integers, to double (up to int) or to a decimal with enough digits;
    float to double; decimal to more integer and fraction digits; date to timestamp_ntz.

    Example:
        >>> is_widening("int", "bigint"), is_widening("bigint", "int"), is_widening("decimal(10,2)", "decimal(12,2)")
        (True, False, True)
    """
    if old == new:
        return False
    if old in _INT_RANK and new in _INT_RANK:
        return _INT_RANK[new] > _INT_RANK[old]
    if (old, new) in {("float", "double"), ("date", "timestamp_ntz")}:
        return True
    if old in ("tinyint", "smallint", "int") and new == "double":
        return True
    m_new = _DECIMAL.match(new)
    if old in _INT_DIGITS and m_new:
        p, s = int(m_new.group(1)), int(m_new.group(2))
        return p - s >= _INT_DIGITS[old]
    m_old = _DECIMAL.match(old)
    if m_old and m_new:
        p1, s1, p2, s2 = (int(x) for x in (*m_old.groups(), *m_new.groups()))
        return p2 - s2 >= p1 - s1 and s2 >= s1
    return False


class ColumnDrift(BaseModel):
    """One difference between the incoming schema and the target's."""

    model_config = FROZEN

    column: str
    """The target's spelling when the column exists there, else the incoming one."""
    change: ChangeKind
    old_type: str | None = None
    new_type: str | None = None
    old_nullable: bool | None = None
    new_nullable: bool | None = None
    widening: bool | None = None
    incoming_name: str | None = None

    def describe(self) -> str:
        """One line for messages, e.g. "column `Score` changed type int -> bigint (widening)"."""
        if self.change == "added":
            return f"column `{self.column}` was added ({self.new_type})"
        if self.change == "removed":
            null = "nullable" if self.old_nullable else "NOT NULL"
            return f"column `{self.column}` ({self.old_type}, {null}) is missing from the incoming data"
        if self.change == "type_changed":
            how = "widening" if self.widening else "not a widening"
            return f"column `{self.column}` changed type {self.old_type} -> {self.new_type} ({how})"
        if self.change == "nullability_changed":
            return f"column `{self.column}` nullable {self.old_nullable} -> {self.new_nullable}"
        return f"column `{self.column}` arrives as `{self.incoming_name}` (case differs)"


class DriftReport(BaseModel):
    """Every difference between an incoming schema and a target table's (names matched case-insensitively)."""

    model_config = FROZEN

    table: str
    target_exists: bool = True
    changes: tuple[ColumnDrift, ...] = ()

    def of(self, change: ChangeKind) -> tuple[ColumnDrift, ...]:
        """The changes of one kind."""
        return tuple(c for c in self.changes if c.change == change)

    @property
    def has_drift(self) -> bool:
        """True when columns were added, removed or retyped.

        Nullability and name-case differences are reported but are not drift by themselves:
        frames built by Spark or Arrow are nullable by default, and the engine itself refuses a
        null in a NOT NULL column when one is actually written.
        """
        return any(c.change in ("added", "removed", "type_changed") for c in self.changes)


# -- schemas of frames -----------------------------------------------------------------------------
class RawColumn(BaseModel):
    """An incoming column whose type the engines do not model (unsigned, nested): compared by spelling."""

    model_config = FROZEN

    name: str
    type: str
    nullable: bool = True
    comment: str | None = None


def _column(name: str, type_name: str, nullable: bool) -> Column | RawColumn:
    validate_identifier(name, what="incoming column")
    try:
        return Column(name=name, type=type_name, nullable=nullable)
    except ConfigError:
        return RawColumn(name=name, type=type_name, nullable=nullable)


def columns_of(incoming: Any) -> list[Column | RawColumn]:
    """The columns of a Spark StructType or DataFrame, an Arrow schema or table, or a list of `Column`.

    Raises:
        InvalidIdentifierError: a column name is not a plain identifier.
        ConfigError: an object that carries no schema.

    Example:
        >>> import pyarrow as pa
        >>> [(c.name, c.type) for c in columns_of(pa.schema([("Id", pa.int32())]))]
        [('Id', 'int')]
    """
    if isinstance(incoming, (list, tuple)) and all(isinstance(c, Column) for c in incoming):
        return list(incoming)
    # the frame is read by the port (`fmd_runtime.engine.frame_columns`: Arrow, or a Spark
    # DataFrame / StructType through its own API); a type the engines do not model stays a
    # RawColumn here, compared by its spelling
    return [_column(c.name, c.type, c.nullable) for c in frame_columns(incoming)]


def compare_schemas(
    incoming: Sequence[Column | RawColumn], target: Sequence[Column], *, table: str
) -> DriftReport:
    """Compare two column lists, matching names case-insensitively (as Spark and Fabric resolve them).

    Raises:
        SchemaDriftError: the incoming schema has two columns whose names differ only by case.

    Example:
        >>> t = [Column(name="Id", type="int")]
        >>> [c.change for c in compare_schemas([Column(name="id", type="bigint")], t, table="s.t").changes]
        ['type_changed', 'case_changed']
    """
    seen: dict[str, Column | RawColumn] = {}
    for c in incoming:
        if c.name.lower() in seen:
            raise SchemaDriftError(
                f"incoming columns `{seen[c.name.lower()].name}` and `{c.name}` differ only by case",
                table=table,
                hint="rename one of them in the source query; Spark and Fabric resolve names case-insensitively",
            )
        seen[c.name.lower()] = c
    target_names = {c.name.lower() for c in target}
    changes: list[ColumnDrift] = []
    for t in target:
        found = seen.get(t.name.lower())
        if found is None:
            changes.append(
                ColumnDrift(
                    column=t.name, change="removed", old_type=t.type, old_nullable=t.nullable
                )
            )
            continue
        if found.type != t.type:
            changes.append(
                ColumnDrift(
                    column=t.name,
                    change="type_changed",
                    old_type=t.type,
                    new_type=found.type,
                    widening=is_widening(t.type, found.type),
                    incoming_name=found.name,
                )
            )
        if found.nullable != t.nullable:
            changes.append(
                ColumnDrift(
                    column=t.name,
                    change="nullability_changed",
                    old_nullable=t.nullable,
                    new_nullable=found.nullable,
                    incoming_name=found.name,
                )
            )
        if found.name != t.name:
            changes.append(
                ColumnDrift(column=t.name, change="case_changed", incoming_name=found.name)
            )
    for c in incoming:
        if c.name.lower() not in target_names:
            changes.append(
                ColumnDrift(
                    column=c.name,
                    change="added",
                    new_type=c.type,
                    new_nullable=c.nullable,
                    incoming_name=c.name,
                )
            )
    return DriftReport(table=table, changes=tuple(changes))
