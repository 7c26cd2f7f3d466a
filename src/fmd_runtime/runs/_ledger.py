"""The ledger rows (``metadata.EntityRuns``): read, append, and the questions asked of them.

Every read and write of the ledger table is here, and so is every test of a row's liveness (a
rollback marks rows ``Invalidated``): the guard (``_guard``) and the exactly-once write
(``_write``) ask these functions instead of reading the table themselves. The helpers shared
with watermarks (entity check, liveness, UTC) are imported once, here.

Example:
    >>> row_table({"SchemaName": "Bronze", "TableName": "Account"})
    'bronze.account'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime._entities import check_entity, is_live
from fmd_runtime.errors import ContractViolation
from fmd_runtime.runs._models import LandedCommit, Status
from fmd_runtime.store import matches, to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime
    from fmd_runtime.tables import TableRef


def check_text(value: Any, what: str) -> str:
    """``value`` when it is non-empty text of at most 256 characters (a layer, a batch id)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise ContractViolation(
            f"{what} {value!r:.60} is not valid", hint=f"pass a non-empty {what}"
        )
    return value


def check_optional_text(value: Any, what: str) -> str | None:
    """None, or ``value`` checked by `check_text`."""
    return None if value is None else check_text(value, what)


def row_table(row: Mapping[str, Any]) -> str | None:
    """The lower-case ``schema.table`` a ledger row names (None when it names none)."""
    if not row.get("TableName"):
        return None
    return f"{row.get('SchemaName')}.{row['TableName']}".lower()


def row_details(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON ``Details`` of a ledger row as a dict (None when absent or not a JSON object)."""
    raw = row.get("Details")
    if not raw:
        return None
    try:
        found = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def check_target(entity: Any, layer: Any) -> tuple[str, str]:
    """The entity id and layer of a ledger call, checked (the entity as watermarks check it)."""
    return check_entity(entity), check_text(layer, "layer")


def batch_of(rt: Runtime, batch_id: str | None) -> str | None:
    """The batch that counts as "this run": the one named, else the pipeline run id."""
    return check_optional_text(batch_id, "batch id") or rt.context.pipeline_run_id


def read(rt: Runtime, **where: Any) -> list[dict[str, Any]]:
    """Ledger rows matching ``where``, oldest first: the table's and the ones this runtime
    still holds (`IngestionState`), each once."""
    entity = where.get("EntityId")
    if isinstance(entity, str):  # one entity: its rows are read once per load (`IngestionState`)
        fetch = partial(rt.store.read, "EntityRuns", {"EntityId": entity})
        rows = [r for r in rt.runs.state.entity_rows(entity, fetch) if matches(r, where)]
    else:
        held = rt.runs.state.rows(where)  # before the table: a row written meanwhile is in both
        rows = rt.store.read("EntityRuns", where)
        seen = {r.get("EntryId") for r in rows}
        rows += [r for r in held if r.get("EntryId") not in seen]
    return sorted(rows, key=lambda r: as_utc(r["EventTime"]))


def own_rows(
    rt: Runtime, rows: Sequence[Mapping[str, Any]], batch: str | None, part: str | None
) -> list[dict[str, Any]]:
    """Live rows of this run, or of the batch when one is named, for this part."""
    run_id = rt.context.run_id
    return [
        dict(r)
        for r in rows
        if is_live(r)
        and (r["RunId"] == run_id or (batch is not None and r.get("BatchId") == batch))
        and r.get("Part") == part
    ]


def entries(
    rt: Runtime, entity: str | None = None, layer: str | None = None
) -> list[dict[str, Any]]:
    """Ledger rows (oldest first), optionally for one entity and layer (`RunLedger.entries`)."""
    where = {k: v for k, v in {"EntityId": entity, "Layer": layer}.items() if v is not None}
    return read(rt, **where)


def append(
    rt: Runtime, status: Status, entity: str, layer: str, *, now: bool = False, **values: Any
) -> dict[str, Any]:
    """Record one ledger row (run id, entity, layer, table, status, time) and return it.

    The row is written at once, or held for the end of the outermost activity or for the
    entity's watermark commit (`IngestionState.record`); ``now`` writes it at once.
    """
    table = values.pop("table", None)
    ref = rt.table(table) if table else None
    details = values.pop("details", None)
    row = {
        "EntryId": str(uuid.uuid4()),
        "RunId": values.pop("run_id", None) or rt.context.run_id,
        "EntityId": entity,
        "Layer": layer,
        "SchemaName": ref.schema_name if ref else None,
        "TableName": ref.table if ref else None,
        "Status": status,
        "EventTime": utcnow(),
        "Details": to_json(details) if details else None,
        **values,
    }
    rt.runs.state.record(row, now=now)
    return row


def in_flight(rt: Runtime, batch_id: str, tables: Sequence[str]) -> list[dict[str, Any]]:
    """The work of `RunLedger.in_flight` (documented there)."""
    batch = check_text(batch_id, "batch id")
    refs = [rt.table(t) for t in tables]
    wanted = {r.name.lower() for r in refs}
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in read(rt, BatchId=batch):  # oldest first: the last row of an attempt wins
        name = row_table(r)
        if name in wanted:
            key = (r["RunId"], r["EntityId"], r["Layer"], r.get("Part"), name)
            latest[key] = dict(r)
    # ``Started`` rows: written before the write by earlier versions of the library
    started = [r for r in latest.values() if r["Status"] == "Started" and is_live(r)]
    return started + open_activities(rt, batch, refs, wanted)


def open_activities(
    rt: Runtime, batch: str, refs: Sequence[TableRef], wanted: set[str]
) -> list[dict[str, Any]]:
    """Audited activities of the pipeline run ``batch`` (other runs than this one) that name
    one of ``wanted``'s tables and have started and not ended, as ``Started`` ledger-like rows
    (the outermost activity's Start is written at once, so another process sees it)."""
    if not refs:
        return []
    rows = rt.store.read(
        "SyncAuditLog",
        {
            "PipelineRunId": batch,
            "TableName": sorted({r.table for r in refs}),
            "Operation": ["Start", "End", "Fail", "Skip"],
        },
        columns=["RunId", "ActivityName", "EntityId", "SchemaName", "TableName", "Layer"]
        + ["Operation", "EventTime"],
    )
    open_: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: as_utc(r["EventTime"])):
        name = row_table(r)
        if name not in wanted or r["RunId"] == rt.context.run_id:
            continue
        key = (r["RunId"], r.get("ActivityName"), r.get("EntityId"), name)
        starts = open_.setdefault(key, [])
        if r["Operation"] == "Start":
            starts.append(r)
        elif starts:
            starts.pop()
    return [
        {**r, "BatchId": batch, "Status": "Started", "Part": None, "Origin": "audit"}
        for starts in open_.values()
        for r in starts
    ]


def batch_loads(rt: Runtime, batch_id: str, tables: Sequence[str]) -> dict[str, int]:
    """The work of `RunLedger.batch_loads` (documented there)."""
    batch = check_text(batch_id, "batch id")
    wanted = {rt.table(t).name.lower() for t in tables}
    done: dict[str, int] = {}
    for r in read(rt, BatchId=batch, Status="Succeeded"):
        name = row_table(r)
        if name in wanted and r.get("TableVersion") is not None and is_live(r):
            done[name] = max(done.get(name, -1), int(r["TableVersion"]))
    return done


def loaded_tables(rt: Runtime, tables: Sequence[str]) -> set[str]:
    """The work of `RunLedger.loaded_tables` (documented there)."""
    refs = [rt.table(t) for t in tables]
    wanted = {r.name.lower() for r in refs}
    rows = rt.store.read(
        "EntityRuns",
        {"TableName": sorted({r.table for r in refs})},
        columns=["SchemaName", "TableName"],
    )
    rows += rt.runs.state.rows({"TableName": sorted({r.table for r in refs})})
    return {name for r in rows if (name := row_table(r)) in wanted}


def record_landed(
    rt: Runtime,
    entity: str,
    landed: LandedCommit,
    *,
    table: str,
    watermark: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The work of `RunLedger.record_landed` (documented there)."""
    layer = landed.layer or "unknown"
    rows = read(rt, EntityId=entity, Layer=layer, Status="Succeeded")
    if any(
        is_live(r) and r["RunId"] == landed.run_id and r.get("Part") == landed.part for r in rows
    ):
        return None
    extra = dict(watermark or {})
    reason = extra.pop("Reason", None)
    return append(
        rt,
        "Succeeded",
        entity,
        layer,
        table=table,
        run_id=landed.run_id,
        BatchId=landed.batch_id,
        TableVersion=landed.version,
        Part=landed.part,
        TxnAppId=landed.txn_app_id,
        TxnVersion=landed.txn_version,
        details={"recovered_by_run": rt.context.run_id, **({"reason": reason} if reason else {})},
        **{"WatermarkValue": landed.watermark, **extra},
    )


WATERMARK_EVENTS = ("Commit", "Recover")
"""The ``WatermarkEvent`` values of a ledger row that also advanced the entity's watermark."""


def watermark_events(rt: Runtime, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The work of `RunLedger.watermark_events` (documented there)."""
    where = dict(where or {})
    operation = where.pop("Operation", None)
    wanted = [
        op
        for op in WATERMARK_EVENTS
        if operation is None
        or op == operation
        or (isinstance(operation, (list, tuple, set)) and op in operation)
    ]
    if not wanted:
        return []
    return [as_watermark_event(r) for r in read(rt, **where, WatermarkEvent=wanted)]


def as_watermark_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger row that advanced a watermark, as the ``Watermarks`` event it stands for.

    Example:
        >>> as_watermark_event({"EntryId": "e1", "EntityId": "a", "WatermarkEvent": "Commit",
        ...     "WatermarkValue": "2", "WatermarkKind": "int", "RunId": "r",
        ...     "EventTime": None})["Operation"]
        'Commit'
    """
    details = row_details(row) or {}
    return {
        "EventId": row.get("EntryId"),
        "EntityId": row["EntityId"],
        "Kind": row.get("WatermarkKind"),
        "Operation": row.get("WatermarkEvent"),
        "SchemaName": row.get("SchemaName"),
        "TableName": row.get("TableName"),
        "Layer": row.get("Layer"),
        "Value": row.get("WatermarkValue"),
        "PreviousValue": row.get("PreviousWatermark"),
        "WindowLow": row.get("WindowLow"),
        "RunId": row["RunId"],
        "Reason": details.get("reason"),
        "TableVersion": row.get("TableVersion"),
        "EventTime": row["EventTime"],
        "Invalidated": row.get("Invalidated"),
        "InvalidatedBy": row.get("InvalidatedBy"),
        "LedgerRow": True,
    }


def version_times(rt: Runtime, table: str) -> dict[int, datetime]:
    """The work of `RunLedger.version_times` (documented there)."""
    ref = rt.table(table)
    if not rt.engine.exists(ref):
        return {}
    return {e.version: as_utc(e.timestamp) for e in rt.engine.history(ref)}


def invalidate_after(
    rt: Runtime, table: str, after: datetime, *, by_run_id: str
) -> list[dict[str, Any]]:
    """The work of `RunLedger.invalidate_after` (documented there)."""
    ref = rt.table(table)
    after = after if after.tzinfo else after.replace(tzinfo=timezone.utc)
    rt.runs.state.flush()  # a held row must be in the table to be marked
    times = version_times(rt, ref.name)

    def when(r: Mapping[str, Any]) -> datetime:
        v = r.get("TableVersion")
        return times[v] if v is not None and v in times else as_utc(r["EventTime"])

    hit = [
        r
        for r in read(rt, SchemaName=ref.schema_name, TableName=ref.table, Status="Succeeded")
        if is_live(r) and when(r) > after
    ]
    ids = [r["EntryId"] for r in hit if r.get("EntryId")]
    values = {"Invalidated": True, "InvalidatedBy": by_run_id}
    rt.runs.state.forget()
    if ids:
        rt.store.update("EntityRuns", {"EntryId": ids}, values)
    for r in hit:
        if not r.get("EntryId"):  # rows written before EntryId existed
            rt.store.update(
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
        rt.audit.event(
            "RunsInvalidated",
            "Succeeded",
            table=ref,
            severity="MEDIUM",
            details={"after": after, "by_run_id": by_run_id, "rows": out},
        )
        rt.audit.flush()
    return out


def invalidated_runs(rt: Runtime, ref: TableRef) -> set[str]:
    """The run ids whose loads of ``ref`` a rollback invalidated."""
    rows = read(rt, TableName=ref.table, SchemaName=ref.schema_name)
    return {r["RunId"] for r in rows if not is_live(r)}
