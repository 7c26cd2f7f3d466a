"""Spark data and the port's values: DataFrames, rows and struct fields in, typed models out.

Converts in both directions without owning a session: Arrow data to a DataFrame for a write,
small results to Arrow, ``StructField`` s to port columns, ``DESCRIBE HISTORY`` rows to
`HistoryEntry`, add actions to `DataFile`; and the port's frame operations on Spark DataFrames
(`frame_columns`, `frame_max`, `align_frame`; Arrow frames go to `fmd_runtime.engine._arrow`).

Example:
    >>> _number("42"), _decode('{"a": 1}')
    (42, {'a': 1})
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import unquote

from fmd_runtime.engine._deltalog import deletion_vector_file
from fmd_runtime.engine._metrics import commit_counts
from fmd_runtime.engine._models import (
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    OptimizeResult,
    Protocol_,
    TableSnapshot,
)
from fmd_runtime.engine._types import normalize_type
from fmd_runtime.engine.spark._errors import _translate
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import TableRef

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Features that the Delta protocol lists in readerFeatures as well as writerFeatures.
_READER_WRITER_FEATURES = {
    "columnMapping", "deletionVectors", "timestampNtz", "typeWidening", "typeWidening-preview",
    "v2Checkpoint", "vacuumProtocolCheck", "variantType", "variantType-preview",
}  # fmt: skip
# RESTORE metrics: the port's names (delta-rs', used by rollback) -> Spark RESTORE's result columns
_RESTORE_METRICS = {"numRestoredFile": "num_restored_files", "numRemovedFile": "num_removed_files"}


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def to_arrow(df: Any) -> Any:
    """A small Spark result as a pyarrow Table (Spark 4 ``toArrow``; Arrow collect on 3.x)."""
    import pyarrow as pa

    if hasattr(df, "toArrow"):
        return df.toArrow()
    if hasattr(df, "_collect_as_arrow"):  # what toPandas uses on 3.x; needs no pandas
        from pyspark.sql.pandas.types import to_arrow_schema

        batches = df._collect_as_arrow()
        if not batches:
            return to_arrow_schema(df.schema).empty_table()
        return pa.Table.from_batches(batches)
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def struct_columns(fields: Sequence[Any]) -> tuple[Column, ...]:
    """Port columns of Spark ``StructField`` s (types normalized; complex types as Spark spells
    them; the comment from the field metadata)."""
    columns = []
    for f in fields:
        type_name = f.dataType.simpleString()
        with contextlib.suppress(ConfigError):
            type_name = normalize_type(type_name)  # complex types keep Spark's spelling
        comment = (f.metadata or {}).get("comment")
        columns.append(
            Column.model_construct(
                name=f.name, type=type_name, nullable=f.nullable, comment=comment
            )
        )
    return tuple(columns)


def to_dataframe(spark: Any, table: TableRef, data: Any) -> Any:
    """The data of a write as a Spark DataFrame (a DataFrame as is; Arrow converted exactly).

    Raises:
        ConfigError: neither a Spark DataFrame nor Arrow data.
    """
    if hasattr(data, "write") and hasattr(data, "schema"):
        return data  # a Spark DataFrame
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        from pyspark.sql.pandas.types import from_arrow_schema

        try:
            schema = from_arrow_schema(data.schema, prefer_timestamp_ntz=True)
        except TypeError:  # Spark < 3.5 has no prefer_timestamp_ntz
            schema = from_arrow_schema(data.schema)
        # to_pylist keeps nulls in integer columns and tz-aware timestamps exact (pandas
        # would turn them into floats / naive local times).
        # One file per write of driver-local data, as delta-rs writes it.
        with _translate(table, "convert Arrow data"):
            return spark.createDataFrame(data.to_pylist(), schema=schema).coalesce(1)
    raise ConfigError(
        f"cannot write {type(data).__name__}",
        table=table.name,
        hint="pass a pyarrow Table or a Spark DataFrame",
    )


def count_source(df: Any) -> Literal["stats", "scan"]:
    """``"stats"`` when a ``count(*)`` query's optimized plan has no relation left to scan
    (Delta answered it from the log's file statistics), else ``"scan"``."""
    with contextlib.suppress(Exception):
        plan = str(df._jdf.queryExecution().optimizedPlan().toString())
        if "LocalRelation" in plan and "Relation" not in plan.replace("LocalRelation", ""):
            return "stats"
    return "scan"


def delta_writer(df: Any, mode: str, schema_mode: str | None, commit: CommitOptions | None) -> Any:
    """A Delta ``DataFrameWriter`` of ``df``: mode, schema mode, commit metadata and the
    idempotent-write identity (``txnAppId`` / ``txnVersion``) as write options."""
    writer = df.write.format("delta").mode(mode)
    if schema_mode == "merge":
        writer = writer.option("mergeSchema", "true")
    elif schema_mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    if commit and commit.metadata:
        writer = writer.option("userMetadata", json.dumps(commit.metadata, sort_keys=True))
    if commit and commit.app_id is not None and commit.app_version is not None:
        writer = writer.option("txnAppId", commit.app_id)
        writer = writer.option("txnVersion", str(int(commit.app_version)))
    return writer


def _field(row: Any, name: str) -> str | None:
    """A text column of a history row (None when absent or empty: Delta releases differ)."""
    value = row.asDict().get(name) if hasattr(row, "asDict") else None
    return str(value) if value not in (None, "") else None


def history_entries(rows: Sequence[Any]) -> list[HistoryEntry]:
    """`HistoryEntry` s of ``DESCRIBE HISTORY`` rows (with ``_fmd_ms``: the commit time in ms),
    newest first; parameters JSON-decoded, numeric metrics as ints, typed counts filled."""
    out = []
    for r in rows:
        user = _decode(r["userMetadata"]) if r["userMetadata"] else {}
        metrics = {k: _number(v) for k, v in (r["operationMetrics"] or {}).items()}
        out.append(
            HistoryEntry(
                version=int(r["version"]),
                timestamp=datetime.fromtimestamp(r["_fmd_ms"] / 1000, tz=timezone.utc),
                operation=str(r["operation"] or ""),
                parameters={k: _decode(v) for k, v in (r["operationParameters"] or {}).items()},
                metrics=metrics,
                user_metadata=user if isinstance(user, dict) else {"userMetadata": user},
                user_name=_field(r, "userName"),
                engine_info=_field(r, "engineInfo"),
                **commit_counts(metrics),
            )
        )
    return sorted(out, key=lambda e: e.version, reverse=True)


def data_files(raws: Sequence[dict[str, Any]]) -> list[DataFile]:
    """`DataFile` s of JVM add actions (path URL-decoded, deletion vector and its file)."""
    out = []
    for a in raws:
        stats = _decode(a.get("stats")) if a.get("stats") else None
        dv = a.get("deletionVector") or {}
        storage, inline = dv.get("storageType"), dv.get("pathOrInlineDv")
        out.append(
            DataFile(
                path=unquote(str(a["path"])),
                size_bytes=int(a.get("size") or 0),
                num_records=stats.get("numRecords") if isinstance(stats, dict) else None,
                deletion_vector=f"{storage}{inline}@{dv.get('offset')}" if storage else None,
                deletion_vector_path=deletion_vector_file(storage, inline),
            )
        )
    return sorted(out, key=lambda f: (f.path, f.deletion_vector or ""))


def snapshot_from_detail(
    table: TableRef,
    version: int,
    timestamp: datetime | None,
    columns: tuple[Column, ...],
    detail: Mapping[str, Any],
    old: tuple[dict[str, Any], tuple[str, ...], int, int] | None,
) -> TableSnapshot:
    """`TableSnapshot` from ``DESCRIBE DETAIL`` (the route without JVM internals).

    ``old``: an older version's properties, partitioning and protocol versions when its JVM
    snapshot gave them; its table features are the latest version's (the detail's).
    """
    props = dict(detail.get("properties") or {})
    parts = tuple(detail.get("partitionColumns") or ())
    reader, writer = int(detail["minReaderVersion"]), int(detail["minWriterVersion"])
    features = tuple(sorted(detail.get("tableFeatures") or ()))
    if old is not None:
        props, parts, reader, writer = old
    return TableSnapshot(
        table=table.name,
        version=version,
        timestamp=timestamp,
        columns=columns,
        partition_columns=parts,
        properties={k: str(v) for k, v in props.items() if v is not None},
        protocol=Protocol_(
            min_reader_version=reader,
            min_writer_version=writer,
            reader_features=tuple(f for f in features if f in _READER_WRITER_FEATURES)
            if reader >= 3
            else (),
            writer_features=features if writer >= 7 else (),
        ),
    )


def restore_metrics(rows: Sequence[Any]) -> dict[str, Any]:
    """The metrics of a RESTORE statement's result row, with the port's file-count names too."""
    metrics = {k: _number(v) for k, v in (rows[0].asDict() if rows else {}).items()}
    # the port's names for the file-level effect (delta-rs' metrics), beside Spark's own
    for port_name, spark_name in _RESTORE_METRICS.items():
        if spark_name in metrics:
            metrics.setdefault(port_name, metrics[spark_name])
    return metrics


def optimize_result(
    table: TableRef, rows: Sequence[Any], zorder_by: Sequence[str], vorder: bool
) -> OptimizeResult:
    """`OptimizeResult` of an OPTIMIZE statement's result row (its ``metrics`` struct)."""
    raw = rows[0].asDict(recursive=True).get("metrics") if rows else None
    metrics = raw if isinstance(raw, dict) else {}
    return OptimizeResult(
        table=table.name,
        files_added=int(metrics.get("numFilesAdded") or 0),
        files_removed=int(metrics.get("numFilesRemoved") or 0),
        zorder_by=tuple(zorder_by),
        vorder=vorder,
        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
    )


def update_condition(
    table: TableRef, where: Mapping[str, Any], values: Mapping[str, Any], existing: set[str]
) -> Any:
    """The Column condition of an update (``col = value`` or ``col IN values``, ANDed).

    Values travel as literals (``F.lit``), never as SQL text.

    Raises:
        ConfigError: a column that does not exist, or a filter without (non-null) values.
    """
    from pyspark.sql import functions as F

    terms = []
    for col, val in where.items():
        if col not in existing:
            raise ConfigError(f"column {col!r} does not exist", table=table.name)
        vals = list(val) if isinstance(val, (list, tuple, set, frozenset)) else [val]
        if not vals or any(v is None for v in vals):
            raise ConfigError(f"update filter on {col!r} needs values", table=table.name)
        terms.append(F.col(col) == F.lit(vals[0]) if len(vals) == 1 else F.col(col).isin(vals))
    for col in values:
        if col not in existing:
            raise ConfigError(f"column {col!r} does not exist", table=table.name)
    return functools.reduce(operator.and_, terms)
