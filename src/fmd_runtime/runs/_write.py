"""Exactly-once writes: Delta's idempotent-transaction identity, and finding the commits it made.

`run_attempt` gives each attempt a transaction version above every one Delta's log and the
ledger have seen for the app id, and finds an attempt that already landed by its identity (run or
batch, part) in the commits' metadata, so a retry never writes twice and no row is written
before the write; `scan` reads a table's history for the commits `write` made (their user
metadata), each marked undone when a RESTORE went back before it or a rollback invalidated its
run. Separate from the guard (``_guard``): this is the part that talks to the engine.

Example:
    >>> app_id("account", "bronze")
    'fmd:bronze:account'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from fmd_runtime.config import check_number
from fmd_runtime.engine import (
    MERGE_METADATA_KEY,
    CommitOptions,
    HistoryEntry,
    MergeCounts,
    SchemaMode,
    WriteMode,
)
from fmd_runtime.errors import ContractViolation
from fmd_runtime.runs._guard import complete, fail
from fmd_runtime.runs._ledger import (
    batch_of,
    check_optional_text,
    check_target,
    invalidated_runs,
    own_rows,
    read,
    row_details,
)
from fmd_runtime.runs._models import LandedCommit, WriteResult
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def app_id(entity: str, layer: str) -> str:
    """The Delta idempotent-write app id of an entity's loads into a layer (`RunLedger.app_id`)."""
    return f"fmd:{layer}:{entity}"


def restored_to(entry: HistoryEntry) -> int:
    """The version a RESTORE went back to (-1 when unknown: treat everything before as undone)."""
    raw = entry.parameters.get("version")
    try:
        return int(raw) if raw is not None else -1
    except (TypeError, ValueError):
        return -1


class Applied(NamedTuple):
    """What one attempt's engine operation did (returned by the ``apply`` of `run_attempt`)."""

    version: int
    rows_written: int | None
    details: dict[str, Any]
    """Recorded with the completion (ledger row and audit event): a merge's counts."""


class Attempt(NamedTuple):
    """How `run_attempt` ended: applied now, or found complete / landed before."""

    common: dict[str, Any]
    version: int | None
    applied: bool
    txn_version: int | None
    watermark: str | None
    rows_written: int | None = None
    details: dict[str, Any] | None = None
    """What the commit holding the load recorded (the ledger row's details, or a landed
    commit's `fmd.merge` counts); None when unknown."""


Apply = Callable[[TableRef, CommitOptions], Applied]
"""The engine operation of an attempt: write or merge ``ref`` under the commit options given."""


def check_watermark(entity: str, watermark: Any) -> None:
    """Refuse a watermark that is not canonical text (before anything is written)."""
    if watermark is not None and not isinstance(watermark, str):
        raise ContractViolation(
            f"watermark must be canonical text, got {type(watermark).__name__}",
            entity=entity,
            hint="pass rt.watermarks.high_from(data, column, kind) or parse_watermark(value, kind)",
        )


def run_attempt(
    rt: Runtime,
    entity: str,
    ref: TableRef,
    *,
    layer: str,
    batch_id: str | None,
    watermark: str | None,
    part: str | None,
    apply: Apply,
) -> Attempt:
    """One exactly-once attempt (a write or a merge) of ``entity`` into ``ref``.

    Skips it when this run / batch already completed it; completes the ledger when an earlier
    try of it landed (a commit of the app id the ledger does not record, found by the
    attempt's identity in the history); otherwise takes a transaction version above every one
    seen, runs ``apply`` with the commit options that carry the identity and the ``fmd.*``
    metadata, and records the completion (held for one commit: ``_state``) or the failure
    (written at once) and re-raises. Nothing is written before the data commit.
    """
    batch, app = batch_of(rt, batch_id), app_id(entity, layer)
    common: dict[str, Any] = dict(
        entity=entity,
        layer=layer,
        table=ref.name,
        txn_app_id=app,
        run_id=rt.context.run_id,
        batch_id=batch,
        part=part,
    )
    rows = read(rt, EntityId=entity, Layer=layer)
    mine = own_rows(rt, rows, batch, part)
    done = [r for r in mine if r["Status"] == "Succeeded"]
    if done:
        rt.audit.event(
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
        return Attempt(
            common,
            version=done[-1].get("TableVersion"),
            applied=False,
            txn_version=done[-1].get("TxnVersion"),
            watermark=done[-1].get("WatermarkValue"),
            details=row_details(done[-1]),
        )
    seen = rt.engine.transaction_version(ref, app) if rt.engine.exists(ref) else None
    numbered = [r for r in rows if r.get("TxnAppId") == app and r.get("TxnVersion") is not None]
    recorded = max(
        (int(r["TxnVersion"]) for r in numbered if r["Status"] == "Succeeded"), default=0
    )
    if seen is not None and seen > recorded:
        # a commit of this app id landed that no completion records: a crash (or a failure
        # raised after the commit) between the data and its ledger row. This attempt's own?
        hit = landed_attempt(rt, ref, app, batch, part, after=recorded)
        if hit is not None:
            details = {"merge": hit.merge.model_dump()} if hit.merge else None
            complete(
                rt,
                entity,
                layer,
                table=ref.name,
                version=hit.version,
                batch_id=batch,
                watermark=hit.watermark,
                part=part,
                txn_app_id=app,
                txn_version=hit.txn_version,
                details=details,
            )
            return Attempt(
                common,
                version=hit.version,
                applied=False,
                txn_version=hit.txn_version,
                watermark=hit.watermark,
                details=details,
            )
    # Above every number Delta's log has seen for the app id and every completed one (RESTORE
    # does not rewind Delta's transaction identifiers); a failed attempt that did not land
    # left no number in the log, so its retry takes the same one.
    txn = max(recorded, seen or 0) + 1
    metadata = {
        "fmd.runId": rt.context.run_id,
        "fmd.entity": entity,
        "fmd.layer": layer,
        "fmd.appId": app,
        "fmd.txnVersion": str(txn),
    }
    kind = rt.runs.state.window_kind(entity) if watermark is not None else None
    metadata |= {
        k: v
        for k, v in {
            "fmd.batchId": batch,
            "fmd.watermark": watermark,
            "fmd.watermarkKind": kind,  # a crash before the watermark commit loses no kind
            "fmd.part": part,
        }.items()
        if v is not None
    }
    try:
        applied = apply(ref, CommitOptions(metadata=metadata, app_id=app, app_version=txn))
    except Exception as exc:
        fail(
            rt,
            entity,
            layer,
            table=ref.name,
            error=exc,
            batch_id=batch,
            part=part,
            txn_app_id=app,
            txn_version=txn,
        )
        raise
    complete(
        rt,
        entity,
        layer,
        table=ref.name,
        version=applied.version,
        rows_written=applied.rows_written,
        batch_id=batch,
        watermark=watermark,
        part=part,
        txn_app_id=app,
        txn_version=txn,
        details=applied.details or None,
    )
    return Attempt(
        common,
        version=applied.version,
        applied=True,
        txn_version=txn,
        watermark=watermark,
        rows_written=applied.rows_written,
        details=applied.details or None,
    )


LANDED_SCAN_COMMITS = 200
"""How many of a table's newest commits `landed_attempt` reads for an unrecorded load."""


def landed_attempt(
    rt: Runtime,
    ref: TableRef,
    app: str,
    batch: str | None,
    part: str | None,
    *,
    after: int,
) -> LandedCommit | None:
    """The newest live commit of this attempt (this run, or the batch, and the part) that
    carries a transaction version of ``app`` above ``after``; None when there is none."""
    run_id = rt.context.run_id

    def mine(md: Mapping[str, Any]) -> bool:
        txn = md.get("fmd.txnVersion", "")
        return (
            md.get("fmd.appId") == app
            and txn.isdigit()
            and int(txn) > after
            and md.get("fmd.part") == part
            and (
                md.get("fmd.runId") == run_id
                or (batch is not None and md.get("fmd.batchId") == batch)
            )
        )

    return next((c for c in scan(rt, ref, LANDED_SCAN_COMMITS, mine) if not c.undone), None)


def write(
    rt: Runtime,
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
    """The work of `RunLedger.write` (documented there)."""
    entity, layer = check_target(entity, layer)
    part = check_optional_text(part, "part")
    ref = rt.table(table)
    check_watermark(entity, watermark)

    def apply(target: TableRef, commit: CommitOptions) -> Applied:
        version = rt.engine.write(target, data, mode=mode, schema_mode=schema_mode, commit=commit)
        return Applied(version, count_rows(rt, data, target, version), {})

    done = run_attempt(
        rt,
        entity,
        ref,
        layer=layer,
        batch_id=batch_id,
        watermark=watermark,
        part=part,
        apply=apply,
    )
    return WriteResult(
        **done.common,
        version=done.version,
        applied=done.applied,
        txn_version=done.txn_version,
        rows_written=done.rows_written,
        watermark=done.watermark,
    )


def count_rows(rt: Runtime, data: Any, ref: Any, version: int) -> int | None:
    """Rows a write added: the data's own count, else the commit's metrics."""
    if hasattr(data, "num_rows"):
        return int(data.num_rows)
    for entry in rt.engine.history(ref, 5):
        if entry.version == version and entry.rows_added is not None:
            return entry.rows_added  # the port's typed count (either writer's metric name)
    return None


def scan(
    rt: Runtime, ref: Any, limit: int | None, match: Callable[[Mapping[str, Any]], bool]
) -> list[LandedCommit]:
    restores: list[int] = []
    found: list[tuple[HistoryEntry, dict[str, str], bool]] = []
    for entry in rt.engine.history(ref, limit):
        if entry.operation.upper() == "RESTORE":
            restores.append(restored_to(entry))
            continue
        md = {k: str(v) for k, v in entry.user_metadata.items() if v is not None}
        if "fmd.entity" in md and match(md):
            found.append((entry, md, any(to < entry.version for to in restores)))
    if not found:
        return []
    invalid = invalidated_runs(rt, ref)
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
                watermark_kind=md.get("fmd.watermarkKind"),
                txn_app_id=md.get("fmd.appId"),
                txn_version=int(txn) if txn and txn.isdigit() else None,
                undone=restored_away or md.get("fmd.runId") in invalid,
                merge=MergeCounts.from_metadata(md.get(MERGE_METADATA_KEY)),
            )
        )
    return out


def landed(
    rt: Runtime,
    table: str,
    entity: str,
    *,
    layer: str | None = None,
    limit: int = 200,
    since_version: int | None = None,
) -> list[LandedCommit]:
    """The work of `RunLedger.landed` (documented there)."""
    ref = rt.table(table)
    if not rt.engine.exists(ref):
        return []
    if since_version is not None:
        limit = min(limit, rt.engine.version(ref) - since_version)
        if limit <= 0:
            return []
    return scan(
        rt,
        ref,
        limit,
        lambda md: (
            md.get("fmd.entity") == entity and (layer is None or md.get("fmd.layer") == layer)
        ),
    )


def last_load(
    rt: Runtime, table: str, *, at_version: int | None = None, limit: int = 100
) -> LandedCommit | None:
    """The work of `RunLedger.last_load` (documented there)."""
    limit = check_number(limit, "limit", minimum=1, maximum=10_000, integer=True)
    ref = rt.table(table)
    if not rt.engine.exists(ref):
        return None
    live = [
        c
        for c in scan(rt, ref, limit, lambda md: True)
        if not c.undone and (at_version is None or c.version <= at_version)
    ]
    return live[0] if live else None
