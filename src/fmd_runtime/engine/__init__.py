"""The Delta engine port: one small protocol, two adapters.

Everything above this package (store, checkpoints, rollback, maintenance ...) talks to Delta only
through `DeltaEngine`. The adapters are thin: each method tidies its arguments, makes one call into
the engine, and returns a typed result defined here.

- `fmd_runtime.engine.deltars.DeltaRsEngine`: delta-rs (``deltalake``), tables by path under a
  lakehouse folder laid out as OneLake (``<root>/Tables/<schema>/<table>``).
- `fmd_runtime.engine.spark.SparkEngine`: delta-spark, tables by name through Spark SQL.

SQL through the port (`DeltaEngine.sql`) is written once for both engines: sources are named
``{alias}`` placeholders bound to a table at a version, identifiers go through
`DeltaEngine.quote`, and values travel as ``:name`` parameters, never inside the SQL text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fmd_runtime.errors import ConfigError, FmdError, UnsupportedFeatureError
from fmd_runtime.tables import TableRef, validate_identifier

WriteMode = Literal["append", "overwrite"]
SchemaMode = Literal["merge", "overwrite"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Column types are Spark SQL type names (what operators write in DDL); each adapter maps them.
_SIMPLE_TYPES = {
    "string",
    "bigint",
    "int",
    "smallint",
    "tinyint",
    "boolean",
    "double",
    "float",
    "date",
    "timestamp",
    "timestamp_ntz",
    "binary",
}
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


def normalize_type(type_name: str) -> str:
    """Return the canonical (lower-case Spark SQL) spelling of a column type.

    Args:
        type_name: e.g. ``"BIGINT"``, ``"long"``, ``"Decimal(18, 2)"``.

    Raises:
        ConfigError: the type is not one the engines support.

    Example:
        >>> normalize_type("LONG"), normalize_type("decimal(18, 2)")
        ('bigint', 'decimal(18,2)')
    """
    t = type_name.strip().lower()
    aliases = {
        "long": "bigint",
        "integer": "int",
        "short": "smallint",
        "byte": "tinyint",
        "bool": "boolean",
    }
    t = aliases.get(t, t)
    if t in _SIMPLE_TYPES:
        return t
    m = _DECIMAL.match(t)
    if m and 0 < int(m.group(1)) <= 38 and int(m.group(2)) <= int(m.group(1)):
        return f"decimal({int(m.group(1))},{int(m.group(2))})"
    raise ConfigError(
        f"column type {type_name!r} is not supported",
        hint=f"use one of {sorted(_SIMPLE_TYPES)} or decimal(p,s)",
    )


def arrow_type(type_name: str) -> Any:
    """The pyarrow type for an engine-neutral column type (timestamps are UTC microseconds).

    Example:
        >>> str(arrow_type("bigint"))
        'int64'
    """
    import pyarrow as pa

    t = normalize_type(type_name)
    simple = {
        "string": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "smallint": pa.int16(),
        "tinyint": pa.int8(),
        "boolean": pa.bool_(),
        "double": pa.float64(),
        "float": pa.float32(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamp_ntz": pa.timestamp("us"),
        "binary": pa.binary(),
    }
    if t in simple:
        return simple[t]
    precision, scale = (int(x) for x in t[len("decimal(") : -1].split(","))
    return pa.decimal128(precision, scale)


def arrow_schema(columns: Sequence[Column]) -> Any:
    """A pyarrow schema for engine-neutral columns (comments kept as field metadata)."""
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
    """One commit of a table's history, normalized across engines."""

    model_config = _FROZEN

    version: int
    timestamp: datetime
    operation: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    user_metadata: dict[str, Any] = Field(default_factory=dict)


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


@runtime_checkable
class DeltaEngine(Protocol):
    """The port every capability uses to reach Delta tables.

    Implemented by `DeltaRsEngine` (embedded) and `SparkEngine` (Fabric Spark). All table
    arguments are `TableRef`; results are the typed models of this module; native errors are
    translated to `fmd_runtime.errors.EngineError` subclasses.
    """

    name: str
    supports_keep_versions: bool
    """True when `vacuum` can protect the files of given versions (``keep_versions``)."""

    @property
    def vacuum_reads_table_retention(self) -> bool:
        """True when VACUUM takes its retention from ``delta.deletedFileRetentionDuration`` and
        ignores ``RETAIN n HOURS`` unless n is 0 (Delta 4.1+): the property protects files."""
        ...

    def exists(self, table: TableRef) -> bool:
        """True when the table exists."""
        ...

    def location(self, table: TableRef) -> str:
        """Where the table's files live: a local path or a URL (``file:``, ``abfss:``)."""
        ...

    def create(
        self,
        table: TableRef,
        columns: Sequence[Column],
        *,
        properties: Mapping[str, str] | None = None,
        partition_by: Sequence[str] = (),
        comment: str | None = None,
        commit: CommitOptions | None = None,
    ) -> bool:
        """Create the table if it does not exist; return True when it was created.

        ``commit`` metadata (run id ...) goes into the creating commit, as for every commit below.
        """
        ...

    def add_columns(
        self, table: TableRef, columns: Sequence[Column], *, commit: CommitOptions | None = None
    ) -> None:
        """Add nullable columns to an existing table (schema upgrade)."""
        ...

    def version(self, table: TableRef) -> int:
        """The table's current version."""
        ...

    def snapshot(self, table: TableRef, version: int | None = None) -> TableSnapshot:
        """Schema, protocol, partitioning and properties of a version."""
        ...

    def history(self, table: TableRef, limit: int | None = None) -> list[HistoryEntry]:
        """Commits, newest first."""
        ...

    def count_rows(self, table: TableRef, version: int | None = None) -> RowCount:
        """Row count from the log's file statistics, or a scan when stats are missing."""
        ...

    def files(self, table: TableRef, version: int | None = None) -> list[DataFile]:
        """The data files (and deletion vectors) the version needs."""
        ...

    def missing_files(self, table: TableRef, version: int | None = None) -> list[str]:
        """Files (data or deletion vector) the version needs that are no longer in storage."""
        ...

    def read(
        self, table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
    ) -> Any:
        """The version's rows: an Arrow table (delta-rs) or a DataFrame (Spark)."""
        ...

    def quote(self, identifier: str) -> str:
        """Validate and quote an identifier for this engine's SQL dialect."""
        ...

    def sql(
        self,
        query: str,
        sources: Mapping[str, SqlSource],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a read-only query; ``{alias}`` names a source, ``:name`` a parameter.

        A list/tuple parameter is an IN list: write ``col IN :ids`` (each value bound
        separately). Paths in `DataFile` / `VacuumResult` are relative to the table folder and
        URL-decoded on both engines.

        Returns a pyarrow Table (small results: aggregates, metadata rows).
        """
        ...

    def write(
        self,
        table: TableRef,
        data: Any,
        *,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        commit: CommitOptions | None = None,
    ) -> int:
        """Append or overwrite with Arrow data (or a DataFrame on Spark); return the new version."""
        ...

    def update(
        self,
        table: TableRef,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        commit: CommitOptions | None = None,
    ) -> int:
        """Set ``values`` (column -> new value) on the rows matching ``where`` (column = value, or IN list).

        Returns the number of rows updated.
        """
        ...

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        """RESTORE the table to a version."""
        ...

    def vacuum(
        self,
        table: TableRef,
        *,
        retention_hours: int,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
        enforce_retention: bool = True,
    ) -> VacuumResult:
        """VACUUM (dry run by default); return the files removed or that would be removed."""
        ...

    def optimize(
        self,
        table: TableRef,
        *,
        zorder_by: Sequence[str] = (),
        vorder: bool = False,
        commit: CommitOptions | None = None,
    ) -> OptimizeResult:
        """Compact small files, Z-ORDER by columns when given, V-Order where the engine can."""
        ...

    def properties(self, table: TableRef) -> dict[str, str]:
        """The table's properties (``delta.*`` and user ones)."""
        ...

    def set_properties(
        self,
        table: TableRef,
        properties: Mapping[str, str],
        *,
        commit: CommitOptions | None = None,
    ) -> None:
        """Set table properties (ALTER TABLE ... SET TBLPROPERTIES)."""
        ...

    def create_log_checkpoint(self, table: TableRef, version: int | None = None) -> bool:
        """Write a Delta log checkpoint at ``version`` (default: the current one); True when
        that version has one afterwards, False where not supported."""
        ...

    def transaction_version(self, table: TableRef, app_id: str) -> int | None:
        """The last idempotent-write version recorded for ``app_id``, or None."""
        ...


def bind_alias(alias: str) -> str:
    """Validate a SQL source alias (used by both adapters).

    Example:
        >>> bind_alias("src")
        'src'
    """
    return validate_identifier(alias, what="SQL source alias")


# -- table features an engine cannot commit to -------------------------------------------------


def unsupported_feature_error(
    table: str | None,
    features: Sequence[str],
    *,
    engine: str,
    operation: str,
    hint: str | None = None,
) -> UnsupportedFeatureError:
    """The one `UnsupportedFeatureError` of every refusal (adapters, checkpoints, maintenance).

    Args:
        table: ``schema.table``.
        features: the Delta table features (protocol names) the engine lacks.
        engine: the engine as shown to people (``"delta-rs (deltalake 1.6.6)"``).
        operation: what was refused (``"set properties"``, ``"maintenance"``...).
        hint: the fix; default: run it from a Fabric Spark notebook.

    Example:
        >>> str(unsupported_feature_error("s.t", ["rowTracking"], engine="delta-rs", operation="optimize"))[:60]
        'In table `s.t`: optimize refused: the table uses the Delta t'
    """
    names = ", ".join(features) if features else "(not named by the engine)"
    return UnsupportedFeatureError(
        f"{operation} refused: the table uses the Delta table feature(s) {names}, which {engine} "
        "does not support (tables written by Spark can have them); nothing was changed",
        table=table,
        hint=hint
        or "run it from a Fabric Spark notebook (fmd.connect(spark=spark)), where Delta supports them",
        details={"features": list(features), "operation": operation, "engine": engine},
    )


def unwritable_features(engine: DeltaEngine, table: TableRef) -> tuple[str, ...]:
    """The writer features of ``table`` that ``engine`` cannot commit to (empty: it can write).

    An engine that commits only to some features names them in a ``writable_features``
    attribute (delta-rs); an engine without it (Spark) writes what its Delta release supports
    and refuses the rest itself. One snapshot read, only for engines that name their features.

    Example:
        >>> # unwritable_features(rt.engine, rt.table("bronze.account"))  -> ('identityColumns',)
    """
    writable = getattr(engine, "writable_features", None)
    if writable is None:
        return ()
    features = engine.snapshot(table).protocol.writer_features
    return tuple(sorted(f for f in features if f not in writable))


def write_refusal(
    engine: DeltaEngine, table: TableRef, *, operation: str, hint: str | None = None
) -> UnsupportedFeatureError | None:
    """The refusal to raise (or report) before ``operation`` writes ``table``, or None.

    Example:
        >>> # err = write_refusal(rt.engine, ref, operation="maintenance"); err and print(err)
    """
    blocked = unwritable_features(engine, table)
    if not blocked:
        return None
    label = str(getattr(engine, "engine_label", engine.name))
    return unsupported_feature_error(
        table.name, blocked, engine=label, operation=operation, hint=hint
    )


def history_at(entries: Sequence[HistoryEntry], version: int) -> HistoryEntry | None:
    """The history entry of ``version`` (or None if it is not in the list).

    Example:
        >>> history_at([], 3) is None
        True
    """
    for entry in entries:
        if entry.version == version:
            return entry
    return None


# -- Delta retention properties (engine-neutral semantics of table properties) -----------------

DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"
LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_RETENTION_HOURS: dict[str, float] = {DELETED_FILE_RETENTION: 168.0, LOG_RETENTION: 720.0}
"""Delta's defaults when the property is unset: 7 days of tombstones, 30 days of log."""

_INTERVAL_UNIT_HOURS = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
}
_INTERVAL_UNIT_HOURS |= {"millisecond": 1 / 3_600_000, "microsecond": 1 / 3_600_000_000}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_interval_hours(
    text: str, *, table: str | None = None, error: type[FmdError] = ConfigError
) -> float:
    """Hours in a Delta interval property value.

    Accepts what Delta writes and operators type: ``"interval 7 days"``, ``"interval 168 hours"``,
    ``"7 days"``, ``"interval 1 week 2 days"`` (units week, day, hour, minute, second,
    millisecond, microsecond; singular or plural; any case).

    Args:
        text: the property value.
        table: the table, for the error context.
        error: the `FmdError` subclass to raise (the caller's capability error).

    Raises:
        ConfigError (or ``error``): the text is not such an interval.

    Example:
        >>> parse_interval_hours("interval 7 days"), parse_interval_hours("1 week 12 hours")
        (168.0, 180.0)
    """
    raw = str(text).strip().lower()
    body = raw[len("interval") :].strip() if raw.startswith("interval") else raw
    parts = _INTERVAL_PART.findall(body)
    units = [u[:-1] if u.endswith("s") and u[:-1] in _INTERVAL_UNIT_HOURS else u for _, u in parts]
    if (
        not parts
        or _INTERVAL_PART.sub("", body).strip()
        or any(u not in _INTERVAL_UNIT_HOURS for u in units)
    ):
        raise error(
            f"table property value {text!r} is not a Delta interval",
            table=table,
            hint="use e.g. 'interval 7 days' or 'interval 168 hours'",
        )
    return sum(float(n) * _INTERVAL_UNIT_HOURS[u] for (n, _), u in zip(parts, units, strict=True))


def format_interval(hours: float) -> str:
    """A Delta interval for whole hours (rounded up): days when they divide evenly.

    Example:
        >>> format_interval(720), format_interval(170)
        ('interval 30 days', 'interval 170 hours')
    """
    whole = int(math.ceil(hours))
    return f"interval {whole // 24} days" if whole % 24 == 0 else f"interval {whole} hours"


def retention_hours(
    properties: Mapping[str, str],
    key: str,
    *,
    table: str | None = None,
    error: type[FmdError] = ConfigError,
) -> float:
    """A table's retention in hours for ``key`` (Delta's default when the property is unset).

    Example:
        >>> retention_hours({}, LOG_RETENTION)
        720.0
    """
    value = properties.get(key)
    return (
        parse_interval_hours(value, table=table, error=error)
        if value
        else DEFAULT_RETENTION_HOURS[key]
    )


def log_retention_cover(
    properties: Mapping[str, str], changes: Mapping[str, str]
) -> dict[str, str]:
    """The log-retention raise that keeps ``logRetentionDuration >= deletedFileRetentionDuration``.

    Delta 4.1+ refuses a file retention longer than the log retention, and on every engine a
    restore point outlives neither. Given the current properties and the changes about to be
    set, return the extra change (``{LOG_RETENTION: ...}``) when the new file retention would
    exceed the log retention, else ``{}``.

    Example:
        >>> log_retention_cover({}, {DELETED_FILE_RETENTION: "interval 40 days"})
        {'delta.logRetentionDuration': 'interval 40 days'}
        >>> log_retention_cover({}, {DELETED_FILE_RETENTION: "interval 10 days"})
        {}
        >>> log_retention_cover({LOG_RETENTION: "interval 35 days"},
        ...                     {DELETED_FILE_RETENTION: "interval 32 days"})
        {'delta.logRetentionDuration': 'interval 35 days'}
    """
    if DELETED_FILE_RETENTION not in changes:
        return {}
    after = {**properties, **changes}
    files_h = retention_hours(after, DELETED_FILE_RETENTION)
    if retention_hours(after, LOG_RETENTION) < files_h:
        return {LOG_RETENTION: format_interval(files_h)}
    if LOG_RETENTION in properties and LOG_RETENTION not in changes:
        # Delta 4.2 checks a new file retention against the log retention of the same change and
        # takes the 30-day default when the change does not name one, although the table sets
        # it (a 35-day log and a 32-day file retention refused): restate the table's own value.
        return {LOG_RETENTION: str(properties[LOG_RETENTION])}
    return {}


__all__ = [
    "log_retention_cover",
    "DEFAULT_RETENTION_HOURS",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "format_interval",
    "parse_interval_hours",
    "retention_hours",
    "Column",
    "CommitOptions",
    "DataFile",
    "DeltaEngine",
    "HistoryEntry",
    "OptimizeResult",
    "Protocol_",
    "RestoreResult",
    "RowCount",
    "SchemaMode",
    "SqlSource",
    "TableAt",
    "TableSnapshot",
    "VacuumResult",
    "WriteMode",
    "arrow_schema",
    "arrow_type",
    "bind_alias",
    "history_at",
    "normalize_type",
    "unsupported_feature_error",
    "unwritable_features",
    "write_refusal",
]
