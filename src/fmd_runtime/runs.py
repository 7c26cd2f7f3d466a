"""The run ledger: the idempotent re-run guard and exactly-once writes (``rt.runs``).

``metadata.EntityRuns`` holds one row per entity load attempt and outcome. Three guarantees:

- **Re-run guard**: `RunLedger.should_skip` is true when this run (or the batch the caller
  names, by default the pipeline run id) already completed the entity; the skip is audited as
  ``SkippedAlreadyProcessed``. `RunLedger.complete` is written only after the write succeeded.
- **Exactly-once appends**: `RunLedger.write` carries Delta's idempotent-transaction identity:
  app id ``fmd:<layer>:<entity>`` and a version from a per-entity sequence kept in the ledger.
  Fabric run ids are GUIDs, Delta wants an increasing integer: the first attempt of a (run or
  batch, entity, layer, part) allocates ``max(ledger, Delta log) + 1`` and records it in a
  ``Started`` row *before* writing, so every retry of that attempt reuses the same number and
  the engine skips a write that already landed.
- **Recovery**: each write records ``fmd.runId``, ``fmd.entity`` and the proposed watermark
  (``fmd.watermark``) in the commit's user metadata; `RunLedger.landed` finds those commits
  (ignoring ones a RESTORE or a rollback undid) so `Watermarks.recover` can complete a watermark.

Example:
    >>> # if not rt.runs.should_skip("account", "bronze"):
    >>> #     rt.runs.write("account", "bronze.account", rows, layer="bronze", watermark=high)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from fmd_runtime._base import as_utc
from fmd_runtime._entities import check_entity as _check_entity
from fmd_runtime._entities import is_live as _is_live
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.engine import CommitOptions, HistoryEntry, SchemaMode, WriteMode
from fmd_runtime.errors import ContractViolation
from fmd_runtime.redaction import redact
from fmd_runtime.store import to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

Status = Literal["Started", "Succeeded", "Failed"]


class WriteResult(BaseModel):
    """What `RunLedger.write` did.

    Attributes:
        applied: False when nothing was written because this load had already landed
            (a retry) or was already completed in this run/batch.
        version: the table version holding the load's data.
        txn_app_id / txn_version: the idempotent-write identity used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    layer: str
    table: str
    version: int | None
    applied: bool
    txn_app_id: str
    txn_version: int | None
    rows_written: int | None = None
    watermark: str | None = None
    run_id: str
    batch_id: str | None = None
    part: str | None = None


class LandedCommit(BaseModel):
    """A commit `RunLedger.write` made, found in a table's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    timestamp: datetime
    entity: str
    layer: str | None = None
    run_id: str | None = None
    batch_id: str | None = None
    part: str | None = None
    watermark: str | None = None
    txn_app_id: str | None = None
    txn_version: int | None = None
    undone: bool = False
    """True when a later RESTORE went back before it, or a rollback invalidated its run."""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise ContractViolation(
            f"{what} {value!r:.60} is not valid", hint=f"pass a non-empty {what}"
        )
    return value


def _opt_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _row_table(row: Mapping[str, Any]) -> str | None:
    """The lower-case ``schema.table`` a ledger row names (None when it names none)."""
    if not row.get("TableName"):
        return None
    return f"{row.get('SchemaName')}.{row['TableName']}".lower()


def _restored_to(entry: HistoryEntry) -> int:
    """The version a RESTORE went back to (-1 when unknown: treat everything before as undone)."""
    raw = entry.parameters.get("version")
    try:
        return int(raw) if raw is not None else -1
    except (TypeError, ValueError):
        return -1


class RunLedger:
    """The run-guard capability (``rt.runs``): skip, complete, fail, exactly-once write, recovery."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # -- identity --------------------------------------------------------------------------
    @staticmethod
    def app_id(entity: str, layer: str) -> str:
        """The Delta idempotent-write app id of an entity's loads into a layer.

        Example:
            >>> RunLedger.app_id("account", "bronze")
            'fmd:bronze:account'
        """
        return f"fmd:{layer}:{entity}"

    def _batch(self, batch_id: str | None) -> str | None:
        return _opt_text(batch_id, "batch id") or self._rt.context.pipeline_run_id

    def _read(self, **where: Any) -> list[dict[str, Any]]:
        rows = self._rt.store.read("EntityRuns", where)
        return sorted(rows, key=lambda r: as_utc(r["EventTime"]))

    def _mine(
        self, rows: Sequence[Mapping[str, Any]], batch: str | None, part: str | None
    ) -> list[dict[str, Any]]:
        """Live rows of this run, or of the batch when one is named, for this part."""
        run_id = self._rt.context.run_id
        return [
            dict(r)
            for r in rows
            if _is_live(r)
            and (r["RunId"] == run_id or (batch is not None and r.get("BatchId") == batch))
            and r.get("Part") == part
        ]

    def entries(self, entity: str | None = None, layer: str | None = None) -> list[dict[str, Any]]:
        """Ledger rows (oldest first), optionally for one entity and layer."""
        where = {k: v for k, v in {"EntityId": entity, "Layer": layer}.items() if v is not None}
        return self._read(**where)

    # -- guard -----------------------------------------------------------------------------
    def should_skip(
        self,
        entity: str,
        layer: str,
        *,
        batch_id: str | None = None,
        force: bool = False,
        part: str | None = None,
    ) -> bool:
        """True when this run (or batch) already completed ``entity`` in ``layer``; audited.

        Args:
            entity: the entity id.
            layer: the layer (landing, bronze, silver ...).
            batch_id: the batch that counts as "this run" (default: the pipeline run id), so a
                re-run under a new run id but the same batch skips what the first run finished.
            force: re-process anyway (audited as ``ForcedReprocess``).
            part: the slice of a chunked load.

        Returns:
            True to skip. A skip is audited as ``SkippedAlreadyProcessed`` (status Skipped).

        Raises:
            ConfigError: ``force`` is not a boolean (a bool or "true"/"false"/"1"/"0").

        Example:
            >>> # if rt.runs.should_skip("account", "bronze"): continue
        """
        force = strict_bool(force, "force")  # "false" from a pipeline is truthy in Python
        entity, layer = _check_entity(entity), _text(layer, "layer")
        batch = self._batch(batch_id)
        rows = self._read(EntityId=entity, Layer=layer, Status="Succeeded")
        done = self._mine(rows, batch, part)
        if not done:
            return False
        last = done[-1]
        table = f"{last['SchemaName']}.{last['TableName']}" if last.get("TableName") else None
        details = {
            "completed_by_run": last["RunId"],
            "batch_id": last.get("BatchId"),
            "table_version": last.get("TableVersion"),
            "completed_at": last["EventTime"],
            "part": part,
        }
        if force:
            self._rt.audit.event(
                "ForcedReprocess",
                "Info",
                entity=entity,
                layer=layer,
                table=table,
                severity="LOW",
                details=details,
            )
            return False
        self._rt.audit.event(
            "SkippedAlreadyProcessed",
            "Skipped",
            entity=entity,
            layer=layer,
            table=table,
            details=details,
        )
        return True

    def _append(self, status: Status, entity: str, layer: str, **values: Any) -> dict[str, Any]:
        table = values.pop("table", None)
        ref = self._rt.table(table) if table else None
        details = values.pop("details", None)
        row = {
            "EntryId": str(uuid.uuid4()),
            "RunId": values.pop("run_id", None) or self._rt.context.run_id,
            "EntityId": entity,
            "Layer": layer,
            "SchemaName": ref.schema_name if ref else None,
            "TableName": ref.table if ref else None,
            "Status": status,
            "EventTime": utcnow(),
            "Details": to_json(details) if details else None,
            **values,
        }
        self._rt.store.append("EntityRuns", [row])
        return row

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
        entity, layer = _check_entity(entity), _text(layer, "layer")
        row = self._append(
            "Succeeded",
            entity,
            layer,
            table=table,
            BatchId=self._batch(batch_id),
            TableVersion=version,
            RowsWritten=rows_written,
            WatermarkValue=watermark,
            Part=part,
            TxnAppId=txn_app_id,
            TxnVersion=txn_version,
        )
        self._rt.audit.event(
            "EntityCompleted",
            "Succeeded",
            entity=entity,
            layer=layer,
            table=table,
            rows_written=rows_written,
            details={
                "table_version": version,
                "watermark": watermark,
                "part": part,
                "txn_app_id": txn_app_id,
                "txn_version": txn_version,
            },
        )
        return row

    def fail(
        self,
        entity: str,
        layer: str,
        *,
        table: str | None = None,
        error: BaseException | str | None = None,
        batch_id: str | None = None,
        part: str | None = None,
    ) -> dict[str, Any]:
        """Record a failed load of ``entity`` (the re-run will load it again).

        Example:
            >>> # rt.runs.fail("account", "bronze", table="bronze.account", error=exc)
        """
        entity, layer = _check_entity(entity), _text(layer, "layer")
        summary = redact(str(error)) if error is not None else None
        row = self._append(
            "Failed",
            entity,
            layer,
            table=table,
            BatchId=self._batch(batch_id),
            Part=part,
            details={
                "error_type": type(error).__name__ if isinstance(error, BaseException) else None,
                "error": summary,
            },
        )
        self._rt.audit.event(
            "EntityFailed",
            "Failed",
            entity=entity,
            layer=layer,
            table=table,
            error=error,
            severity="HIGH",
            details={"part": part},
            flush=True,
        )
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
        entity, layer = _check_entity(entity), _text(layer, "layer")
        part = _opt_text(part, "part")
        ref = self._rt.table(table)
        if watermark is not None and not isinstance(watermark, str):
            raise ContractViolation(
                f"watermark must be canonical text, got {type(watermark).__name__}",
                entity=entity,
                hint="pass rt.watermarks.high_from(data, column, kind) or parse_watermark(value, kind)",
            )
        batch, app = self._batch(batch_id), self.app_id(entity, layer)
        common: dict[str, Any] = dict(
            entity=entity,
            layer=layer,
            table=ref.name,
            txn_app_id=app,
            run_id=self._rt.context.run_id,
            batch_id=batch,
            part=part,
        )
        rows = self._read(EntityId=entity, Layer=layer)
        mine = self._mine(rows, batch, part)
        done = [r for r in mine if r["Status"] == "Succeeded"]
        if done:
            self._rt.audit.event(
                "SkippedAlreadyProcessed",
                "Skipped",
                entity=entity,
                layer=layer,
                table=ref,
                details={
                    "completed_by_run": done[-1]["RunId"],
                    "table_version": done[-1].get("TableVersion"),
                },
            )
            return WriteResult(
                **common,
                version=done[-1].get("TableVersion"),
                applied=False,
                txn_version=done[-1].get("TxnVersion"),
                watermark=done[-1].get("WatermarkValue"),
            )
        seen = (
            self._rt.engine.transaction_version(ref, app) if self._rt.engine.exists(ref) else None
        )
        started = [
            r
            for r in mine
            if r["Status"] == "Started"
            and r.get("TxnAppId") == app
            and r.get("TxnVersion") is not None
        ]
        txn = int(started[-1]["TxnVersion"]) if started else None
        if txn is not None and seen is not None and seen >= txn:
            hit = next(
                iter(
                    self._scan(
                        ref,
                        None,
                        lambda md: (
                            md.get("fmd.appId") == app and md.get("fmd.txnVersion") == str(txn)
                        ),
                    )
                ),
                None,
            )
            if hit is not None and not hit.undone:  # this attempt landed before a crash
                self.complete(
                    entity,
                    layer,
                    table=ref.name,
                    version=hit.version,
                    batch_id=batch,
                    watermark=hit.watermark,
                    part=part,
                    txn_app_id=app,
                    txn_version=txn,
                )
                return WriteResult(
                    **common,
                    version=hit.version,
                    applied=False,
                    txn_version=txn,
                    watermark=hit.watermark,
                )
            txn = None  # undone by a restore, or used by someone else: take a fresh number
        if txn is None:
            used = [
                int(r["TxnVersion"])
                for r in rows
                if r.get("TxnAppId") == app and r.get("TxnVersion") is not None
            ]
            txn = max([*used, seen or 0]) + 1
            self._append(
                "Started",
                entity,
                layer,
                table=ref.name,
                BatchId=batch,
                TxnAppId=app,
                TxnVersion=txn,
                WatermarkValue=watermark,
                Part=part,
            )
        metadata = {
            "fmd.runId": self._rt.context.run_id,
            "fmd.entity": entity,
            "fmd.layer": layer,
            "fmd.appId": app,
            "fmd.txnVersion": str(txn),
        }
        metadata |= {
            k: v
            for k, v in {"fmd.batchId": batch, "fmd.watermark": watermark, "fmd.part": part}.items()
            if v is not None
        }
        try:
            version = self._rt.engine.write(
                ref,
                data,
                mode=mode,
                schema_mode=schema_mode,
                commit=CommitOptions(metadata=metadata, app_id=app, app_version=txn),
            )
        except Exception as exc:
            self.fail(entity, layer, table=ref.name, error=exc, batch_id=batch, part=part)
            raise
        count = self._count(data, ref, version)
        self.complete(
            entity,
            layer,
            table=ref.name,
            version=version,
            rows_written=count,
            batch_id=batch,
            watermark=watermark,
            part=part,
            txn_app_id=app,
            txn_version=txn,
        )
        return WriteResult(
            **common,
            version=version,
            applied=True,
            txn_version=txn,
            rows_written=count,
            watermark=watermark,
        )

    def _count(self, data: Any, ref: Any, version: int) -> int | None:
        if hasattr(data, "num_rows"):
            return int(data.num_rows)
        for entry in self._rt.engine.history(ref, 5):
            if entry.version == version:
                for key in ("numOutputRows", "num_added_rows"):
                    if entry.metrics.get(key) is not None:
                        return int(entry.metrics[key])
        return None

    # -- history ---------------------------------------------------------------------------
    def _scan(
        self, ref: Any, limit: int | None, match: Callable[[Mapping[str, Any]], bool]
    ) -> list[LandedCommit]:
        """Commits whose user metadata matches, newest first, each marked undone or not."""
        restores: list[int] = []
        found: list[tuple[HistoryEntry, dict[str, str], bool]] = []
        for entry in self._rt.engine.history(ref, limit):
            if entry.operation.upper() == "RESTORE":
                restores.append(_restored_to(entry))
                continue
            md = {k: str(v) for k, v in entry.user_metadata.items() if v is not None}
            if "fmd.entity" in md and match(md):
                found.append((entry, md, any(to < entry.version for to in restores)))
        if not found:
            return []
        rows = self._read(TableName=ref.table, SchemaName=ref.schema_name)
        invalid = {r["RunId"] for r in rows if not _is_live(r)}
        out = []
        for entry, md, restored_away in found:
            txn = md.get("fmd.txnVersion")
            out.append(
                LandedCommit(
                    version=entry.version,
                    timestamp=entry.timestamp,
                    entity=md["fmd.entity"],
                    layer=md.get("fmd.layer"),
                    run_id=md.get("fmd.runId"),
                    batch_id=md.get("fmd.batchId"),
                    part=md.get("fmd.part"),
                    watermark=md.get("fmd.watermark"),
                    txn_app_id=md.get("fmd.appId"),
                    txn_version=int(txn) if txn and txn.isdigit() else None,
                    undone=restored_away or md.get("fmd.runId") in invalid,
                )
            )
        return out

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
        ref = self._rt.table(table)
        if not self._rt.engine.exists(ref):
            return []
        if since_version is not None:
            limit = min(limit, self._rt.engine.version(ref) - since_version)
            if limit <= 0:
                return []
        return self._scan(
            ref,
            limit,
            lambda md: (
                md.get("fmd.entity") == entity and (layer is None or md.get("fmd.layer") == layer)
            ),
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
        limit = check_number(limit, "limit", minimum=1, maximum=10_000, integer=True)
        ref = self._rt.table(table)
        if not self._rt.engine.exists(ref):
            return None
        live = [
            c
            for c in self._scan(ref, limit, lambda md: True)
            if not c.undone and (at_version is None or c.version <= at_version)
        ]
        return live[0] if live else None

    def in_flight(self, batch_id: str, tables: Sequence[str]) -> list[dict[str, Any]]:
        """The loads of a batch into ``tables`` that started and neither completed nor failed.

        An attempt (run, entity, layer, part, table) is in flight while its newest ledger row
        is ``Started``: its ``Succeeded`` / ``Failed`` / ``Skipped`` row has not been written.

        Args:
            batch_id: the batch (a pipeline run id, or the caller's batch id).
            tables: ``schema.table`` names (case-insensitive).

        Returns:
            The ``Started`` rows of those attempts, oldest first.

        Example:
            >>> # [r["TableName"] for r in rt.runs.in_flight(rt.context.pipeline_run_id, names)]
        """
        batch = _text(batch_id, "batch id")
        wanted = {self._rt.table(t).name.lower() for t in tables}
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in self._read(BatchId=batch):  # oldest first: the last row of an attempt wins
            name = _row_table(r)
            if name in wanted:
                key = (r["RunId"], r["EntityId"], r["Layer"], r.get("Part"), name)
                latest[key] = dict(r)
        return [r for r in latest.values() if r["Status"] == "Started" and _is_live(r)]

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
        batch = _text(batch_id, "batch id")
        wanted = {self._rt.table(t).name.lower() for t in tables}
        done: dict[str, int] = {}
        for r in self._read(BatchId=batch, Status="Succeeded"):
            name = _row_table(r)
            if name in wanted and r.get("TableVersion") is not None and _is_live(r):
                done[name] = max(done.get(name, -1), int(r["TableVersion"]))
        return done

    def loaded_tables(self, tables: Sequence[str]) -> set[str]:
        """The lower-case ``schema.table`` names of ``tables`` with any load in the ledger (one
        read): only their history can hold a library load (`last_load`)."""
        refs = [self._rt.table(t) for t in tables]
        wanted = {r.name.lower() for r in refs}
        rows = self._rt.store.read(
            "EntityRuns",
            {"TableName": sorted({r.table for r in refs})},
            columns=["SchemaName", "TableName"],
        )
        return {name for r in rows if (name := _row_table(r)) in wanted}

    def record_landed(
        self, entity: str, landed: LandedCommit, *, table: str
    ) -> dict[str, Any] | None:
        """Complete the ledger for a load found landed in history (used by watermark recovery).

        Returns:
            The row written, or None when that run's load was already recorded as complete.
        """
        layer = landed.layer or "unknown"
        rows = self._read(EntityId=entity, Layer=layer, Status="Succeeded")
        if any(
            _is_live(r) and r["RunId"] == landed.run_id and r.get("Part") == landed.part
            for r in rows
        ):
            return None
        return self._append(
            "Succeeded",
            entity,
            layer,
            table=table,
            run_id=landed.run_id,
            BatchId=landed.batch_id,
            TableVersion=landed.version,
            WatermarkValue=landed.watermark,
            Part=landed.part,
            TxnAppId=landed.txn_app_id,
            TxnVersion=landed.txn_version,
            details={"recovered_by_run": self._rt.context.run_id},
        )

    def version_times(self, table: str) -> dict[int, datetime]:
        """Commit time of every version in the table's history ({} when the table does not exist)."""
        ref = self._rt.table(table)
        if not self._rt.engine.exists(ref):
            return {}
        return {e.version: as_utc(e.timestamp) for e in self._rt.engine.history(ref)}

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
        ref = self._rt.table(table)
        after = after if after.tzinfo else after.replace(tzinfo=timezone.utc)
        times = self.version_times(ref.name)

        def when(r: Mapping[str, Any]) -> datetime:
            v = r.get("TableVersion")
            return times[v] if v is not None and v in times else as_utc(r["EventTime"])

        hit = [
            r
            for r in self._read(SchemaName=ref.schema_name, TableName=ref.table, Status="Succeeded")
            if _is_live(r) and when(r) > after
        ]
        ids = [r["EntryId"] for r in hit if r.get("EntryId")]
        values = {"Invalidated": True, "InvalidatedBy": by_run_id}
        if ids:
            self._rt.store.update("EntityRuns", {"EntryId": ids}, values)
        for r in hit:
            if not r.get("EntryId"):  # rows written before EntryId existed
                self._rt.store.update(
                    "EntityRuns",
                    {k: r[k] for k in ("RunId", "EntityId", "Status", "EventTime")},
                    values,
                )
        out = [
            {
                "entity": r["EntityId"],
                "layer": r["Layer"],
                "run_id": r["RunId"],
                "batch_id": r.get("BatchId"),
                "status": r["Status"],
                "table": ref.name,
                "table_version": r.get("TableVersion"),
                "txn_app_id": r.get("TxnAppId"),
                "txn_version": r.get("TxnVersion"),
                "event_time": r["EventTime"],
                "invalidated_by": by_run_id,
            }
            for r in hit
        ]
        if out:
            self._rt.audit.event(
                "RunsInvalidated",
                "Succeeded",
                table=ref,
                severity="MEDIUM",
                details={"after": after, "by_run_id": by_run_id, "rows": out},
            )
            self._rt.audit.flush()
        return out


__all__ = ["LandedCommit", "RunLedger", "WriteResult"]
