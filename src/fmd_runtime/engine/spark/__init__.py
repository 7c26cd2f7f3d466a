"""The Spark engine: delta-spark through Spark SQL, tables addressed by name (Fabric notebooks).

Every statement is built by a pure function (``*_statement``), so the exact SQL is tested
without a JVM; identifiers go through `quote_identifier`, values are Spark SQL string literals
(`sql_string`) or named parameters (``spark.sql(text, args=...)``, Spark 3.5+).

Operations without a public Delta API on Spark (`files`, `missing_files`, `create_log_checkpoint`,
`transaction_version`, older versions in `snapshot`) use Delta's JVM internals (``_jvm``),
guarded: a public route answers where there is one, else an `EngineError` names the internal API
that was unavailable. Session-wide confs (commit user metadata, the VACUUM retention check) are
set for one call under one lock per process (`_session`): no commit takes another thread's run id.
This module is the facade (`SparkEngine`) over private modules: ``_statements`` (the SQL text),
``_errors`` (classification and translation), ``_jvm`` (DeltaLog internals through py4j),
``_frames`` (Spark data <-> port values, frame operations), ``_session`` (versions, confs).

Example:
    >>> from fmd_runtime.tables import TableRef
    >>> restore_statement(TableRef.parse("s.t"), 3)
    'RESTORE TABLE `s`.`t` TO VERSION AS OF 3'
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fmd_runtime.engine import (
    DELETED_FILE_RETENTION,
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    OptimizeResult,
    RestoreResult,
    RowCount,
    SchemaMode,
    SqlSource,
    TableAt,
    TableSnapshot,
    VacuumResult,
    WriteMode,
    bind_alias,
    history_window,
)
from fmd_runtime.engine import _frames as _port_frames
from fmd_runtime.engine import retention_hours as retention_hours_of
from fmd_runtime.engine.spark import _errors, _frames, _jvm, _merge, _session, _statements
from fmd_runtime.engine.spark._errors import DELTA_SPARK_CONFLICTS, _translate, classify_error
from fmd_runtime.engine.spark._jvm import _InternalApiMissing
from fmd_runtime.engine.spark._session import _RETENTION_CONF, _SESSION_CONF_LOCK
from fmd_runtime.engine.spark._statements import (
    add_columns_statement,
    bind_parameters,
    create_schema_statement,
    create_table_statement,
    describe_detail_statement,
    describe_history_statement,
    optimize_statement,
    property_key,
    restore_statement,
    select_statement,
    set_properties_statement,
    source_sql,
    sql_string,
    vacuum_statement,
)
from fmd_runtime.engine.sqltext import version_number as _version
from fmd_runtime.errors import ConfigError, EngineError
from fmd_runtime.tables import TableRef, quote_identifier, validate_identifier

_log = logging.getLogger(__name__)


class SparkEngine:
    """`DeltaEngine` adapter over delta-spark (Spark SQL, tables by name).

    Args:
        spark: the SparkSession (Delta-enabled: Fabric, or local with the Delta jars).
        vorder_supported: whether ``OPTIMIZE ... VORDER`` exists; None detects it lazily from
            the Fabric confs ``spark.sql.parquet.vorder.default`` / ``.enabled``.

    Example:
        >>> engine = SparkEngine(spark)  # doctest: +SKIP
        >>> engine.version(TableRef.parse("bronze.account"))  # doctest: +SKIP
        12
    """

    name = "spark"
    supports_keep_versions = False
    """Spark VACUUM cannot protect given versions; maintenance uses retention instead."""

    def __init__(self, spark: Any, *, vorder_supported: bool | None = None) -> None:
        self.spark = spark
        self._vorder = vorder_supported
        self._delta_version: tuple[int, int, int] | None = None
        self._conf_lock = _SESSION_CONF_LOCK
        # A table's storage location is fixed for its name (managed tables live under the
        # schema's folder; OneLake paths never move), and DESCRIBE DETAIL reads the log (~0.3 s
        # locally, more in Fabric): where the session catalog cannot say (`location`), looked
        # up once per table, forgotten when the table is created by this engine or found
        # missing.
        self._locations: dict[str, str] = {}
        # The add actions of recently read versions (`_raw_files`), least recently used first.
        self._files = _jvm.FileCache()
        with contextlib.suppress(ImportError):
            import delta.exceptions  # noqa: F401  (converts Delta's Java exceptions to classes)
        _session.bind_parameters_with_delta_parser(self.spark)

    @property
    def delta_version(self) -> tuple[int, int, int]:
        """The session's Delta version (``io.delta.VERSION`` of the jars), e.g. ``(4, 2, 0)``.

        ``(0, 0, 0)`` when the JVM does not say (then no version-specific behaviour is assumed).
        """
        if self._delta_version is None:
            self._delta_version = _session.delta_version(self.spark)
        return self._delta_version

    @property
    def vacuum_reads_table_retention(self) -> bool:
        """True from Delta 4.1: VACUUM ignores ``RETAIN n HOURS`` (n > 0) for the table property."""
        return self.delta_version >= (4, 1, 0)

    @property
    def versions(self) -> dict[str, str]:
        """``{"spark": "3.5.5", "delta": "3.2.1"}`` (Delta ``0.0.0`` when the JVM does not say)."""
        return _session.versions(self.spark, self.delta_version)

    @property
    def vorder_supported(self) -> bool:
        """True when the session is a Fabric runtime with V-Order (detected once)."""
        if self._vorder is None:
            self._vorder = _session.has_vorder(self.spark)
        return self._vorder

    # -- helpers ---------------------------------------------------------------------------
    def _sql(self, table: TableRef | None, operation: str, text: str) -> list[Any]:
        with _translate(table, operation):
            return list(self.spark.sql(text).collect())

    @contextlib.contextmanager
    def _conf(self, settings: Mapping[str, str | None]) -> Iterator[None]:
        """Set session confs for one call; restore the previous values afterwards."""
        with _session.session_conf(self.spark, self._conf_lock, settings):
            yield

    _metadata = staticmethod(_session.metadata_conf)

    def _detail(self, table: TableRef) -> dict[str, Any]:
        rows = self._sql(table, "describe detail", describe_detail_statement(table))
        return dict(rows[0].asDict())

    def _delta_log(self, table: TableRef) -> Any:
        """The JVM ``DeltaLog`` of the table (`_InternalApiMissing` without Delta's classes)."""
        return _jvm.open_delta_log(self.spark, table, lambda: self.location(table))

    def _jvm_snapshot(self, table: TableRef, version: int | None) -> Any:
        """A Delta ``Snapshot`` (JVM) of the version, through DeltaLog internals."""
        return _jvm.snapshot_at(self._delta_log(table), table, version)

    def _raw_files(self, table: TableRef, version: int | None) -> list[dict[str, Any]]:
        """The add actions of the version (remembered per version: they never change)."""
        return _jvm.snapshot_files(
            self.spark, table, self._jvm_snapshot(table, version), self._files
        )

    # -- port ------------------------------------------------------------------------------
    def exists(self, table: TableRef) -> bool:
        """True when the catalog knows the table."""
        parts = [table.lakehouse] if table.lakehouse else []
        with _translate(table, "exists"):
            found = bool(self.spark.catalog.tableExists(".".join([*parts, table.name])))
        if not found:
            self._locations.pop(table.quoted.lower(), None)
        return found

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
        """Create the schema and the table if missing; True when this call created the table."""
        statement = create_table_statement(table, columns, properties, partition_by, comment)
        if self.exists(table):  # the common case (ensure on every connect): one catalog lookup
            return False
        self._sql(table, "create schema", create_schema_statement(table))
        self._locations.pop(table.quoted.lower(), None)
        with self._conf(self._metadata(commit)):
            self._sql(table, "create", statement)
        return True

    def location(self, table: TableRef) -> str:
        """The table's storage location: the session catalog's (a metadata lookup, ~1 ms, always
        current), else ``DESCRIBE DETAIL`` ``location`` (reads the log; looked up once)."""
        if not table.lakehouse:  # the session catalog names schema.table; 3-part names below
            with contextlib.suppress(Exception):
                state = self.spark._jsparkSession.sessionState()
                ident = state.sqlParser().parseTableIdentifier(table.quoted)
                return str(state.catalog().getTableMetadata(ident).location())
        key = table.quoted.lower()
        if key not in self._locations:
            self._locations[key] = str(self._detail(table)["location"])
        return self._locations[key]

    def add_columns(
        self, table: TableRef, columns: Sequence[Column], *, commit: CommitOptions | None = None
    ) -> None:
        """Add nullable columns (``ALTER TABLE ... ADD COLUMNS``)."""
        statement = add_columns_statement(table, columns)
        with self._conf(self._metadata(commit)):
            self._sql(table, "add columns", statement)

    def version(self, table: TableRef) -> int:
        """The current version: the JVM ``DeltaLog`` snapshot (a log listing, no Spark job), or
        ``DESCRIBE HISTORY ... LIMIT 1`` where that internal API is unavailable."""
        snap = self._latest_jvm_snapshot(table)
        if snap is not None:
            return int(snap.version())
        return int(self._sql(table, "version", describe_history_statement(table, 1))[0]["version"])

    def _latest_jvm_snapshot(self, table: TableRef) -> Any | None:
        """The latest JVM snapshot, or None where the internals are missing or the log is empty
        (a table dropped behind this engine's back: the SQL route then names the error)."""
        try:
            snap = self._jvm_snapshot(table, None)
            with _translate(table, "read Delta log snapshot"):
                if int(snap.version()) >= 0:
                    return snap
        except _InternalApiMissing:
            return None
        self._locations.pop(table.quoted.lower(), None)
        return None

    def snapshot(self, table: TableRef, version: int | None = None) -> TableSnapshot:
        """Schema, protocol, partitioning, properties and commit time of a version.

        The latest version is read from the JVM Delta snapshot alone (one log state, no SQL
        statement: a checkpoint pins many tables with it). An older version is first opened
        through SQL (its exact schema from the versioned relation, so Delta's own time-travel
        checks apply, e.g. Delta 4.1+ refusing a version past
        ``delta.deletedFileRetentionDuration``), the rest from that version's JVM snapshot.
        Where those internals are unavailable, ``DESCRIBE DETAIL`` and ``DESCRIBE HISTORY``
        answer: then an older version's table features are the latest version's.
        """
        if version is None:
            snap = self._latest_jvm_snapshot(table)
            if snap is not None:
                try:
                    return _jvm.snapshot_from_jvm(table, snap)
                except Exception as exc:  # internals differ: the SQL route answers (and names
                    # any real error itself)
                    _log.debug("fmd spark: snapshot of %s through SQL: %s", table.name, exc)
        with _translate(table, "snapshot"):
            fields = self.spark.sql(select_statement(table, version) + " LIMIT 0").schema.fields
        columns = _frames.struct_columns(fields)
        if version is not None:
            try:
                found = _jvm.snapshot_from_jvm(table, self._jvm_snapshot(table, version))
                if found.version == version:
                    return found.model_copy(update={"columns": columns})
            except Exception as exc:  # internals differ: DESCRIBE DETAIL / HISTORY answer
                _log.debug(
                    "fmd spark: snapshot of %s v%s through SQL: %s", table.name, version, exc
                )
        detail = self._detail(table)
        entries = self.history(table, None if version is not None else 1)
        current = entries[0].version
        at = current if version is None else version
        ts = next((e.timestamp for e in entries if e.version == at), None)
        old = None
        if at != current:
            with contextlib.suppress(Exception):  # documented fallback: the latest's metadata
                old = _jvm.historical_metadata(self.spark, self._jvm_snapshot(table, at))
        return _frames.snapshot_from_detail(table, at, ts, columns, detail, old)

    def history(
        self, table: TableRef, limit: int | None = None, *, since_version: int | None = None
    ) -> list[HistoryEntry]:
        """Commits newest first (after ``since_version``: ``LIMIT`` the newer ones); parameters
        JSON-decoded, numeric metrics as ints."""
        from pyspark.sql import functions as F

        if since_version is not None:
            if not (limit := history_window(self.version(table), limit, since_version)):
                return []
        with _translate(table, "history"):
            df = self.spark.sql(describe_history_statement(table, limit))
            rows = df.withColumn("_fmd_ms", F.expr("unix_millis(timestamp)")).collect()
        return _frames.history_entries(rows)

    def count_rows(self, table: TableRef, version: int | None = None) -> RowCount:
        """``SELECT count(*)`` at the version.

        Delta answers ``count(*)`` from the log's file statistics when it can (its metadata-only
        query optimization). ``source`` is ``"stats"`` only when the optimized plan shows that
        happened (no relation left to scan); otherwise it is ``"scan"``.
        """
        text = f"SELECT count(*) AS n FROM {source_sql(TableAt(table=table, version=version))}"
        with _translate(table, "count rows"):
            df = self.spark.sql(text)
            total = int(df.collect()[0]["n"])
        return RowCount(total=total, source=_frames.count_source(df))

    def files(self, table: TableRef, version: int | None = None) -> list[DataFile]:
        """The add actions of the version (JVM ``Snapshot.allFiles``), with deletion vectors."""
        return _frames.data_files(self._raw_files(table, version))

    def missing_files(self, table: TableRef, version: int | None = None) -> list[str]:
        """Data / deletion-vector files of the version missing from storage (Hadoop FS)."""
        raws = self._raw_files(table, version)
        return _jvm.missing_from_storage(self.spark, table, self.location(table), raws)

    def read(
        self, table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
    ) -> Any:
        """The version's rows as a Spark DataFrame (lazy)."""
        with _translate(table, "read"):
            return self.spark.sql(select_statement(table, version, columns))

    def quote(self, identifier: str) -> str:
        """Backtick-quoted (Spark SQL) after validation."""
        return quote_identifier(identifier)

    def sql(
        self,
        query: str,
        sources: Mapping[str, SqlSource],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a read-only query; see `DeltaEngine.sql`. Returns a pyarrow Table.

        Raises:
            EngineError: parameters on Spark older than 3.5 (no Python-valued named parameters).
        """
        names = {bind_alias(a): source_sql(s) for a, s in sources.items()}
        text = query.format(**names)
        args: dict[str, Any] | None = None
        if params:
            text, args = bind_parameters(text, params)
            _session.check_parameters_supported(self.spark)
        with _translate(_statements.first_table(sources), "query"):
            return _frames.to_arrow(
                self.spark.sql(text, args=args) if args else self.spark.sql(text)
            )

    def _dataframe(self, table: TableRef, data: Any) -> Any:
        """The data of a write as a DataFrame (Arrow converted exactly)."""
        return _frames.to_dataframe(self.spark, table, data)

    def write(
        self,
        table: TableRef,
        data: Any,
        *,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        commit: CommitOptions | None = None,
    ) -> int:
        """Append/overwrite; ``txnAppId``/``txnVersion`` make a repeated write a no-op."""
        df = self._dataframe(table, data)
        existing = self.exists(table)
        if not existing:
            self._sql(table, "create schema", create_schema_statement(table))
        writer = _frames.delta_writer(df, mode, schema_mode, commit)
        # On an existing table the option wins over the session conf. A write that creates its
        # table (CTAS drops the option: Delta 3.2 to 4.2) or has no metadata of its own takes the
        # conf, which another thread may have set: it commits under the conf lock, conf set.
        own = existing and bool(commit and commit.metadata)
        guard = contextlib.nullcontext() if own else self._conf(self._metadata(commit))
        with guard, _translate(table, f"write ({mode})"):
            if existing:
                # saveAsTable(overwrite) on an existing table is a catalog REPLACE in Spark 3;
                # the path writer is Delta's own overwrite (schema checks, options honoured).
                writer.save(self.location(table))
            else:
                writer.saveAsTable(table.quoted)
        return self.version(table)

    # the keyed MERGE (`DeltaEngine.merge`): one persisted classification, then the changes
    merge = _merge.merge_method

    def update(
        self,
        table: TableRef,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        commit: CommitOptions | None = None,
    ) -> int:
        """``DeltaTable.update`` with Column expressions (values as literals, never SQL text).

        Returns ``numUpdatedRows`` of the UPDATE commit (0 when nothing was committed).
        """
        from delta.tables import DeltaTable
        from pyspark.sql import functions as F

        if not where or not values:
            raise ConfigError("update needs a `where` and a `set` column", table=table.name)
        with _translate(table, "update"):
            existing = set(self.spark.sql(select_statement(table) + " LIMIT 0").columns)
        condition = _frames.update_condition(table, where, values, existing)
        before = self.version(table)
        with self._conf(self._metadata(commit)), _translate(table, "update"):
            DeltaTable.forName(self.spark, table.quoted).update(
                condition=condition, set={c: F.lit(v) for c, v in values.items()}
            )
        last = self.history(table, 1)[0]
        if last.version == before or last.operation != "UPDATE":
            return 0
        return int(last.metrics.get("numUpdatedRows", 0))

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        """``RESTORE TABLE ... TO VERSION AS OF n`` with the commit metadata set for the call.

        Raises:
            EngineError: restoring to the current version (nothing to do).
        """
        statement = restore_statement(table, version)
        before = self.version(table)
        if version == before:
            raise EngineError(
                f"restore: table is already at version {version}",
                table=table.name,
                hint="nothing to restore; treat this table as a no-op",
            )
        with self._conf(self._metadata(commit)):
            rows = self._sql(table, f"restore to version {version}", statement)
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=self.version(table),
            metrics=_frames.restore_metrics(rows),
        )

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
        """VACUUM (dry run by default); a real run returns the files its dry run listed first.
        ``commit``: the metadata of the real run's ``VACUUM START`` / ``VACUUM END`` commits.

        ``enforce_retention=False`` sets ``spark.databricks.delta.retentionDurationCheck.enabled``
        to false for the call. Fabric does not honour that at session level: set it in the
        Environment (or workspace Spark settings) instead.

        From Delta 4.1, VACUUM ignores ``RETAIN n HOURS`` unless n is 0 and uses the table's
        ``delta.deletedFileRetentionDuration``: a request for another retention is refused
        rather than silently run with a different one (set the property first).

        Raises:
            EngineError: ``keep_versions`` given (Spark VACUUM cannot protect versions; the
                maintenance layer protects checkpoints through retention properties instead).
            RetentionError: retention below Delta's check while it is enforced, or (Delta 4.1+)
                a retention other than 0 that differs from the table's property.
        """
        if keep_versions:
            raise _errors.keep_versions_error(table)
        hours = _version(retention_hours, "retention_hours")
        if self.vacuum_reads_table_retention and hours != 0:
            table_hours = retention_hours_of(self.properties(table), DELETED_FILE_RETENTION)
            refusal = _errors.ignored_retention_error(table, hours, table_hours, self.delta_version)
            if refusal is not None:
                raise refusal
        location = self.location(table).rstrip("/") + "/"
        conf = {} if enforce_retention else {_RETENTION_CONF: "false"}
        with self._conf(conf | self._metadata(commit)):  # a dry run commits nothing
            rows = self._sql(table, "vacuum (dry run)", vacuum_statement(table, hours, True))
            paths = [str(r["path"]) for r in rows]
            size = _jvm.file_sizes(self.spark, paths)
            if not dry_run:
                self._sql(table, "vacuum", vacuum_statement(table, hours, False))
        files = sorted(p[len(location) :] if p.startswith(location) else p for p in paths)
        return VacuumResult(
            table=table.name,
            dry_run=dry_run,
            retention_hours=hours,
            files=tuple(files),
            bytes=size,
        )

    def optimize(
        self,
        table: TableRef,
        *,
        zorder_by: Sequence[str] = (),
        vorder: bool = False,
        commit: CommitOptions | None = None,
    ) -> OptimizeResult:
        """OPTIMIZE (+ ZORDER BY, + VORDER when requested and the runtime has it)."""
        cols = [validate_identifier(c, what="Z-ORDER column", table=table.name) for c in zorder_by]
        use_vorder = bool(vorder and self.vorder_supported)
        with self._conf(self._metadata(commit)):
            rows = self._sql(table, "optimize", optimize_statement(table, cols, use_vorder))
        return _frames.optimize_result(table, rows, cols, use_vorder)

    def properties(self, table: TableRef) -> dict[str, str]:
        """The table configuration of the current version (the JVM snapshot's metadata, else
        ``DESCRIBE DETAIL`` ``properties``).

        ``SHOW TBLPROPERTIES`` would add protocol entries (``delta.minReaderVersion``,
        ``delta.feature.*``) that are not table configuration; the delta-rs adapter has none.
        """
        snap = self._latest_jvm_snapshot(table)
        if snap is not None:  # the log state alone: no statement (RESTORE reads it twice)
            with contextlib.suppress(Exception):  # internals differ: DESCRIBE DETAIL answers
                return _jvm.configuration(snap)
        props = self._detail(table).get("properties") or {}
        return {k: str(v) for k, v in props.items() if v is not None}

    def set_properties(
        self,
        table: TableRef,
        properties: Mapping[str, str],
        *,
        commit: CommitOptions | None = None,
    ) -> None:
        """``ALTER TABLE ... SET TBLPROPERTIES`` (commit metadata set for the statement)."""
        statement = set_properties_statement(table, properties)
        with self._conf(self._metadata(commit)):
            self._sql(table, "set properties", statement)

    def create_log_checkpoint(self, table: TableRef, version: int | None = None) -> bool:
        """Write a Delta log checkpoint of ``version`` (default: the current one) through the
        JVM ``DeltaLog``.

        Nothing is written when that version already has one (a table re-pinned without a new
        commit): on Spark a log checkpoint is a job that rewrites the table's whole state. The
        snapshot checkpointed is the one a caller has just read (``files`` of the same
        version), so its state is not reconstructed again.

        Returns:
            True when the version has a log checkpoint; False if the internals are unavailable
            (or, for an older version than the current, do not take a snapshot).
        """
        try:
            log = self._delta_log(table)
            return _jvm.checkpoint_log(log, self._jvm_snapshot(table, version), table, version)
        except _InternalApiMissing:
            return False

    def transaction_version(self, table: TableRef, app_id: str) -> int | None:
        """The last ``txnVersion`` recorded for ``app_id``.

        Read from the JVM snapshot's ``transactions`` map; where that internal API is missing,
        from the ``txn`` actions of the ``_delta_log`` commit and checkpoint files (Spark reads).
        """
        try:
            snap = self._jvm_snapshot(table, None)
            with _translate(table, "transaction version"):
                found = snap.transactions().get(app_id)
                return int(found.get()) if found.isDefined() else None
        except _InternalApiMissing:
            return _jvm.log_transaction_version(self.spark, table, self.location(table), app_id)

    # -- frames: Arrow through `engine._arrow`, Spark DataFrames in `_frames` ---------------
    # frames are read the same way on every engine (Arrow, or a Spark DataFrame's own API)
    frame_columns = staticmethod(_port_frames.frame_columns)
    frame_max = staticmethod(_port_frames.frame_max)
    align_frame = staticmethod(_port_frames.align_frame)


__all__ = [
    "DELTA_SPARK_CONFLICTS",
    "SparkEngine",
    "add_columns_statement",
    "bind_parameters",
    "classify_error",
    "create_schema_statement",
    "create_table_statement",
    "describe_detail_statement",
    "describe_history_statement",
    "optimize_statement",
    "property_key",
    "restore_statement",
    "select_statement",
    "set_properties_statement",
    "source_sql",
    "sql_string",
    "vacuum_statement",
]
