"""delta-rs' answers as the port's values: schema fields, history records, add actions, frames.

Each function turns one native answer into typed models (types in the port's Spark SQL
spelling, user commit metadata separated from delta-rs' own keys, typed commit counts filled);
the port's frame operations on this engine take Arrow data only (`fmd_runtime.engine._arrow`).

Example:
    >>> _utc(0).isoformat()
    '1970-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine._deltalog import deletion_vector_file
from fmd_runtime.engine._metrics import commit_counts
from fmd_runtime.engine._models import (
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    Protocol_,
    TableSnapshot,
)
from fmd_runtime.engine._types import arrow_type, normalize_type
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import TableRef

# Spark SQL type name -> Delta protocol primitive name.
_DELTA_TYPES = {
    "string": "string",
    "bigint": "long",
    "int": "integer",
    "smallint": "short",
    "tinyint": "byte",
    "boolean": "boolean",
    "double": "double",
    "float": "float",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "binary": "binary",
}
_SPARK_TYPES = {v: k for k, v in _DELTA_TYPES.items()}

# Keys delta-rs puts at the top level of a history record; anything else is user commit metadata.
_COMMIT_INFO_KEYS = {
    "timestamp",
    "operation",
    "operationParameters",
    "operationMetrics",
    "engineInfo",
    "clientVersion",
    "version",
    "readVersion",
    "isBlindAppend",
    "isolationLevel",
    "txnId",
    "userMetadata",
    "userName",
    "inCommitTimestamp",
}


def _utc(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def schema_columns(fields: Sequence[Any]) -> tuple[Column, ...]:
    """Port columns of delta-rs schema fields (types in Spark SQL spelling where modelled;
    complex types as delta-rs spells them; the comment from the field metadata)."""
    columns = []
    for f in fields:
        raw = getattr(f.type, "type", None) or str(f.type)
        type_name = _SPARK_TYPES.get(raw, raw)
        try:
            type_name = normalize_type(type_name)
        except ConfigError:
            pass  # complex types are kept as delta-rs spells them
        comment = (f.metadata or {}).get("comment")
        columns.append(
            Column.model_construct(
                name=f.name, type=type_name, nullable=f.nullable, comment=comment
            )
        )
    return tuple(columns)


def nullable_fields(columns: Sequence[Column]) -> list[Any]:
    """delta-rs schema ``Field`` s of port columns, all nullable (columns added to a table)."""
    from deltalake import Field
    from deltalake.schema import PrimitiveType

    return [
        Field(c.name, PrimitiveType(_DELTA_TYPES.get(c.type, c.type)), nullable=True)
        for c in columns
    ]


def table_snapshot(
    table: TableRef,
    version: int,
    timestamp: datetime | None,
    columns: tuple[Column, ...],
    meta: Any,
    proto: Any,
) -> TableSnapshot:
    """`TableSnapshot` of a version from delta-rs' metadata and protocol (features sorted)."""
    return TableSnapshot(
        table=table.name,
        version=version,
        timestamp=timestamp,
        columns=columns,
        partition_columns=tuple(meta.partition_columns),
        properties={k: v for k, v in (meta.configuration or {}).items() if v is not None},
        protocol=Protocol_(
            min_reader_version=proto.min_reader_version,
            min_writer_version=proto.min_writer_version,
            reader_features=tuple(sorted(proto.reader_features or ())),
            writer_features=tuple(sorted(proto.writer_features or ())),
        ),
    )


def history_entries(records: Sequence[Mapping[str, Any]]) -> list[HistoryEntry]:
    """`HistoryEntry` s of delta-rs history records (newest first, as delta-rs lists them)."""
    out = []
    for rec in records:
        user = {k: v for k, v in rec.items() if k not in _COMMIT_INFO_KEYS}
        if isinstance(rec.get("userMetadata"), str):
            decoded = _decode(rec["userMetadata"])
            user.update(decoded if isinstance(decoded, dict) else {"userMetadata": decoded})
        metrics = dict(rec.get("operationMetrics") or {})
        out.append(
            HistoryEntry(
                version=int(rec["version"]),
                timestamp=_utc(rec.get("timestamp")) or datetime.fromtimestamp(0, timezone.utc),
                operation=str(rec.get("operation", "")),
                parameters={
                    k: _decode(v) for k, v in (rec.get("operationParameters") or {}).items()
                },
                metrics=metrics,
                user_metadata=user,
                user_name=_text(rec.get("userName")),
                engine_info=_text(rec.get("engineInfo")) or _text(rec.get("clientVersion")),
                **commit_counts(metrics),
            )
        )
    return out


def data_files(
    actions: Sequence[Mapping[str, Any]], dvs: Mapping[str, Mapping[str, Any]]
) -> list[DataFile]:
    """`DataFile` s of flattened add actions; deletion vectors from ``dvs`` (read from the log,
    ``path -> descriptor``) where delta-rs' actions leave them out."""
    out = []
    for a in actions:
        dv = dvs.get(unquote(str(a["path"]))) or {}
        storage = dv.get("storageType") or a.get("deletionVector.storageType")
        inline = dv.get("pathOrInlineDv") or a.get("deletionVector.pathOrInlineDv")
        offset = dv.get("offset") if dv else a.get("deletionVector.offset")
        dv_id = None
        if storage:
            dv_id = f"{storage}{inline}@{offset}"
        out.append(
            DataFile(
                path=unquote(str(a["path"])),
                size_bytes=int(a.get("size_bytes") or 0),
                num_records=a.get("num_records"),
                deletion_vector=dv_id,
                deletion_vector_path=deletion_vector_file(storage, inline),
            )
        )
    return sorted(out, key=lambda f: (f.path, f.deletion_vector or ""))


def add_actions(dt: Any) -> list[dict[str, Any]]:
    """The add actions of a ``DeltaTable``'s loaded version, flattened, as Python dicts."""
    import pyarrow as pa

    actions: list[dict[str, Any]] = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    return actions


def commit_properties(commit: CommitOptions | None) -> Any:
    """delta-rs ``CommitProperties`` of the port's commit options (None: none to pass)."""
    from deltalake import CommitProperties, Transaction

    if commit is None:
        return None
    txns = None
    if commit.app_id is not None and commit.app_version is not None:
        txns = [Transaction(commit.app_id, commit.app_version)]
    return CommitProperties(custom_metadata=dict(commit.metadata) or None, app_transactions=txns)


def update_source(
    table: TableRef, where: Mapping[str, Any], values: Mapping[str, Any], types: Mapping[str, str]
) -> tuple[Any, str, dict[str, str]]:
    """The MERGE that performs an update: its Arrow source (one row per combination of the
    ``where`` values, carrying the new ``values``), its predicate and its update map.

    Values travel in the source table, typed as their target columns: never as SQL literals.

    Raises:
        ConfigError: a filter without (non-null) values.
    """
    import pyarrow as pa

    value_lists = []
    for col, val in where.items():
        vals = list(val) if isinstance(val, (list, tuple, set, frozenset)) else [val]
        if not vals or any(v is None for v in vals):
            raise ConfigError(f"update filter on {col!r} needs non-null values", table=table.name)
        value_lists.append(vals)
    rows = list(itertools.product(*value_lists))
    data = {
        f"w_{c}": pa.array([r[i] for r in rows], arrow_type(types[c])) for i, c in enumerate(where)
    }
    for c, v in values.items():
        data[f"s_{c}"] = pa.array([v] * len(rows), arrow_type(types[c]))
    predicate = " AND ".join(f't."{c}" = s."w_{c}"' for c in where)
    updates = {f'"{c}"': f's."s_{c}"' for c in values}
    return pa.table(data), predicate, updates


def local_size(base: str, files: Sequence[str]) -> int:
    """Total size of files on a local disk (relative to ``base`` unless absolute; URL-encoded
    names decoded; files already gone count 0)."""
    total = 0
    for f in files:
        p = unquote(f) if os.path.isabs(f) else os.path.join(base, unquote(f))
        with contextlib.suppress(OSError):
            total += os.path.getsize(p)
    return total


__all__ = [
    "add_actions",
    "commit_properties",
    "local_size",
    "nullable_fields",
    "table_snapshot",
    "update_source",
    "data_files",
    "history_entries",
    "schema_columns",
]
