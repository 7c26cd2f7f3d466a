"""The high value of copied data: the maximum of the cursor column of an Arrow or Spark frame.

`high_from` is the one place in the watermarks that knows data frames (a pyarrow Table /
RecordBatch, or a Spark DataFrame): it finds the column case-insensitively, takes its maximum the
frame's own way (Spark timestamps travel as UTC epoch microseconds, no driver-zone guessing) and
parses it as a watermark. Kept apart so that this frame knowledge can move below the engine port
(a port method) without touching the protocol.

Example:
    >>> import pyarrow as pa
    >>> high_from(pa.table({"Id": [3, 9, 4]}), "Id", "int")
    '9'
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.tables import validate_identifier
from fmd_runtime.watermarks._values import EPOCH, WatermarkKind, parse_watermark


def high_from(
    data: Any, column: str, kind: WatermarkKind, *, source_tz: str | None = None
) -> str | None:
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
    return None if value is None else parse_watermark(value, kind, source_tz=source_tz)


def _spark_max(df: Any, name: str) -> Any:
    """max() of a Spark column; timestamps travel as UTC epoch micros (no driver-zone guessing)."""
    type_name = df.schema[name].dataType.simpleString()
    if type_name == "timestamp":
        micros = df.selectExpr(f"unix_micros(max(`{name}`)) AS m").collect()[0][0]
        return None if micros is None else EPOCH + timedelta(microseconds=int(micros))
    if type_name == "timestamp_ntz":
        return df.selectExpr(f"CAST(max(`{name}`) AS STRING) AS m").collect()[0][0]
    return df.selectExpr(f"max(`{name}`) AS m").collect()[0][0]


__all__ = ["high_from"]
