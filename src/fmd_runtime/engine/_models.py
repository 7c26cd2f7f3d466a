"""The typed values that cross the port: columns, commit options and every operation's result.

Frozen pydantic models (``extra="forbid"``): an adapter builds them from its engine's native
answer, and everything above the port reads only these fields, never an engine's raw names.

Example:
    >>> Column(name="Id", type="long").type
    'bigint'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fmd_runtime.engine._types import normalize_type
from fmd_runtime.tables import TableRef, validate_identifier

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Column(BaseModel):
    """One column of a table schema (engine-neutral).

    Example:
        >>> Column(name="CheckpointId", type="STRING", nullable=False).type
        'string'
    """

    model_config = _FROZEN

    name: str
    type: str
    nullable: bool = True
    comment: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_identifier(v, what="column")

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        # `model_construct` (used for complex types read back from a table) skips this on purpose.
        return normalize_type(v)


class CommitOptions(BaseModel):
    """What travels with a commit: user metadata (run id, reason) and an idempotent-write identity.

    Attributes:
        metadata: string key/values stored in the commit (``commitInfo``), visible in history.
        app_id: Delta transaction app id (``txnAppId``); with ``app_version`` makes a write
            idempotent: the engine refuses to apply a version it has already seen for that app id.
        app_version: increasing integer per ``app_id`` (``txnVersion``).
    """

    model_config = _FROZEN

    metadata: dict[str, str] = Field(default_factory=dict)
    app_id: str | None = None
    app_version: int | None = None


class HistoryEntry(BaseModel):
    """One commit of a table's history, normalized across engines.

    The typed counts below are what code above the port reads; ``metrics`` keeps the commit's
    raw ``operationMetrics`` as its writer named them (Spark writes camelCase, delta-rs
    snake_case, and a table may hold commits of both). A count is None when the commit does
    not report it (e.g. delta-rs reports no bytes for a WRITE, Spark no removed files for an
    overwrite), never a guess.

    Attributes:
        version: the commit's table version.
        timestamp: the commit time (UTC).
        operation: Delta's operation name (``WRITE``, ``MERGE``, ``RESTORE``, ``OPTIMIZE``...).
        parameters: the operation parameters, JSON-decoded.
        metrics: the raw operation metrics (numeric strings as ints on Spark).
        user_metadata: the commit's user metadata (run id, reason ...).
        user_name: who committed, where the writer records it (Fabric / Databricks Spark fill
            ``userName``; open-source Spark and delta-rs leave it None).
        engine_info: what committed: the writer's ``engineInfo`` (``Apache-Spark/3.5.5
            Delta-Lake/3.2.1``) or, when absent, its ``clientVersion`` (``delta-rs.py-1.6.6``).
        rows_added: rows the commit inserted (a write's rows, a MERGE's inserted rows); rows
            rewritten unchanged (copied) are not counted.
        rows_updated: rows an UPDATE or MERGE changed.
        rows_deleted: rows a DELETE or MERGE removed.
        files_added: data files the commit added (a RESTORE: the files it brought back).
        files_removed: data files the commit removed.
        bytes_added: bytes of the data files added.
        bytes_removed: bytes of the data files removed.

    Example:
        >>> from datetime import datetime, timezone
        >>> e = HistoryEntry(version=1, timestamp=datetime.now(timezone.utc), operation="WRITE",
        ...                  rows_added=3, files_added=1)
        >>> e.rows_added, e.rows_deleted
        (3, None)
    """

    model_config = _FROZEN

    version: int
    timestamp: datetime
    operation: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    user_metadata: dict[str, Any] = Field(default_factory=dict)
    user_name: str | None = None
    engine_info: str | None = None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    files_added: int | None = None
    files_removed: int | None = None
    bytes_added: int | None = None
    bytes_removed: int | None = None


class DataFile(BaseModel):
    """A data file a table version needs (an ``add`` action), with its deletion vector if any."""

    model_config = _FROZEN

    path: str
    size_bytes: int
    num_records: int | None = None
    deletion_vector: str | None = None
    deletion_vector_path: str | None = None
    """Relative path of the deletion-vector file when it is stored in its own file."""


class RowCount(BaseModel):
    """Row count of a table version and where it came from (log statistics or a scan)."""

    model_config = _FROZEN

    total: int
    source: Literal["stats", "scan"]


class Protocol_(BaseModel):
    """Delta protocol versions and features."""

    model_config = _FROZEN

    min_reader_version: int
    min_writer_version: int
    reader_features: tuple[str, ...] = ()
    writer_features: tuple[str, ...] = ()


class TableSnapshot(BaseModel):
    """Schema, protocol and properties of one table version."""

    model_config = _FROZEN

    table: str
    version: int
    timestamp: datetime | None
    columns: tuple[Column, ...]
    partition_columns: tuple[str, ...] = ()
    properties: dict[str, str] = Field(default_factory=dict)
    protocol: Protocol_


class RestoreResult(BaseModel):
    """What a RESTORE did."""

    model_config = _FROZEN

    table: str
    restored_to: int
    version_before: int
    version_after: int
    metrics: dict[str, Any] = Field(default_factory=dict)


class VacuumResult(BaseModel):
    """Files a VACUUM removed (or, in a dry run, would remove)."""

    model_config = _FROZEN

    table: str
    dry_run: bool
    retention_hours: int
    files: tuple[str, ...]
    bytes: int | None = None
    keep_versions: tuple[int, ...] = ()


class OptimizeResult(BaseModel):
    """What an OPTIMIZE compaction / Z-ORDER did."""

    model_config = _FROZEN

    table: str
    files_added: int
    files_removed: int
    zorder_by: tuple[str, ...] = ()
    vorder: bool = False
    metrics: dict[str, Any] = Field(default_factory=dict)


class TableAt(BaseModel):
    """A table at a version (``None`` = latest), for binding a SQL source."""

    model_config = _FROZEN

    table: TableRef
    version: int | None = None


SqlSource = TableRef | TableAt | str
