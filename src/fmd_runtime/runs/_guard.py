"""The re-run guard: skip what this run (or batch) already loaded, record completions and failures.

`should_skip` asks the ledger and audits the skip; `complete` and `fail` record the outcome and
audit it (a completion may be held for one commit with others, a failure is written at once:
``_state``). Separate from the exactly-once write (``_write``), which calls `complete` / `fail`
around its engine write.

Example:
    >>> # should_skip(rt, "account", "bronze")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fmd_runtime.config import strict_bool
from fmd_runtime.redaction import redact
from fmd_runtime.runs._ledger import append, batch_of, check_target, own_rows, read

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def should_skip(
    rt: Runtime,
    entity: str,
    layer: str,
    *,
    batch_id: str | None = None,
    force: bool = False,
    part: str | None = None,
) -> bool:
    """The work of `RunLedger.should_skip` (documented there)."""
    force = strict_bool(force, "force")  # "false" from a pipeline is truthy in Python
    entity, layer = check_target(entity, layer)
    batch = batch_of(rt, batch_id)
    rows = read(rt, EntityId=entity, Layer=layer, Status="Succeeded")
    done = own_rows(rt, rows, batch, part)
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
        rt.audit.event(
            "ForcedReprocess",
            "Info",
            entity=entity,
            layer=layer,
            table=table,
            severity="LOW",
            details=details,
        )
        return False
    rt.audit.event(
        "SkippedAlreadyProcessed",
        "Skipped",
        entity=entity,
        layer=layer,
        table=table,
        details=details,
    )
    return True


def complete(
    rt: Runtime,
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
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The work of `RunLedger.complete` (documented there); ``details`` (a merge's counts)
    go into the ledger row and the audit event."""
    entity, layer = check_target(entity, layer)
    row = append(
        rt,
        "Succeeded",
        entity,
        layer,
        table=table,
        BatchId=batch_of(rt, batch_id),
        TableVersion=version,
        RowsWritten=rows_written,
        WatermarkValue=watermark,
        Part=part,
        TxnAppId=txn_app_id,
        TxnVersion=txn_version,
        details=dict(details) if details else None,
    )
    rt.audit.event(
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
            **(details or {}),
        },
    )
    return row


def fail(
    rt: Runtime,
    entity: str,
    layer: str,
    *,
    table: str | None = None,
    error: BaseException | str | None = None,
    batch_id: str | None = None,
    part: str | None = None,
    txn_app_id: str | None = None,
    txn_version: int | None = None,
) -> dict[str, Any]:
    """The work of `RunLedger.fail` (documented there); the identity of the failed attempt,
    when it had one, is recorded (the next attempt takes a number above it)."""
    entity, layer = check_target(entity, layer)
    summary = redact(str(error)) if error is not None else None
    row = append(
        rt,
        "Failed",
        entity,
        layer,
        now=True,  # other processes decide on failures (the source circuit breaker)
        table=table,
        BatchId=batch_of(rt, batch_id),
        Part=part,
        TxnAppId=txn_app_id,
        TxnVersion=txn_version,
        details={
            "error_type": type(error).__name__ if isinstance(error, BaseException) else None,
            "error": summary,
        },
    )
    rt.audit.event(
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
