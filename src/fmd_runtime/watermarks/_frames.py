"""The high value of copied data: the maximum of the cursor column of a frame, parsed as a watermark.

The maximum of a frame (a pyarrow Table / RecordBatch, or a Spark DataFrame) is taken by the
engine port (`DeltaEngine.frame_max`, or the port's module function of that name when there is no
runtime): the watermarks know watermark kinds, the port knows frames (Spark timestamps travel as
UTC epoch microseconds, no driver-zone guessing).

Example:
    >>> import pyarrow as pa
    >>> high_from(pa.table({"Id": [3, 9, 4]}), "Id", "int")
    '9'
"""

from __future__ import annotations

from typing import Any

from fmd_runtime.engine import DeltaEngine, frame_max
from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.tables import validate_identifier
from fmd_runtime.watermarks._values import WatermarkKind, parse_watermark


def high_from(
    data: Any,
    column: str,
    kind: WatermarkKind,
    *,
    source_tz: str | None = None,
    engine: DeltaEngine | None = None,
) -> str | None:
    """The canonical maximum of ``column`` in copied data (None when there are no rows/values).

    Args:
        data: a pyarrow Table / RecordBatch, or a Spark DataFrame (with ``engine`` the Spark one).
        column: the cursor column (validated; matched case-insensitively).
        kind: the watermark kind.
        source_tz: zone of naive datetimes (Arrow ``timestamp`` without tz, Spark ``timestamp_ntz``).
        engine: the engine that reads the frame (`rt.watermarks.high_from` passes the runtime's);
            without one the port's frame functions read it.

    Raises:
        ConfigError: ``data`` is not a frame.
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
    # the names only (a frame's other columns need not be identifiers): Arrow schemas list them,
    # Spark schemas hold fields
    schema = data.schema
    names = list(schema.names) if hasattr(schema, "names") else [f.name for f in schema.fields]
    match = [n for n in names if n.lower() == column.lower()]
    if not match:
        raise WatermarkError(
            f"column {column!r} is not in the copied data (columns: {names[:20]})",
            hint="pass the cursor column's name as the source query returns it",
        )
    value = engine.frame_max(data, match[0]) if engine else frame_max(data, match[0])
    return None if value is None else parse_watermark(value, kind, source_tz=source_tz)


__all__ = ["high_from"]
