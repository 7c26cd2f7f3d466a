"""The frame operations of the port (`DeltaEngine.frame_columns`, `frame_max`, `align_frame`):
the data a caller holds, read without the engine that will write it.

A frame is Arrow (a pyarrow Table / RecordBatch / Schema: what both engines read and write) or a
Spark DataFrame / StructType, read through its own API (``schema``, ``selectExpr``): nothing here
imports pyspark. Both adapters answer the port's frame methods with these functions, so a Spark
DataFrame is read the same way whichever engine the runtime writes with (a Fabric Spark notebook
may connect the embedded engine to ``/lakehouse/default`` and still hold DataFrames); the
watermarks and drift modules use them directly when they have no runtime.

Example:
    >>> import pyarrow as pa
    >>> frame_max(pa.table({"Id": [3, 9, 4]}), "id"), [c.type for c in frame_columns(pa.schema([("Id", pa.int32())]))]
    (9, ['int'])
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from fmd_runtime.engine._arrow import (
    arrow_align,
    arrow_columns,
    arrow_max,
    frame_column,
    is_arrow,
    match_column,
)
from fmd_runtime.engine._models import Column
from fmd_runtime.errors import ConfigError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def frame_columns(frame: Any) -> list[Column]:
    """Columns of an Arrow object, or of a Spark DataFrame / StructType (`DeltaEngine.frame_columns`).

    Raises:
        InvalidIdentifierError: a column name is not a plain identifier.
        ConfigError: an object that carries no schema.
    """
    if is_arrow(frame):
        return arrow_columns(frame)
    fields = getattr(frame, "fields", None)
    if fields is None and hasattr(frame, "schema"):
        fields = getattr(frame.schema, "fields", None)
    if fields is None:
        raise ConfigError(
            f"cannot read a schema from a {type(frame).__name__}",
            hint="pass a Spark StructType or DataFrame, an Arrow schema or table, or a list of Column",
        )
    return [frame_column(f.name, f.dataType.simpleString(), bool(f.nullable)) for f in fields]


def frame_max(frame: Any, column: str) -> Any:
    """max() of a column of an Arrow frame or a Spark DataFrame (`DeltaEngine.frame_max`).

    Spark timestamps travel as UTC epoch micros (no driver-zone guessing); ``timestamp_ntz`` as
    its text.

    Raises:
        ConfigError: not a frame, or no such column.
    """
    if is_arrow(frame) and hasattr(frame, "num_rows"):
        return arrow_max(frame, column)
    if not hasattr(frame, "selectExpr"):
        raise ConfigError(
            f"cannot take the max of a column of a {type(frame).__name__}",
            hint="pass a pyarrow Table / RecordBatch or a Spark DataFrame",
        )
    name = match_column(list(frame.columns), column)
    type_name = frame.schema[name].dataType.simpleString()
    if type_name == "timestamp":
        micros = frame.selectExpr(f"unix_micros(max(`{name}`)) AS m").collect()[0][0]
        return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))
    if type_name == "timestamp_ntz":
        return frame.selectExpr(f"CAST(max(`{name}`) AS STRING) AS m").collect()[0][0]
    return frame.selectExpr(f"max(`{name}`) AS m").collect()[0][0]


def align_frame(
    frame: Any,
    columns: Sequence[Column],
    *,
    cast: Collection[str] = (),
    extra: Sequence[str] = (),
    table: str | None = None,
) -> Any:
    """An Arrow frame or Spark DataFrame shaped like ``columns`` (`DeltaEngine.align_frame`).

    On Spark: one ``selectExpr`` (type and column names reach it only after validation).

    Raises:
        SchemaDriftError: (Arrow) a value cannot be cast, or a NOT NULL column has nulls.
    """
    if is_arrow(frame):
        if not hasattr(frame, "num_rows"):
            return None  # an Arrow schema: nothing to align
        return arrow_align(frame, columns, cast=cast, extra=extra, table=table)
    if not hasattr(frame, "selectExpr"):
        return None  # a schema, not a frame: nothing to align
    names = {n.lower(): n for n in frame.columns}
    exprs = []
    for col in columns:
        src = names.get(col.name.lower())
        if src is None:
            exprs.append(f"CAST(NULL AS {col.type}) AS `{col.name}`")
        elif col.name in cast:
            exprs.append(f"CAST(`{src}` AS {col.type}) AS `{col.name}`")
        else:
            exprs.append(f"`{src}` AS `{col.name}`")
    exprs += [f"`{name}`" for name in extra]
    return frame.selectExpr(*exprs)


__all__ = ["align_frame", "frame_columns", "frame_max"]
