"""Arrow frames, engine-neutral: schemas, columns, the max of a column, and aligning to columns.

Both adapters answer the port's frame operations (`DeltaEngine.frame_columns`, `frame_max`,
`align_frame`) for Arrow data with these functions; the Spark adapter adds Spark DataFrames.
pyarrow is imported lazily, so the port imports without it.

Example:
    >>> import pyarrow as pa
    >>> [(c.name, c.type) for c in arrow_columns(pa.schema([("Id", pa.int32())]))]
    [('Id', 'int')]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from fmd_runtime.engine._models import Column
from fmd_runtime.engine._types import arrow_type, normalize_type
from fmd_runtime.errors import ConfigError, SchemaDriftError
from fmd_runtime.tables import validate_identifier

# Target types an Arrow column may be re-cast to without a cast being asked for: the same
# logical type in another physical spelling (ns timestamps, large_string, large_binary).
_SAFE_RESPELL = {"string", "binary", "timestamp", "timestamp_ntz", "date"}


def arrow_schema(columns: Sequence[Column]) -> Any:
    """A pyarrow schema for engine-neutral columns (comments kept as field metadata).

    Args:
        columns: the port's columns.

    Returns:
        A ``pyarrow.Schema``.

    Raises:
        ConfigError: a column type the engines do not model.

    Example:
        >>> arrow_schema([Column(name="Id", type="bigint", nullable=False)]).field("Id").nullable
        False
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(
                c.name,
                arrow_type(c.type),
                nullable=c.nullable,
                metadata={"comment": c.comment} if c.comment else None,
            )
            for c in columns
        ]
    )


def is_arrow(obj: Any) -> bool:
    """True for a pyarrow object (Table, RecordBatch, Schema ...), told without importing pyarrow.

    Example:
        >>> is_arrow([1, 2])
        False
    """
    return type(obj).__module__.startswith("pyarrow")


def arrow_type_name(t: Any) -> str:
    """The port's type name of a pyarrow type (Spark SQL spelling); other types as Arrow spells them.

    Args:
        t: a ``pyarrow.DataType``.

    Returns:
        ``"bigint"``, ``"timestamp"`` (tz-aware), ``"timestamp_ntz"``, ``"decimal(18,2)"`` ...;
        for types the engines do not model (unsigned, nested), ``str(t)`` (``"uint8"``).

    Example:
        >>> import pyarrow as pa
        >>> arrow_type_name(pa.timestamp("ns")), arrow_type_name(pa.large_string())
        ('timestamp_ntz', 'string')
    """
    import pyarrow as pa

    checks = [
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date, "date"),
        (lambda x: pa.types.is_string(x) or pa.types.is_large_string(x), "string"),
        (
            lambda x: (
                pa.types.is_binary(x)
                or pa.types.is_large_binary(x)
                or pa.types.is_fixed_size_binary(x)
            ),
            "binary",
        ),
    ]
    for check, name in checks:
        if check(t):
            return name
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return str(t)


def frame_column(name: str, type_name: str, nullable: bool) -> Column:
    """A port `Column` of a frame's field: name validated, type normalized where modelled.

    A type the engines do not model keeps its native spelling (the column is built without
    validating its type, as a snapshot's complex columns are).

    Raises:
        InvalidIdentifierError: the name is not a plain identifier.

    Example:
        >>> frame_column("Id", "LONG", False).type, frame_column("Tags", "array<string>", True).type
        ('bigint', 'array<string>')
    """
    validate_identifier(name, what="incoming column")
    try:
        type_name = normalize_type(type_name)
    except ConfigError:
        pass  # unsigned, nested ...: compared by their spelling
    return Column.model_construct(name=name, type=type_name, nullable=nullable, comment=None)


def arrow_columns(frame: Any) -> list[Column]:
    """The columns of an Arrow schema, table or record batch.

    Raises:
        InvalidIdentifierError: a column name is not a plain identifier.

    Example:
        >>> import pyarrow as pa
        >>> [c.type for c in arrow_columns(pa.table({"a": pa.array([1], pa.int8())}))]
        ['tinyint']
    """
    schema = frame if hasattr(frame, "field") and not hasattr(frame, "num_rows") else frame.schema
    return [frame_column(f.name, arrow_type_name(f.type), f.nullable) for f in schema]


def match_column(names: Sequence[str], column: str) -> str:
    """The frame's spelling of ``column``: the exact name, else the one equal ignoring case.

    Raises:
        ConfigError: no such column (the first 20 names are listed).

    Example:
        >>> match_column(["Id", "Name"], "id")
        'Id'
    """
    if column in names:
        return column
    for name in names:
        if name.lower() == column.lower():
            return name
    raise ConfigError(
        f"column {column!r} is not in the frame (columns: {list(names)[:20]})",
        hint="pass the column's name as the frame spells it",
    )


def arrow_max(frame: Any, column: str) -> Any:
    """The maximum of an Arrow column as a Python value (None when it has no non-null value).

    Args:
        frame: a pyarrow Table or RecordBatch.
        column: the column (matched exactly, else ignoring case).

    Raises:
        ConfigError: no such column.

    Example:
        >>> import pyarrow as pa
        >>> arrow_max(pa.table({"Id": [3, 9, 4]}), "id")
        9
    """
    import pyarrow.compute as pc

    name = match_column(list(frame.schema.names), column)
    return pc.max(frame.column(name)).as_py()


def arrow_align(
    frame: Any,
    columns: Sequence[Column],
    *,
    cast: Collection[str] = (),
    extra: Sequence[str] = (),
    table: str | None = None,
) -> Any:
    """An Arrow table shaped like ``columns``: see `DeltaEngine.align_frame`.

    The target's NOT NULL flags are kept on the result's fields (a merge write on delta-rs
    would otherwise relax them), and a NOT NULL target column with nulls is refused.

    Raises:
        SchemaDriftError: a value cannot be cast, or a NOT NULL column has nulls.

    Example:
        >>> import pyarrow as pa
        >>> out = arrow_align(pa.table({"id": [1]}), [Column(name="Id", type="bigint"),
        ...                                           Column(name="Name", type="string")])
        >>> out.column_names, out.column("Name").null_count
        (['Id', 'Name'], 1)
    """
    import pyarrow as pa

    if isinstance(frame, pa.RecordBatch):
        frame = pa.Table.from_batches([frame])
    names = {n.lower(): n for n in frame.schema.names}
    arrays, fields = [], []
    for col in columns:
        src = names.get(col.name.lower())
        if src is None:
            arr = pa.nulls(frame.num_rows, arrow_type(col.type))
        else:
            arr = frame.column(src)
            want = None
            if col.name in cast:
                want = arrow_type(col.type)
            elif arrow_type_name(arr.type) == col.type and col.type in _SAFE_RESPELL:
                want = arrow_type(col.type)  # same logical type, other physical spelling
            if want is not None and arr.type != want:
                try:
                    arr = arr.cast(want, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaDriftError(
                        f"column `{col.name}` cannot be cast to the target type {col.type}: {exc}",
                        table=table,
                        hint="fix the source values, or evolve the target's type explicitly",
                    ) from None
        if not col.nullable and arr.null_count:
            raise SchemaDriftError(
                f"column `{col.name}` is NOT NULL in the target but {arr.null_count} incoming row(s) "
                "have no value",
                table=table,
                hint="fill or filter those rows in the source query (a schema merge would otherwise "
                "drop the NOT NULL constraint on delta-rs)",
            )
        arrays.append(arr)
        fields.append(pa.field(col.name, arr.type, nullable=col.nullable))
    for name in extra:
        arrays.append(frame.column(name))
        fields.append(frame.schema.field(name))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


__all__ = [
    "arrow_align",
    "arrow_columns",
    "arrow_max",
    "arrow_schema",
    "arrow_type_name",
    "frame_column",
    "is_arrow",
    "match_column",
]
