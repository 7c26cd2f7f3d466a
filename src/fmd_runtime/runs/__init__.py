"""The run ledger: the idempotent re-run guard and exactly-once writes (``rt.runs``).

``metadata.EntityRuns`` holds one row per entity load attempt and outcome. Three guarantees:

- **Re-run guard**: `RunLedger.should_skip` is true when this run (or the batch the caller
  names, by default the pipeline run id) already completed the entity; the skip is audited as
  ``SkippedAlreadyProcessed``. `RunLedger.complete` is written only after the write succeeded.
- **Exactly-once appends**: `RunLedger.write` carries Delta's idempotent-transaction identity:
  app id ``fmd:<layer>:<entity>`` and a version above every one Delta's log and the ledger's
  completions have seen for it. Nothing is written before the write: a retry finds an attempt
  (run or batch, entity, layer, part) that already landed by its identity in the commits'
  metadata, so it never writes twice.
- **One ingestion-state commit per load**: the completion row is held (`IngestionState`) and
  the watermark commit joins it, so ledger and watermark take one commit; every row held during
  an activity is written in one commit when the outermost activity ends.
- **Recovery**: each write records ``fmd.runId``, ``fmd.entity`` and the proposed watermark
  (``fmd.watermark``) in the commit's user metadata; `RunLedger.landed` finds those commits
  (ignoring ones a RESTORE or a rollback undid) so `Watermarks.recover` can complete a watermark.

Example:
    >>> # if not rt.runs.should_skip("account", "bronze"):
    >>> #     rt.runs.write("account", "bronze.account", rows, layer="bronze", watermark=high)

- **Exactly-once merges with a circuit breaker**: `RunLedger.merge` upserts or applies a full
  snapshot by key (soft-deleting what is missing) under the same identity, and refuses before
  committing a merge that would delete or change implausibly many rows (``_breaker``).

- **A source circuit breaker** shared by every process of a run (``_circuit``): after repeated
  transient failures of one source its entities fail fast with `CircuitOpenError`
  (`check_source`, `should_skip` with ``source=``, activities naming a source), until one probe
  after the cooldown closes it again (docs/circuit-breaker.md).

The work is done in private modules: ``_ledger`` (every read and append of ``EntityRuns``),
``_guard`` (`RunLedger.should_skip`, `complete`, `fail`), ``_state`` (the held rows), ``_write`` (the exactly-once attempt,
the write and the history scan), ``_merge`` (the merge), ``_breaker`` (the deletion circuit
breaker), ``_circuit`` / ``_circuit_rows`` (the source circuit breaker), ``_models`` (the results); each method below calls one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fmd_runtime.engine import MergeMode, SchemaMode, WriteMode
from fmd_runtime.runs import _guard, _ledger, _merge, _write
from fmd_runtime.runs._circuit import SourceBreaker
from fmd_runtime.runs._circuit_rows import CircuitSettings, CircuitState, derive_state
from fmd_runtime.runs._models import BreakerCheck, LandedCommit, MergeResult, Status, WriteResult
from fmd_runtime.runs._sources import SourceMethods
from fmd_runtime.runs._state import IngestionState

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class RunLedger(SourceMethods):
    """The run-guard capability (``rt.runs``): skip, complete, fail, exactly-once write, recovery;
    the source circuit breaker's methods come from `SourceMethods` (``_sources``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self.state = IngestionState(runtime)
        """The ledger rows this runtime holds for one commit (`IngestionState`)."""
        self.breaker = SourceBreaker(runtime)
        """The source circuit breaker (also the audit's gate for activities naming a source)."""

    def flush(self) -> int:
        """Write the ledger rows held for one commit now (see `IngestionState`); rows written.

        Raises:
            StoreError: the write failed; the rows stay held for the next flush.

        Example:
            >>> # rt.runs.flush()   # before handing over to a process that reads the ledger
        """
        return self.state.flush()

    # -- identity --------------------------------------------------------------------------
    @staticmethod
    def app_id(entity: str, layer: str) -> str:
        """The Delta idempotent-write app id of an entity's loads into a layer.

        Example:
            >>> RunLedger.app_id("account", "bronze")
            'fmd:bronze:account'
        """
        return _write.app_id(entity, layer)

    def entries(self, entity: str | None = None, layer: str | None = None) -> list[dict[str, Any]]:
        """Ledger rows (oldest first), optionally for one entity and layer."""
        return _ledger.entries(self._rt, entity, layer)

    # -- guard -----------------------------------------------------------------------------
    def should_skip(
        self,
        entity: str,
        layer: str,
        *,
        batch_id: str | None = None,
        force: bool = False,
        part: str | None = None,
        source: str | None = None,
    ) -> bool:
        """True when this run (or batch) already completed ``entity`` in ``layer``; audited.

        Args:
            entity: the entity id.
            layer: the layer (landing, bronze, silver ...).
            batch_id: the batch that counts as "this run" (default: the pipeline run id), so a
                re-run under a new run id but the same batch skips what the first run finished.
            force: re-process anyway (audited as ``ForcedReprocess``).
            part: the slice of a chunked load.
            source: the source the entity is loaded from: when it is not already loaded, its
                circuit breaker is checked (`check_source`).

        Returns:
            True to skip. A skip is audited as ``SkippedAlreadyProcessed`` (status Skipped).

        Raises:
            ConfigError: ``force`` is not a boolean (a bool or "true"/"false"/"1"/"0").
            CircuitOpenError: ``source``'s circuit is open (audited ``CircuitOpen``).

        Example:
            >>> # if rt.runs.should_skip("account", "bronze"): continue
        """
        skip = _guard.should_skip(
            self._rt, entity, layer, batch_id=batch_id, force=force, part=part
        )
        if not skip and source is not None:
            self.breaker.check(source, entity=entity, layer=layer)
        return skip

    def complete(
        self,
        entity: str,
        layer: str,
        *,
        table: str,
        version: int | None,
        rows_written: int | None = None,
        batch_id: str | None = None,
        watermark: str | None = None,
        part: str | None = None,
        txn_app_id: str | None = None,
        txn_version: int | None = None,
    ) -> dict[str, Any]:
        """Record that ``entity`` was loaded: call only after its write succeeded.

        Args:
            entity / layer: what was loaded.
            table: the target table.
            version: the table version written.
            rows_written: rows written.
            batch_id: the batch (default: the pipeline run id).
            watermark: the watermark the load reached.
            part: the slice of a chunked load.
            txn_app_id / txn_version: the idempotent identity used (set by `write`).

        Returns:
            The ledger row written.

        Example:
            >>> # rt.runs.complete("account", "bronze", table="bronze.account", version=12)
        """
        return _guard.complete(
            self._rt,
            entity,
            layer,
            table=table,
            version=version,
            rows_written=rows_written,
            batch_id=batch_id,
            watermark=watermark,
            part=part,
            txn_app_id=txn_app_id,
            txn_version=txn_version,
        )

    def fail(
        self,
        entity: str,
        layer: str,
        *,
        table: str | None = None,
        error: BaseException | str | None = None,
        batch_id: str | None = None,
        part: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Record a failed load of ``entity`` (the re-run will load it again).

        A transient ``error`` (an exception `fmd_runtime.retry.is_transient` accepts) also
        counts against the circuit breaker of ``source`` (default: the table's PipelineConfig
        ``SourceName``); the same exception leaving an activity naming the source is not
        counted twice.

        Example:
            >>> # rt.runs.fail("account", "bronze", table="bronze.account", error=exc, source="crm")
        """
        row = _guard.fail(
            self._rt, entity, layer, table=table, error=error, batch_id=batch_id, part=part
        )
        try:
            found = self.breaker.source_of(source, table) if self.breaker.enabled else None
        except Exception:  # noqa: BLE001 - an unreadable PipelineConfig: nothing to count
            found = None
        if found and isinstance(error, BaseException):
            self.breaker.record(found, error=error, entity=entity, layer=layer)
        return row

    # -- exactly-once write ---------------------------------------------------------------
    def write(
        self,
        entity: str,
        table: str,
        data: Any,
        *,
        layer: str,
        batch_id: str | None = None,
        watermark: str | None = None,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        part: str | None = None,
    ) -> WriteResult:
        """Write an entity's data exactly once per run (or batch), then record it as complete.

        Args:
            entity: the entity id.
            table: the target table.
            data: a pyarrow Table (delta-rs) or a DataFrame (Spark).
            layer: the layer.
            batch_id: the batch (default: the pipeline run id); a retry under the same batch
                reuses the same transaction version, so Delta skips a write that already landed.
            watermark: the proposed new watermark (canonical text, e.g. from
                `fmd_runtime.watermarks.high_from`), recorded in the commit for recovery.
            mode: ``append`` or ``overwrite``.
            schema_mode: ``merge`` when the drift policy allows new columns (see ``rt.drift``).
            part: the slice of a chunked load; each part of one run is its own exactly-once write.

        Returns:
            The `WriteResult` (``applied`` False when the load had already landed or completed).

        Raises:
            EngineError: the write failed (recorded with `fail`; re-run to retry safely).

        Example:
            >>> # res = rt.runs.write("account", "bronze.account", rows, layer="bronze", watermark=high)
        """
        return _write.write(
            self._rt,
            entity,
            table,
            data,
            layer=layer,
            batch_id=batch_id,
            watermark=watermark,
            mode=mode,
            schema_mode=schema_mode,
            part=part,
        )

    def merge(
        self,
        entity: str,
        table: str,
        data: Any,
        *,
        layer: str,
        keys: Sequence[str] | str | None = None,
        mode: MergeMode = "upsert",
        watermark: str | None = None,
        batch_id: str | None = None,
        part: str | None = None,
        compare: Sequence[str] | str | None = None,
        override_reason: str | None = None,
    ) -> MergeResult:
        """MERGE an entity's data into a table by key, exactly once per run (or batch), stopped
        before committing when its counts are implausible.

        ``upsert`` inserts new keys and updates changed rows (a compared column differs,
        null-safely; unchanged rows are not rewritten), never deletes. ``snapshot`` treats the
        data as the whole source: active rows whose key is missing are soft-deleted (the
        deleted flag set, the row kept), soft-deleted rows whose key comes back are
        re-activated, purged rows stay purged. Keys and tracking columns come from the table's
        PipelineConfig row; the key is checked for nulls and duplicates in the data first. A
        missing table is created from the data (plus the tracking columns).

        Before committing, the deletion circuit breaker compares the counts with the table's
        limits (``max_delete_share``, default 10% of the active rows newly deleted;
        ``max_change_ratio``, default 3x the usual change volume of its recent merges or
        checkpoints): above either, nothing is committed, the refusal is audited
        (``MergeRefused``) and alerted (HIGH), and `DeletionLimitError` says the numbers.

        A retry of the same attempt (run or batch, entity, layer, part) is a no-op: the same
        Delta idempotent-transaction identity and ledger as `write`, and the commit carries the
        same ``fmd.*`` metadata (plus ``fmd.merge``: the counts), so watermark recovery works.

        Args:
            entity: the entity id.
            table: the target table.
            data: a pyarrow Table (delta-rs) or a DataFrame (Spark).
            layer: the layer (``silver`` ...).
            keys: the key columns (default: PipelineConfig ``PrimaryKey``; must agree with it).
            mode: ``upsert`` or ``snapshot`` (snapshot needs ``deleted_flag`` configured).
            watermark: the proposed new watermark, recorded in the commit for recovery.
            batch_id: the batch (default: the pipeline run id).
            part: the slice of a chunked load.
            compare: the columns compared (default: PipelineConfig ``CompareColumns``, else
                every data column that is not a key).
            override_reason: commit even when the breaker trips (audited ``MergeOverride``
                with this reason).

        Returns:
            The `MergeResult`: counts (inserted, updated, deleted, reactivated, unchanged,
            purged), the breaker's measurement, the version; ``applied`` False for a retry.

        Raises:
            DeletionLimitError: the circuit breaker refused the merge (nothing committed).
            ContractViolation: null or duplicated keys in the data (a sample named), or a
                key / compared column missing from it; an invalid override reason.
            ConfigError: no key, an unknown mode, a snapshot without a deleted flag, or a data
                column the table lacks (apply the drift policy first).
            EngineError: the merge failed (recorded with `fail`; re-run to retry safely).

        Example:
            >>> # rt.runs.merge("account", "silver.account", rows, layer="silver", mode="snapshot")
        """
        return _merge.merge(
            self._rt,
            entity,
            table,
            data,
            keys=keys,
            layer=layer,
            mode=mode,
            watermark=watermark,
            batch_id=batch_id,
            part=part,
            compare=compare,
            override_reason=override_reason,
        )

    # -- history ---------------------------------------------------------------------------
    def landed(
        self,
        table: str,
        entity: str,
        *,
        layer: str | None = None,
        limit: int = 200,
        since_version: int | None = None,
    ) -> list[LandedCommit]:
        """Commits `write` made for ``entity`` in ``table`` (newest first, within ``limit`` commits).

        Args:
            table / entity / layer: what to look for.
            limit: how many of the newest commits to read.
            since_version: only commits after this version (e.g. the last committed watermark's);
                nothing is read when the table has not moved since.

        Example:
            >>> # [c.version for c in rt.runs.landed("bronze.account", "account") if not c.undone]
        """
        return _write.landed(
            self._rt, table, entity, layer=layer, limit=limit, since_version=since_version
        )

    def last_load(
        self, table: str, *, at_version: int | None = None, limit: int = 100
    ) -> LandedCommit | None:
        """The last load `write` made to ``table`` that the current version still reflects
        (``at_version``: the last at or before that version).

        Read from the newest ``limit`` commits' metadata: a load a later RESTORE went back
        before, or whose run a rollback invalidated, no longer counts. None when the table has
        no such load in those commits (or does not exist).

        Args:
            table: the table.
            at_version: only loads at or before this version (default: any).
            limit: how many of the newest commits to read (1 to 10,000).

        Raises:
            ConfigError: ``limit`` outside 1 to 10,000.

        Example:
            >>> # (c.batch_id, c.version) if (c := rt.runs.last_load("bronze.account")) else None
        """
        return _write.last_load(self._rt, table, at_version=at_version, limit=limit)

    def in_flight(self, batch_id: str, tables: Sequence[str]) -> list[dict[str, Any]]:
        """The loads of a batch into ``tables`` that started and neither completed nor failed.

        A load writes nothing before its data commit, so a load in flight is seen through its
        audited activity: an activity of the pipeline run ``batch_id`` (in another run than
        this one) that names one of the tables and whose Start has no End / Fail / Skip yet.
        The outermost activity's Start is written at once, so wrap each entity's load in
        ``rt.audit.activity(..., entity=..., table=...)`` (one notebook per entity, as a
        pipeline ForEach runs them, makes every load visible; the inner activities of a
        notebook that loads many entities are written when it ends). Ledger rows ``Started``
        without an outcome (written before the write by earlier versions) count too.

        Args:
            batch_id: the batch (a pipeline run id, or the caller's batch id).
            tables: ``schema.table`` names (case-insensitive).

        Returns:
            One ledger-like row per load in flight (SchemaName, TableName, RunId, EntityId,
            EventTime, Status ``Started``; ``Origin`` ``audit`` for an open activity).

        Example:
            >>> # [r["TableName"] for r in rt.runs.in_flight(rt.context.pipeline_run_id, names)]
        """
        return _ledger.in_flight(self._rt, batch_id, tables)

    def batch_loads(self, batch_id: str, tables: Sequence[str]) -> dict[str, int]:
        """The newest version each of ``tables`` got from a completed, live load of a batch.

        Args:
            batch_id: the batch.
            tables: ``schema.table`` names (case-insensitive).

        Returns:
            Lower-case ``schema.table`` -> version; tables the batch did not load are left out.

        Example:
            >>> # rt.runs.batch_loads(rt.context.pipeline_run_id, ["bronze.account"])
        """
        return _ledger.batch_loads(self._rt, batch_id, tables)

    def loaded_tables(self, tables: Sequence[str]) -> set[str]:
        """The lower-case ``schema.table`` names of ``tables`` with any load in the ledger (one
        read): only their history can hold a library load (`last_load`)."""
        return _ledger.loaded_tables(self._rt, tables)

    def record_landed(
        self,
        entity: str,
        landed: LandedCommit,
        *,
        table: str,
        watermark: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Complete the ledger for a load found landed in history (used by watermark recovery).

        Args:
            entity: the entity.
            landed: the commit found.
            table: its table.
            watermark: the watermark columns to record on the same row (``WatermarkEvent``
                ``Recover``, ``WatermarkKind``, ``WatermarkValue``, ``PreviousWatermark``, and
                ``Reason``): ledger and watermark in one commit.

        Returns:
            The row recorded, or None when that run's load was already recorded as complete.

        Example:
            >>> # rt.runs.record_landed("account", landed, table="bronze.account")
        """
        return _ledger.record_landed(self._rt, entity, landed, table=table, watermark=watermark)

    def watermark_events(self, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The watermark advances recorded on ledger rows, as ``Watermarks`` events.

        A load's watermark commit is stored on its completion row (one commit for both);
        `fmd_runtime.watermarks` reads these beside the ``Watermarks`` table. Each dict has the
        ``Watermarks`` columns (``EventId`` is the row's ``EntryId``) and ``LedgerRow`` True.

        Args:
            where: ``Watermarks`` filters (EntityId, SchemaName, TableName, Operation).

        Returns:
            The events, oldest first (held rows of this runtime included).

        Example:
            >>> # [e["Value"] for e in rt.runs.watermark_events({"EntityId": "account"})]
        """
        return _ledger.watermark_events(self._rt, where)

    def version_times(self, table: str) -> dict[int, datetime]:
        """Commit time of every version in the table's history ({} when the table does not exist)."""
        return _ledger.version_times(self._rt, table)

    # -- rollback --------------------------------------------------------------------------
    def invalidate_after(
        self, table: str, after: datetime, *, by_run_id: str
    ) -> list[dict[str, Any]]:
        """Mark the completed loads of ``table`` that landed after ``after`` as Invalidated.

        A row that records its table version is dated by that version's commit time; others by
        their event time. Afterwards `should_skip` is False for those loads, and the next `write`
        takes a transaction version above anything Delta's log has seen for the app id (RESTORE
        does not rewind transaction identifiers).

        Args:
            table: the restored table.
            after: the point it was restored to (naive = UTC).
            by_run_id: the rollback run.

        Returns:
            The invalidated rows (entity, layer, run_id, batch_id, status, table_version, ...).

        Example:
            >>> # rt.runs.invalidate_after("bronze.account", ckpt_time, by_run_id=rt.context.run_id)
        """
        return _ledger.invalidate_after(self._rt, table, after, by_run_id=by_run_id)


__all__ = [
    "BreakerCheck",
    "CircuitSettings",
    "CircuitState",
    "IngestionState",
    "LandedCommit",
    "MergeResult",
    "RunLedger",
    "SourceBreaker",
    "SourceMethods",
    "Status",
    "WriteResult",
    "derive_state",
]
