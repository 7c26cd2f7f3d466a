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

This module is the facade; each concern has its own private module (the adapters import them,
never each other):

==================  ============================================================================
``_types``          column type names (`normalize_type`, `arrow_type`), `WriteMode`, `SchemaMode`
``_models``         the typed values that cross the port (`Column`, `HistoryEntry`, results ...)
``_metrics``        a commit's typed counts from either writer's raw metric names
``_merge``          the keyed MERGE: `MergeSpec`, `MergeCounts`, `MergePreview`, the row rules
``_intervals``      retention properties: `parse_interval_hours`, `log_retention_cover` ...
``_arrow``          Arrow frames: `arrow_schema`, columns, max, align (both adapters use it)
``_deltalog``       Delta log encodings both adapters read (`deletion_vector_file`)
``_transient``      `native_transient` / `register_transient_classifier`, asked by retry
``_native_errors``  each engine's commit-conflict vocabulary (pure Python)
``sqltext``         Spark SQL DDL text (the Spark adapter and `fmd_runtime.store.ddl` share it)
==================  ============================================================================

Example:
    >>> from fmd_runtime.engine import Column, TableAt
    >>> Column(name="Id", type="long").type
    'bigint'
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from fmd_runtime.engine._arrow import arrow_align, arrow_columns, arrow_max, arrow_schema, is_arrow
from fmd_runtime.engine._frames import align_frame, frame_columns, frame_max
from fmd_runtime.engine._intervals import (
    DEFAULT_RETENTION_HOURS,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
    log_retention_cover,
    parse_interval_hours,
    retention_hours,
)
from fmd_runtime.engine._merge import (
    MERGE_METADATA_KEY,
    MergeCheck,
    MergeCounts,
    MergeMode,
    MergePreview,
    MergeSpec,
    MergeWriteResult,
)
from fmd_runtime.engine._metrics import COMMIT_COUNT_FIELDS, commit_counts
from fmd_runtime.engine._models import (
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    OptimizeResult,
    Protocol_,
    RestoreResult,
    RowCount,
    SqlSource,
    TableAt,
    TableSnapshot,
    VacuumResult,
)
from fmd_runtime.engine._transient import (
    TransientClassifier,
    native_transient,
    register_transient_classifier,
)
from fmd_runtime.engine._types import SchemaMode, WriteMode, arrow_type, normalize_type
from fmd_runtime.errors import ConfigError, UnsupportedFeatureError
from fmd_runtime.tables import TableRef, validate_identifier


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

    def history(
        self, table: TableRef, limit: int | None = None, *, since_version: int | None = None
    ) -> list[HistoryEntry]:
        """Commits, newest first: at most ``limit``, only those after ``since_version``.

        ``since_version`` bounds the read by a high-water mark: only the commits newer than it
        are read (none when the table is not newer), so a scan that resumes reads each commit
        once.
        """
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

    def merge(
        self,
        table: TableRef,
        data: Any,
        spec: MergeSpec,
        *,
        check: MergeCheck | None = None,
        commit: CommitOptions | None = None,
    ) -> MergeWriteResult:
        """MERGE ``data`` into an existing table by key, soft-deleting rather than deleting.

        Every incoming row (and, for a snapshot, every active target row) is classified once
        against the target at one version: inserted, updated (a compared column differs,
        null-safely), unchanged, re-activated (soft-deleted, not purged), purged (left alone),
        deleted (snapshot: an active row whose key is missing). ``check`` sees the counts
        (`MergePreview`) before anything is committed and stops the merge by raising; then one
        MERGE commit carries only the changed rows (none: no commit). The commit's
        ``app_id``/``app_version`` make a repeated merge a no-op. Tracking columns belong to the
        merge: incoming values of them are ignored; inserted rows get false.

        Raises:
            ContractViolation: the key has nulls or duplicates in ``data`` (a sample named), or a
                key / compared column is missing from it.
            ConfigError: ``data`` has a column the table lacks, or the table lacks a tracking column.
            ConcurrentWriteError: the table moved while the rows were classified (retry).
        """
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
        commit: CommitOptions | None = None,
    ) -> VacuumResult:
        """VACUUM (dry run by default); return the files removed or that would be removed.

        ``commit`` metadata goes into the ``VACUUM START`` / ``VACUUM END`` commits a real run
        writes (both engines log them), so the history tells the library's VACUUM from others'.
        """
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

    # -- frames: the data a caller holds (Arrow on every engine, Spark DataFrames on Spark) --------
    def frame_columns(self, frame: Any) -> list[Column]:
        """The columns of a frame or schema: an Arrow table / record batch / schema, or (Spark) a
        DataFrame / StructType.

        Types in the port's spelling (``bigint``, ``timestamp_ntz``, ``decimal(18,2)``); a type
        the engines do not model (unsigned, nested) keeps the frame's own spelling.

        Raises:
            InvalidIdentifierError: a column name is not a plain identifier.
            ConfigError: an object that carries no schema this engine reads.
        """
        ...

    def frame_max(self, frame: Any, column: str) -> Any:
        """The maximum of a frame's column as a Python value (None: no rows, or only nulls).

        ``column`` is matched exactly, else ignoring case. Spark ``timestamp`` values come back as
        UTC-aware datetimes (read as epoch microseconds: the session time zone plays no part),
        ``timestamp_ntz`` values as their ISO text; Arrow values as pyarrow gives them.

        Raises:
            ConfigError: not a frame, or no such column.
        """
        ...

    def align_frame(
        self,
        frame: Any,
        columns: Sequence[Column],
        *,
        cast: Collection[str] = (),
        extra: Sequence[str] = (),
        table: str | None = None,
    ) -> Any:
        """The frame shaped like ``columns`` (a frame of the same kind; None for a schema).

        Each target column in order and in the target's spelling (matched ignoring case),
        missing ones as typed nulls; the columns named in ``cast`` cast to the target type; the
        frame's columns named in ``extra`` appended last, unchanged. Arrow frames keep the
        target's NOT NULL flags.

        Args:
            frame: an Arrow table / record batch, or (Spark) a DataFrame.
            columns: the target columns.
            cast: target column names whose values are cast to the target type.
            extra: the frame's own (new) columns to keep, after the target's.
            table: the target table, for error context.

        Raises:
            SchemaDriftError: a value cannot be cast, or a NOT NULL column has nulls (Arrow).
            ConfigError: a frame of a kind this engine does not handle.
        """
        ...


def history_window(current: int, limit: int | None, since_version: int | None) -> int | None:
    """How many of the newest commits a bounded history read asks for (used by both adapters).

    Args:
        current: the table's current version.
        limit: the caller's limit (None: no limit).
        since_version: only commits after it (None: no bound).

    Returns:
        The limit to read with (None: all; 0: nothing is newer than ``since_version``).

    Raises:
        ConfigError: a negative ``limit`` or ``since_version``.

    Example:
        >>> history_window(10, None, 7), history_window(10, 2, 7), history_window(10, None, 12)
        (3, 2, 0)
    """
    for name, value in (("limit", limit), ("since_version", since_version)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ConfigError(
                f"history: {name} must be a whole number >= 0, got {value!r}",
                hint=f"pass {name} as a table version (an int)",
            )
    if since_version is None:
        return limit
    newer = max(0, int(current) - since_version)
    return newer if limit is None else min(limit, newer)


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
    return unsupported_feature_error(
        table.name, blocked, engine=engine_label(engine), operation=operation, hint=hint
    )


def engine_label(engine: DeltaEngine) -> str:
    """The engine as people read it: ``delta-rs (deltalake 1.6.6)``, ``Spark 3.5.5 / Delta 3.2.1``.

    An adapter names itself in an ``engine_label`` attribute; one without it by its
    `engine_versions` (``Spark 3.5.5 / Delta 3.2.1``), else by ``engine.name``.

    Example:
        >>> # engine_label(rt.engine) -> 'delta-rs (deltalake 1.6.6)'
    """
    label = getattr(engine, "engine_label", None)
    if label:
        return str(label)
    found = engine_versions(engine)
    return " / ".join(f"{k[:1].upper()}{k[1:]} {v}" for k, v in found.items()) or engine.name


def engine_versions(engine: DeltaEngine) -> dict[str, str]:
    """The libraries behind ``engine`` and their versions (empty when the adapter does not say).

    ``{"deltalake": "1.6.6"}`` on delta-rs, ``{"spark": "3.5.5", "delta": "3.2.1"}`` on Spark:
    each adapter names them in a ``versions`` attribute, so a caller (preflight) can check
    them against the supported ranges without knowing which engine it holds.

    Example:
        >>> # engine_versions(rt.engine) -> {'deltalake': '1.6.6'}
    """
    found = getattr(engine, "versions", None)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


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


__all__ = [
    "COMMIT_COUNT_FIELDS",
    "DEFAULT_RETENTION_HOURS",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "MERGE_METADATA_KEY",
    "Column",
    "CommitOptions",
    "DataFile",
    "DeltaEngine",
    "HistoryEntry",
    "MergeCheck",
    "MergeCounts",
    "MergeMode",
    "MergePreview",
    "MergeSpec",
    "MergeWriteResult",
    "OptimizeResult",
    "Protocol_",
    "RestoreResult",
    "RowCount",
    "SchemaMode",
    "SqlSource",
    "TableAt",
    "TableSnapshot",
    "TransientClassifier",
    "VacuumResult",
    "WriteMode",
    "align_frame",
    "arrow_align",
    "arrow_columns",
    "arrow_max",
    "arrow_schema",
    "is_arrow",
    "arrow_type",
    "bind_alias",
    "commit_counts",
    "engine_label",
    "engine_versions",
    "format_interval",
    "frame_columns",
    "frame_max",
    "history_at",
    "history_window",
    "log_retention_cover",
    "native_transient",
    "normalize_type",
    "parse_interval_hours",
    "register_transient_classifier",
    "retention_hours",
    "unsupported_feature_error",
    "unwritable_features",
    "write_refusal",
]
