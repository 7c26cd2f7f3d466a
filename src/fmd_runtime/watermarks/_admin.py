"""The administrative operations on watermarks: reset, the states of all entities, migration,
and the rewind rollback asks for.

`reset` moves a watermark anywhere (backwards included) with an audited reason; `states` reads
every entity's current state; `migrate` rewrites stored legacy values to canonical form (dry run
first); `invalidate_after` rewinds the entities loading a restored table to their value at the
restore point, marking the later events Invalidated. Operators and rollback call these, never a
load, so they are kept apart from the begin/commit protocol.

Example:
    >>> # reset(rt, "account", "2025-01-01", "re-load January", kind=None, table=None, ...)
    >>> # migrate(rt, dry_run=True, source_tz=None, entities=None).changes
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime._entities import check_entity, is_live, shown
from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.watermarks._models import (
    MigrationChange,
    MigrationRefusal,
    MigrationReport,
    WatermarkState,
)
from fmd_runtime.watermarks._rows import (
    STATE_OPERATIONS,
    audit,
    check_text,
    latest,
    new_row,
    plausibility,
    read_rows,
    resolve_kind,
    state,
    to_state,
)
from fmd_runtime.watermarks._values import WatermarkKind, check_kind, parse_watermark

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def reset(
    rt: Runtime,
    entity: str,
    value: Any,
    reason: str,
    *,
    kind: WatermarkKind | None,
    table: str | None,
    layer: str | None,
    source_tz: str | None,
    allow_future: bool,
    allow_sentinel: bool,
) -> str | None:
    """`Watermarks.reset`: store any value (None: a first load) as a Reset event, with the reason."""
    entity = check_entity(entity)
    if not isinstance(reason, str) or not reason.strip():
        hint = "say why, e.g. reason='re-load January after the source fix'"
        raise WatermarkError("a reset needs a reason", entity=entity, hint=hint)
    plausible = plausibility(rt, entity, allow_future, allow_sentinel, minimum_sentinels=False)
    check_text(layer, "layer")
    explicit = rt.table(table).name if table is not None else None
    st = state(rt, entity)
    k = check_kind(kind, entity=entity) if kind else resolve_kind(rt, entity, None, st, table)
    canonical = (
        None if value is None else parse_watermark(value, k, source_tz=source_tz, entity=entity)
    )
    if canonical is not None:
        plausible(canonical, k)
    target = explicit or (st.table if st else None)
    lay, old = layer or (st.layer if st else None), st.value if st else None
    row = new_row(
        rt,
        entity,
        k,
        "Reset",
        table=target,
        Layer=lay,
        Value=canonical,
        PreviousValue=old,
        Reason=reason.strip()[:1000],
    )
    rt.store.append("Watermarks", [row])
    details = {"from": old, "to": canonical, "kind": k, "reason": reason}
    audit(
        rt,
        "WatermarkReset",
        "Succeeded",
        (entity, target, lay),
        severity="MEDIUM",
        details=details,
        flush=True,
    )
    return canonical


def states(rt: Runtime) -> list[WatermarkState]:
    """The current state of every entity, sorted by entity (`Watermarks.states`)."""
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for row in read_rows(rt):
        by_entity.setdefault(row["EntityId"], []).append(row)
    found = (to_state(latest(rows)) for _, rows in sorted(by_entity.items()))
    return [s for s in found if s is not None]


def migrate(
    rt: Runtime,
    *,
    dry_run: bool,
    source_tz: str | Mapping[str, str] | None,
    entities: Iterable[str] | None,
) -> MigrationReport:
    """`Watermarks.migrate`: a Migrate event per stored value that is not canonical."""
    dry_run = strict_bool(dry_run, "dry_run")
    if isinstance(entities, str):
        entities = [entities]  # one entity id (ids may contain commas: never split)
    if entities is not None and not (
        isinstance(entities, Iterable) and all(isinstance(e, str) for e in entities)
    ):
        raise ConfigError(
            f"parameter 'entities' must be a list of entity ids, got {shown(entities)}",
            hint="pass entities=['account', 'contact'], or leave it out for all",
        )
    if source_tz is not None and not isinstance(source_tz, str | Mapping):
        raise ConfigError(
            f"parameter 'source_tz' must be an IANA zone name or a mapping entity -> zone, "
            f"got {type(source_tz).__name__}",
            hint="pass source_tz='Europe/Amsterdam' or {'account': 'Europe/Amsterdam'}",
        )
    wanted = set(entities) if entities is not None else None
    changes, refused, unchanged, rows = [], [], 0, []
    for st in states(rt):
        if (wanted is not None and st.entity not in wanted) or st.value is None:
            continue
        zone = source_tz.get(st.entity) if isinstance(source_tz, Mapping) else source_tz
        try:
            new = parse_watermark(
                st.value, check_kind(st.kind, entity=st.entity), source_tz=zone, entity=st.entity
            )
        except WatermarkError as exc:
            value_text = shown(st.value)
            refused.append(
                MigrationRefusal(entity=st.entity, kind=st.kind, value=value_text, error=str(exc))
            )
            continue
        if new == st.value:
            unchanged += 1
            continue
        kind = st.kind.lower()
        changes.append(MigrationChange(entity=st.entity, kind=kind, old=st.value, new=new))
        rows.append(
            new_row(
                rt,
                st.entity,
                kind,
                "Migrate",
                table=st.table,
                Layer=st.layer,
                Value=new,
                PreviousValue=st.value,
                TableVersion=st.table_version,
                Reason="normalized a legacy value to canonical form",
            )
        )
    if rows and not dry_run:
        rt.store.append("Watermarks", rows)
    for ch in changes:
        status = "Planned" if dry_run else "Succeeded"
        audit(
            rt,
            "WatermarkMigrate",
            status,
            (ch.entity, None, None),
            dry_run=dry_run,
            details=ch.model_dump(),
        )
    for ref in refused:
        audit(
            rt,
            "WatermarkMigrate",
            "Refused",
            (ref.entity, None, None),
            dry_run=dry_run,
            severity="MEDIUM",
            error=ref.error,
            details=ref.model_dump(),
        )
    rt.audit.flush()
    return MigrationReport(
        dry_run=dry_run, changes=tuple(changes), refused=tuple(refused), unchanged=unchanged
    )


def invalidate_after(
    rt: Runtime, table: str, after: datetime, *, by_run_id: str
) -> list[dict[str, Any]]:
    """`Watermarks.invalidate_after`: rewind the table's entities to their value at ``after``."""
    if not isinstance(after, datetime):
        raise ConfigError(
            f"parameter 'after' must be a datetime, got {type(after).__name__}",
            hint="pass the instant the table was restored to, e.g. the checkpoint's time",
        )
    if not isinstance(by_run_id, str) or not by_run_id.strip():
        raise ConfigError(
            f"parameter 'by_run_id' must be a run id, got {shown(by_run_id)}",
            hint="pass the rollback's run id",
        )
    ref, after = rt.table(table), as_utc(after)
    times = rt.runs.version_times(ref.name)
    mine = {r["EntityId"] for r in read_rows(rt, SchemaName=ref.schema_name, TableName=ref.table)}

    def when(row: Mapping[str, Any]) -> datetime:
        v = row.get("TableVersion")
        return times[v] if v is not None and v in times else as_utc(row["EventTime"])

    def counts(row: Mapping[str, Any]) -> bool:
        # a load's own commit (its ledger row) that this rollback's ledger repair has just
        # invalidated still has to be rewound here
        undone_now = row.get("LedgerRow") and row.get("InvalidatedBy") == by_run_id
        return row["Operation"] in STATE_OPERATIONS and (is_live(row) or bool(undone_now))

    out, new_rows = [], []
    for entity in sorted(mine):
        events = read_rows(rt, EntityId=entity)
        done = latest(events)
        if done and done["Operation"] == "RollbackReset" and done["RunId"] == by_run_id:
            continue  # this rollback rewound it already (a resumed run)
        live = [r for r in events if counts(r)]
        later = [r for r in live if when(r) > after]
        if not later:
            continue
        kept = [r for r in live if when(r) <= after]
        to, last = (kept[-1].get("Value") if kept else None), live[-1]
        _invalidate(rt, later, by_run_id)
        reason = f"{ref.name} rolled back to its state at {after.isoformat()} by run {by_run_id}"
        new_rows.append(
            new_row(
                rt,
                entity,
                last["Kind"],
                "RollbackReset",
                table=ref.name,
                Layer=last.get("Layer"),
                Value=to,
                PreviousValue=last.get("Value"),
                RunId=by_run_id,
                Reason=reason,
                TableVersion=kept[-1].get("TableVersion") if kept else None,
            )
        )
        out.append(
            {
                "entity": entity,
                "table": ref.name,
                "kind": last["Kind"],
                "from": last.get("Value"),
                "to": to,
                "invalidated_events": len(later),
            }
        )
    if new_rows:
        rt.store.append("Watermarks", new_rows)
    for item in out:
        details = {**item, "after": after, "by_run_id": by_run_id}
        audit(
            rt,
            "WatermarkRollbackReset",
            "Succeeded",
            (item["entity"], ref.name, None),
            severity="MEDIUM",
            details=details,
        )
    rt.audit.flush()
    return out


def _invalidate(rt: Runtime, rows: list[dict[str, Any]], by_run_id: str) -> None:
    ledger = [r["EventId"] for r in rows if r.get("LedgerRow") and is_live(r)]
    if ledger:  # a load's commit on its ledger row: the load is undone with it
        rt.runs.flush()
        values = {"Invalidated": True, "InvalidatedBy": by_run_id}
        rt.store.update("EntityRuns", {"EntryId": ledger}, values)
        rt.runs.state.forget()
    rows = [r for r in rows if not r.get("LedgerRow")]
    ids = [r["EventId"] for r in rows if r.get("EventId")]
    if ids:
        rt.store.update("Watermarks", {"EventId": ids}, {"Invalidated": True})
    for r in rows:
        if not r.get("EventId"):  # rows written before EventId existed
            where = {k: r[k] for k in ("EntityId", "EventTime", "Operation")}
            rt.store.update("Watermarks", where, {"Invalidated": True})


__all__ = ["invalidate_after", "migrate", "reset", "states"]
