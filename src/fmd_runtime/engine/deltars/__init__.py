"""The embedded engine: delta-rs (``deltalake``) on a lakehouse folder laid out like OneLake.

Tables live at ``<root>/Tables/<schema>/<table>`` (``/lakehouse/default`` in a Fabric Python
notebook). Reads go through delta-rs' DataFusion `QueryBuilder`, never pyarrow's dataset scanner:
that path refuses deletion-vector tables and can abort the interpreter at exit (DESIGN.md, known
hazards).

The facade (`DeltaRsEngine`) over ``_errors`` (translation), ``_features`` (releases, table
features), ``_log`` (the ``_delta_log`` where delta-rs falls short), ``_convert`` (answers ->
port values, frames) and ``_sql`` (DataFusion parameters).

Example:
    >>> import tempfile
    >>> from fmd_runtime.engine import Column
    >>> from fmd_runtime.tables import TableRef
    >>> eng = DeltaRsEngine(tempfile.mkdtemp())
    >>> eng.create(TableRef.parse("bronze.t"), [Column(name="id", type="bigint")])
    True
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine import (
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
    _frames,
    arrow_schema,
    bind_alias,
    history_window,
)
from fmd_runtime.engine._deltalog import deletion_vector_file
from fmd_runtime.engine.deltars import _convert, _errors, _log, _merge, _sql
from fmd_runtime.engine.deltars._features import (
    DV_RESTORE_DELTALAKE,
    FIX,
    MIN_DELTALAKE,
    WRITABLE_FEATURES,
    YANKED_DELTALAKE,
    deltalake_version_problem,
    installed_deltalake,
    parse_version,
    protocol_feature_name,
    unsupported_features,
)
from fmd_runtime.engine.deltars._log import commit_file_problem
from fmd_runtime.engine.deltars._sql import sql_literal
from fmd_runtime.errors import ConfigError, EngineError, TableNotFoundError
from fmd_runtime.tables import TableRef, validate_identifier


class DeltaRsEngine:
    """`DeltaEngine` adapter over delta-rs.

    Args:
        root: the lakehouse root folder (or object-store URL) holding ``Tables/``.
        storage_options: delta-rs storage options for object stores (never logged).
    """

    name = "deltars"
    supports_keep_versions = True
    vacuum_reads_table_retention = False
    """delta-rs VACUUM honours the retention it is given."""
    writable_features = WRITABLE_FEATURES
    """Writer features this engine commits to (`fmd_runtime.engine.unwritable_features`)."""

    def __init__(
        self, root: str | Path, *, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.deltalake_version = installed_deltalake()
        problem = deltalake_version_problem(self.deltalake_version)
        if problem:
            raise ConfigError(
                f"the embedded engine cannot run here: {problem}",
                hint=FIX + "; or use a Spark notebook (connect(spark=spark))",
            )
        self.root = str(root)
        self._storage = dict(storage_options) if storage_options else None
        self._local = "://" not in self.root
        # delta-rs has no per-table write lock inside one process; keep our own writers orderly
        # so concurrent appends from threads retry less (delta-rs still resolves real conflicts).
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def location(self, table: TableRef) -> str:
        """The table folder under the lakehouse root (``<root>/Tables/<schema>/<table>``)."""
        return self.path(table)

    def path(self, table: TableRef) -> str:
        """The table's folder (``<root>/Tables/<schema>/<table>``)."""
        return table.path(self.root)

    @property
    def engine_label(self) -> str:
        """The engine as errors name it: ``delta-rs (deltalake 1.6.6)``."""
        return f"delta-rs (deltalake {self.deltalake_version})"

    @property
    def versions(self) -> dict[str, str]:
        """The library behind this engine and its version: ``{"deltalake": "1.6.6"}``."""
        return {"deltalake": self.deltalake_version}

    def _find_corrupt_commit(self, table: TableRef) -> tuple[str, str] | None:
        """The first commit file that is empty or does not parse as JSON lines, and why."""
        try:
            fs, root = self._log_fs(table)
        except Exception:  # locating the file is a courtesy: the error is raised without it
            return None
        return _log.find_corrupt_commit(fs, root)

    def _lock(self, table: TableRef) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(table.name.lower(), threading.Lock())

    def _translate(self, table: TableRef | None, operation: str) -> Any:
        """Translate delta-rs / pyarrow / OS errors into the FmdError tree (a context manager)."""
        return _errors.translate(
            table,
            operation,
            location=self.path(table) if table else self.root,
            engine_label=self.engine_label,
            find_corrupt=lambda: self._find_corrupt_commit(table) if table else None,
        )

    def _dt(self, table: TableRef, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        path = self.path(table)
        if self._local and not DeltaTable.is_deltatable(path):
            raise TableNotFoundError(
                f"no Delta table at {path}",
                table=table.name,
                hint="check the name and the lakehouse root, or create the table first",
            )
        with self._translate(table, "open"):
            if version is None:
                dt = DeltaTable(path, storage_options=self._storage)
            else:
                dt = DeltaTable(path, version=version, storage_options=self._storage)
        if self._local:
            empty = _log.empty_commit(path, int(dt.version()))
            if empty:
                raise _errors.corrupt_log_error(table, "open", "", (empty, "the file is empty"))
        return dt

    _commit = staticmethod(_convert.commit_properties)

    _add_actions = staticmethod(_convert.add_actions)

    def _deletion_vectors(self, table: TableRef, dt: Any) -> dict[str, dict[str, Any]]:
        """The deletion-vector descriptor of each current file (``path -> descriptor``).

        delta-rs' add actions leave the descriptor out, so a table Spark wrote with deletion
        vectors would look DV-free (wrong manifests, DV files missing from VACUUM keep-sets).
        The descriptors come from the log itself (`_replay`). Only called for tables whose
        protocol has the ``deletionVectors`` feature.
        """
        fs, root = self._log_fs(table)
        return _log.replay(fs, root, table, int(dt.version()))[1]

    def _log_fs(self, table: TableRef) -> tuple[Any, str]:
        return _log.log_fs(self.path(table), self._local)

    # -- port ------------------------------------------------------------------------------
    def exists(self, table: TableRef) -> bool:
        """True when a Delta table exists at the table's folder."""
        from deltalake import DeltaTable

        with self._translate(table, "exists"):
            return bool(DeltaTable.is_deltatable(self.path(table), storage_options=self._storage))

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
        """Create the table if missing; True when this call created it."""
        from deltalake import DeltaTable

        if self.exists(table):
            return False
        for col in partition_by:
            validate_identifier(col, what="partition column", table=table.name)
        with self._translate(table, "create"), self._lock(table):
            if self.exists(table):
                return False
            if self._local:
                Path(self.path(table)).mkdir(parents=True, exist_ok=True)
            DeltaTable.create(
                self.path(table),
                arrow_schema(columns),
                mode="ignore",
                partition_by=list(partition_by) or None,
                name=table.table,
                description=comment,
                configuration=dict(properties) if properties else None,
                storage_options=self._storage,
                commit_properties=self._commit(commit),
            )
        return True

    def add_columns(
        self, table: TableRef, columns: Sequence[Column], *, commit: CommitOptions | None = None
    ) -> None:
        """Add nullable columns (delta-rs ``alter.add_columns``)."""
        fields = _convert.nullable_fields(columns)
        dt = self._dt(table)
        with self._translate(table, "add columns"), self._lock(table):
            dt.alter.add_columns(fields, commit_properties=self._commit(commit))

    def version(self, table: TableRef) -> int:
        """The current version."""
        dt = self._dt(table)
        return int(dt.version())

    def snapshot(self, table: TableRef, version: int | None = None) -> TableSnapshot:
        """Schema, protocol, partitioning and properties of a version."""
        dt = self._dt(table, version)
        with self._translate(table, "snapshot"):
            columns = _convert.schema_columns(dt.schema().fields)
            meta, proto = dt.metadata(), dt.protocol()
            hist = dt.history(1) if version is None else []
            ts = (
                _convert._utc(hist[0]["timestamp"])
                if hist
                else self._version_timestamp(table, dt.version())
            )
            return _convert.table_snapshot(table, int(dt.version()), ts, columns, meta, proto)

    def _version_timestamp(self, table: TableRef, version: int) -> datetime | None:
        # History is newest first: read only the commits from the latest down to `version`.
        latest = self.version(table)
        for entry in self.history(table, limit=max(1, latest - version + 1)):
            if entry.version == version:
                return entry.timestamp
        return None

    def history(
        self, table: TableRef, limit: int | None = None, *, since_version: int | None = None
    ) -> list[HistoryEntry]:
        """Commits newest first, with user commit metadata separated out; after
        ``since_version`` only (the loaded table's version bounds the read: no second load)."""
        dt = self._dt(table)
        if since_version is not None:
            limit = history_window(int(dt.version()), limit, since_version)
            if limit == 0:
                return []
        with self._translate(table, "history"):
            records = dt.history(limit)
        return _convert.history_entries(records)

    def count_rows(self, table: TableRef, version: int | None = None) -> RowCount:
        """Rows from the add actions' ``numRecords`` (less deletion-vector cardinality); scan if absent."""
        dt = self._dt(table, version)
        with self._translate(table, "count rows"):
            actions = self._add_actions(dt)
        total = 0
        for a in actions:
            n = a.get("num_records")
            if n is None:
                return RowCount(total=self._scan_count(table, version), source="scan")
            card = a.get("deletionVector.cardinality")
            total += int(n) - int(card or 0)
        return RowCount(total=total, source="stats")

    def _scan_count(self, table: TableRef, version: int | None) -> int:
        res = self.sql(
            "SELECT count(*) AS n FROM {t}", {"t": TableAt(table=table, version=version)}
        )
        return int(res.column("n")[0].as_py())

    def files(self, table: TableRef, version: int | None = None) -> list[DataFile]:
        """The add actions of the version, with deletion-vector ids and file paths."""
        dt = self._dt(table, version)
        with self._translate(table, "list files"):
            actions = self._add_actions(dt)
            has_dv = "deletionVectors" in (dt.protocol().reader_features or [])
            dvs = self._deletion_vectors(table, dt) if has_dv else {}
        return _convert.data_files(actions, dvs)

    def missing_files(self, table: TableRef, version: int | None = None) -> list[str]:
        """Data / deletion-vector files of the version that no longer exist in storage."""
        needed: list[str] = []
        for f in self.files(table, version):
            needed.append(f.path)
            if f.deletion_vector_path:
                needed.append(f.deletion_vector_path)
        return _log.missing_paths(self.path(table), needed, local=self._local)

    def read(
        self, table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
    ) -> Any:
        """The version's rows as a pyarrow Table (through DataFusion, deletion vectors applied)."""
        cols = ", ".join(self.quote(c) for c in columns) if columns else "*"
        return self.sql(f"SELECT {cols} FROM {{t}}", {"t": TableAt(table=table, version=version)})

    def quote(self, identifier: str) -> str:
        """Double-quoted (DataFusion) after validation."""
        return '"' + validate_identifier(identifier) + '"'

    def sql(
        self,
        query: str,
        sources: Mapping[str, SqlSource],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a read-only DataFusion query; see `DeltaEngine.sql`."""
        import pyarrow as pa
        from deltalake import QueryBuilder

        qb = QueryBuilder()
        names: dict[str, str] = {}
        for alias, src in sources.items():
            bind_alias(alias)
            at = src if isinstance(src, TableAt) else TableAt(table=TableRef.parse(src))
            registered = f"fmd_{alias}_{uuid.uuid4().hex[:8]}"
            qb.register(registered, self._dt(at.table, at.version))
            names[alias] = f'"{registered}"'
        text = query.format(**names)
        if params:
            text = _sql.bind_parameters(text, params)
        first = next(iter(sources.values()), None)
        table = (
            first.table
            if isinstance(first, TableAt)
            else (first if isinstance(first, TableRef) else None)
        )
        with self._translate(table, "query"):
            return pa.table(qb.execute(text))

    def write(
        self,
        table: TableRef,
        data: Any,
        *,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        commit: CommitOptions | None = None,
    ) -> int:
        """Append/overwrite Arrow data; a write whose (app_id, app_version) was already applied is skipped."""
        from deltalake import write_deltalake

        with self._translate(table, f"write ({mode})"), self._lock(table):
            if (
                commit
                and commit.app_id is not None
                and commit.app_version is not None
                and self.exists(table)
            ):
                seen = self._dt(table).transaction_version(commit.app_id)
                if seen is not None and seen >= commit.app_version:
                    return self.version(table)  # idempotent: this write already landed
            if self._local:
                Path(self.path(table)).mkdir(parents=True, exist_ok=True)
            write_deltalake(
                self.path(table),
                data,
                mode=mode,
                schema_mode=schema_mode,
                storage_options=self._storage,
                commit_properties=self._commit(commit),
            )
            return self.version(table)

    # the keyed MERGE (`DeltaEngine.merge`): an Arrow hash join, then the changed rows
    merge = _merge.merge_method

    def update(
        self,
        table: TableRef,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        commit: CommitOptions | None = None,
    ) -> int:
        """Update matching rows through a MERGE whose source carries the values (no SQL literals)."""
        if not where or not values:
            raise ConfigError(
                "update needs at least one `where` column and one `set` column", table=table.name
            )
        snap = self.snapshot(table)
        types = {c.name: c.type for c in snap.columns}
        for col in [*where, *values]:
            if col not in types:
                raise ConfigError(f"column {col!r} does not exist", table=table.name)
        source, predicate, updates = _convert.update_source(table, where, values, types)
        dt = self._dt(table)
        with self._translate(table, "update"), self._lock(table):
            metrics = (
                dt.merge(
                    source,
                    predicate,
                    source_alias="s",
                    target_alias="t",
                    commit_properties=self._commit(commit),
                )
                .when_matched_update(updates)
                .execute()
            )
        return int(metrics.get("num_target_rows_updated", 0))

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        """RESTORE to ``version``, then prove the new version's files equal the target's.

        Raises:
            EngineError: restoring to the current version, or a restore that did not take effect
                (delta-rs has committed no-op restores on deletion-vector tables).
        """
        dt = self._dt(table)
        before = int(dt.version())
        if version == before:
            raise EngineError(
                f"restore: table is already at version {version}",
                table=table.name,
                hint="nothing to restore; treat this table as a no-op",
            )
        if parse_version(self.deltalake_version) < DV_RESTORE_DELTALAKE:
            uses_dv = any(
                "deletionVectors" in self.snapshot(table, v).protocol.reader_features
                for v in (before, version)
            )
            if uses_dv:
                raise _errors.dv_restore_error(table, self.deltalake_version)
        with self._translate(table, f"restore to version {version}"), self._lock(table):
            metrics = dt.restore(version, commit_properties=self._commit(commit))
        after = self.version(table)
        expected = {(f.path, f.deletion_vector) for f in self.files(table, version)}
        actual = {(f.path, f.deletion_vector) for f in self.files(table, after)}
        if expected != actual:
            raise _errors.restore_mismatch_error(table, version, after, expected, actual)
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=after,
            metrics=dict(metrics),
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
        """VACUUM (dry run by default); ``keep_versions`` protects the files of those versions;
        ``commit`` metadata goes into the real run's ``VACUUM START`` / ``VACUUM END`` commits."""
        dt = self._dt(table)
        kwargs: dict[str, Any] = {
            "retention_hours": int(retention_hours),
            "enforce_retention_duration": enforce_retention,
            "keep_versions": sorted(set(keep_versions)) or None,
        }
        with self._translate(table, "vacuum"):
            candidates = dt.vacuum(dry_run=True, **kwargs)
            size = _convert.local_size(self.path(table), candidates) if self._local else None
            files = (
                candidates
                if dry_run
                else dt.vacuum(dry_run=False, commit_properties=self._commit(commit), **kwargs)
            )
        return VacuumResult(
            table=table.name,
            dry_run=dry_run,
            retention_hours=int(retention_hours),
            files=tuple(sorted(unquote(f) for f in files)),
            bytes=size,
            keep_versions=tuple(sorted(set(keep_versions))),
        )

    def optimize(
        self,
        table: TableRef,
        *,
        zorder_by: Sequence[str] = (),
        vorder: bool = False,
        commit: CommitOptions | None = None,
    ) -> OptimizeResult:
        """Compaction, or Z-ORDER by the given columns; V-Order does not exist on delta-rs."""
        cols = [validate_identifier(c, what="Z-ORDER column", table=table.name) for c in zorder_by]
        dt = self._dt(table)
        with self._translate(table, "optimize"), self._lock(table):
            if cols:
                metrics = dt.optimize.z_order(cols, commit_properties=self._commit(commit))
            else:
                metrics = dt.optimize.compact(commit_properties=self._commit(commit))
        return OptimizeResult(
            table=table.name,
            files_added=int(metrics.get("numFilesAdded", 0)),
            files_removed=int(metrics.get("numFilesRemoved", 0)),
            zorder_by=tuple(cols),
            vorder=False,
            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
        )

    def properties(self, table: TableRef) -> dict[str, str]:
        """The table configuration (``delta.*`` and user properties)."""
        dt = self._dt(table)
        return {k: v for k, v in (dt.metadata().configuration or {}).items() if v is not None}

    def set_properties(
        self,
        table: TableRef,
        properties: Mapping[str, str],
        *,
        commit: CommitOptions | None = None,
    ) -> None:
        """Set table properties (one metadata commit)."""
        for key in properties:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
                raise ConfigError(f"table property key {key!r} is not valid", table=table.name)
        dt = self._dt(table)
        values = {k: str(v) for k, v in properties.items()}
        with self._translate(table, "set properties"), self._lock(table):
            if int(dt.protocol().min_writer_version) >= 7:
                _log.commit_properties_by_hand(
                    table, dt, values, commit, log=self._log_fs(table), local=self._local,
                    engine_label=self.engine_label, deltalake_version=self.deltalake_version,
                )  # fmt: skip
            else:
                dt.alter.set_table_properties(
                    values, raise_if_not_exists=False, commit_properties=self._commit(commit)
                )

    def create_log_checkpoint(self, table: TableRef, version: int | None = None) -> bool:
        """Write a Delta log checkpoint (parquet) at ``version`` (default: the current one).

        False (nothing written) for a table with writer features delta-rs does not support: a
        log checkpoint is a write to the table's log, and delta-rs does not know what such
        features require of one.
        """
        dt = self._dt(table, version)  # delta-rs checkpoints the version it has loaded
        if set(dt.protocol().writer_features or ()) - WRITABLE_FEATURES:
            return False
        with self._translate(table, "create log checkpoint"):
            dt.create_checkpoint()
        return True

    def transaction_version(self, table: TableRef, app_id: str) -> int | None:
        """The last ``txn`` version recorded for ``app_id``."""
        dt = self._dt(table)
        with self._translate(table, "transaction version"):
            v = dt.transaction_version(app_id)
        return None if v is None else int(v)

    # -- frames: Arrow data (`fmd_runtime.engine._arrow`) ---------------------------------------
    # frames are read the same way on every engine (Arrow, or a Spark DataFrame's own API)
    frame_columns = staticmethod(_frames.frame_columns)
    frame_max = staticmethod(_frames.frame_max)
    align_frame = staticmethod(_frames.align_frame)


__all__ = [
    "DV_RESTORE_DELTALAKE",
    "MIN_DELTALAKE",
    "WRITABLE_FEATURES",
    "YANKED_DELTALAKE",
    "DeltaRsEngine",
    "commit_file_problem",
    "deletion_vector_file",
    "deltalake_version_problem",
    "installed_deltalake",
    "parse_version",
    "protocol_feature_name",
    "sql_literal",
    "unsupported_features",
]
