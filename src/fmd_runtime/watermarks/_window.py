"""The begin/commit protocol of an incremental load: open the copy window, advance the watermark.

`begin` (after `recover` has completed a load that landed without its commit) reads the stored
value, checks it, and returns the `Window` whose predicate the source query uses, recording the
attempt in the audit log (``WatermarkBegin``). `commit` advances the watermark to the high
value of the copied rows: forward only, once per run, never a sentinel or a future value.
`recover` finds a data commit `RunLedger.write` made for the entity after the last watermark
commit (a crash between the two) and completes the watermark from its proposed value. These are
the operations every load runs; the administrative ones (reset, migrate, rollback's rewind) are
in `_admin`.

Example:
    >>> # w = begin(rt, "account", kind="datetime", table="bronze.account", ...)
    >>> # commit(rt, w, high, table_version=5, allow_future=False, allow_sentinel=False)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._entities import check_entity, is_live
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.watermarks._models import WatermarkState, Window
from fmd_runtime.watermarks._rows import (
    audit,
    check_text,
    current,
    latest,
    new_row,
    plausibility,
    read_rows,
    resolve_kind,
    state,
    stored_value,
    table_of,
    to_state,
)
from fmd_runtime.watermarks._values import (
    WatermarkKind,
    check_lookback,
    check_plausible,
    parse_watermark,
    shift,
    to_native,
    zone_of,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def begin(
    rt: Runtime,
    entity: str,
    *,
    kind: WatermarkKind | None,
    lookback: timedelta | int | None,
    inclusive: bool,
    table: str | None,
    layer: str | None,
    initial: Any,
    source_tz: str | None,
    recover: bool,
    allow_future: bool,
    allow_sentinel: bool,
) -> Window:
    """`Watermarks.begin`: recover, read and check the low bound, audit the attempt."""
    entity = check_entity(entity)
    inclusive, recover = strict_bool(inclusive, "inclusive"), strict_bool(recover, "recover")
    plausible = plausibility(rt, entity, allow_future, allow_sentinel, minimum_sentinels=False)
    check_text(layer, "layer")
    explicit = rt.table(table).name if table is not None else None
    rows = read_rows(rt, EntityId=entity)
    st = to_state(latest(rows))
    last = to_state(rows[-1]) if rows else None  # any event: an attempt knows kind and table
    target = explicit or table_of(st or last) or _ledger_table(rt, entity, st or last)
    if last is None and kind is None:
        last = _landed_attempt(rt, entity, target)
    k = resolve_kind(rt, entity, kind, st, target, last)
    tz = None if source_tz is None else str(source_tz)
    zone_of(tz, entity)
    check_lookback(k, lookback, entity)  # a bad lookback is refused on the first load too
    first = (
        None
        if initial is None
        else plausible(parse_watermark(initial, k, source_tz=tz, entity=entity), k)
    )
    recovered = _recover(rt, entity, rows, st, target, layer, k, tz) if recover else None
    st = state(rt, entity) if recovered is not None else st
    low = stored_value(st, k, tz)
    if low is not None:
        plausible(low, k, subject="the stored watermark")
    elif first is not None:
        low = first
    effective = shift(low, k, lookback, entity) if low is not None and lookback else low
    window = Window(
        entity=entity,
        kind=k,
        low=low,
        effective_low=effective,
        inclusive=bool(inclusive or lookback),
        lookback=lookback,
        run_id=rt.context.run_id,
        table=target,
        layer=layer,
        source_tz=tz,
        recovered=recovered,
    )
    # No Begin row: the attempt is in the audit log (WatermarkBegin), the window's low bound
    # goes on the load's ledger row with its commit, and the completion waits for that commit.
    rt.runs.state.window_opened(entity, k)
    details = window.model_dump(mode="json", include={"kind", "low", "effective_low", "inclusive"})
    audit(rt, "WatermarkBegin", "Started", (entity, target, layer), details=details)
    return window


def commit(
    rt: Runtime,
    window: Window,
    high: Any,
    *,
    table_version: int | None,
    allow_future: bool,
    allow_sentinel: bool,
) -> str | None:
    """`Watermarks.commit`: store ``high`` as a Commit event, forward only, once per run."""
    if not isinstance(window, Window):
        raise ConfigError(
            f"parameter 'window' must be the Window that begin() returned, got "
            f"{type(window).__name__}",
            hint="w = rt.watermarks.begin(entity, ...); ...; rt.watermarks.commit(w, high)",
        )
    if table_version is not None:
        table_version = check_number(table_version, "table_version", minimum=0, integer=True)
    entity, kind, where = (
        window.entity,
        window.kind,
        (window.entity, window.table, window.layer),
    )
    plausible = plausibility(rt, entity, allow_future, allow_sentinel, minimum_sentinels=True)
    if high is None:
        details: dict[str, Any] = {"reason": "no rows copied", "value": window.low}
        audit(rt, "WatermarkCommit", "Skipped", where, details=details)
        rt.runs.state.window_closed(entity)  # the load's completion is written without it
        return current(rt, entity)
    value = plausible(parse_watermark(high, kind, source_tz=window.source_tz, entity=entity), kind)
    rows = read_rows(rt, EntityId=entity)
    mine = ("Commit", "Recover")
    done = [
        r for r in rows if r["RunId"] == window.run_id and r["Operation"] in mine and is_live(r)
    ]
    if done:
        details = {
            "reason": "already committed by this run",
            "value": done[-1]["Value"],
            "asked": value,
        }
        audit(rt, "WatermarkCommit", "Skipped", where, details=details)
        return current(rt, entity)
    st = to_state(latest(rows))
    stored = stored_value(st, kind, window.source_tz)
    if stored is not None and to_native(value, kind) < to_native(stored, kind):
        error = WatermarkError(
            f"commit would move the watermark backwards from {stored} to {value}",
            entity=entity,
            run_id=window.run_id,
            hint="a watermark only moves forward; to move it back on purpose use "
            f"rt.watermarks.reset({entity!r}, {value!r}, reason=...)",
            details={"audited": True},
        )
        details = {"stored": stored, "asked": value}
        audit(
            rt,
            "WatermarkCommit",
            "Failed",
            where,
            error=error,
            severity="HIGH",
            details=details,
            flush=True,
        )
        raise error
    previous = st.value if st else None
    if not _join_completion(rt, window, value, previous, table_version):
        row = new_row(
            rt,
            entity,
            kind,
            "Commit",
            table=window.table,
            Layer=window.layer,
            Value=value,
            PreviousValue=previous,
            WindowLow=window.effective_low,
            RunId=window.run_id,
            TableVersion=table_version,
        )
        rt.store.append("Watermarks", [row])
    rt.runs.state.window_closed(entity)
    details = {
        "from": stored,
        "to": value,
        "window_low": window.effective_low,
        "table_version": table_version,
        "moved_since_begin": stored != window.low,
    }
    audit(rt, "WatermarkCommit", "Succeeded", where, details=details)
    return value


def _join_completion(
    rt: Runtime, window: Window, value: str, previous: str | None, table_version: int | None
) -> bool:
    """Record the commit on the load's held completion row (this run's, of the window's
    table and version, not yet written): one commit for ledger and watermark. False when
    there is none (a load written by other means, or a completion written already)."""
    where: dict[str, Any] = {
        "EntityId": window.entity,
        "RunId": window.run_id,
        "Status": "Succeeded",
        "WatermarkEvent": None,
    }
    if window.table:
        ref = rt.table(window.table)
        where |= {"SchemaName": ref.schema_name, "TableName": ref.table}
    if table_version is not None:
        where["TableVersion"] = table_version
    values = {
        "WatermarkEvent": "Commit",
        "WatermarkKind": window.kind,
        "WatermarkValue": value,
        "PreviousWatermark": previous,
        "WindowLow": window.effective_low,
    }
    return rt.runs.state.amend(where, values) is not None


def recover(
    rt: Runtime,
    entity: str,
    *,
    table: str | None,
    layer: str | None,
    kind: WatermarkKind | None,
) -> str | None:
    """`Watermarks.recover`: the entity's table and kind from its events, then `_recover`."""
    entity = check_entity(entity)
    check_text(layer, "layer")
    explicit = rt.table(table).name if table is not None else None
    rows = read_rows(rt, EntityId=entity)
    st = to_state(latest(rows))
    last = to_state(rows[-1]) if rows else None
    target = explicit or table_of(st or last) or _ledger_table(rt, entity, st or last)
    if not target:
        return None
    if last is None and kind is None:
        last = _landed_attempt(rt, entity, target)
    k = resolve_kind(rt, entity, kind, st, target, last)
    return _recover(rt, entity, rows, st, target, layer, k, None)


def _ledger_table(rt: Runtime, entity: str, known: WatermarkState | None) -> str | None:
    """The table of the entity's newest ledger row, for an entity with no watermark event yet
    (a first load that ended before its watermark commit)."""
    if known is not None:
        return None
    rows = [r for r in rt.runs.entries(entity) if r.get("TableName")]
    return f"{rows[-1]['SchemaName']}.{rows[-1]['TableName']}" if rows else None


def _landed_attempt(rt: Runtime, entity: str, target: str | None) -> WatermarkState | None:
    """What the newest load of ``entity`` into ``target`` recorded in its data commit (its
    window's kind), for an entity with no event yet: a first load that crashed before its
    watermark commit. Read only when nothing else names the kind."""
    if not target or not rt.engine.exists(rt.table(target)):
        return None
    for landed in rt.runs.landed(target, entity, limit=20):
        if landed.watermark_kind and not landed.undone:
            return WatermarkState(
                entity=entity,
                kind=landed.watermark_kind,
                value=None,
                operation="Landed",
                run_id=landed.run_id or "",
                table=target,
                layer=landed.layer,
                table_version=landed.version,
                event_time=landed.timestamp,
            )
    return None


def _recover(
    rt: Runtime,
    entity: str,
    rows: list[dict[str, Any]],
    st: WatermarkState | None,
    target: str | None,
    layer: str | None,
    k: WatermarkKind,
    tz: str | None,
) -> str | None:
    """Complete the watermark from the newest landed, live, plausible load newer than it."""
    if not target or not rt.engine.exists(rt.table(target)):
        return None
    stored = stored_value(st, k, tz)
    skew = rt.config.watermark_future_skew_hours
    invalid = {r["RunId"] for r in rows if not is_live(r)}
    since = st.table_version if st is not None and st.table == target else None
    for landed in rt.runs.landed(target, entity, layer=layer, since_version=since):
        if landed.undone or landed.watermark is None or landed.run_id in invalid:
            continue
        try:
            value = parse_watermark(landed.watermark, k, entity=entity)
            # a commit would refuse a sentinel or a future value: so does recovery
            check_plausible(value, k, entity=entity, future_skew_hours=skew)
        except WatermarkError:
            continue  # a malformed proposal is never trusted; the window is loaded again
        if stored is not None and to_native(value, k) <= to_native(stored, k):
            return None  # the newest load is already committed
        lay = landed.layer or layer
        reason = f"completed from {target} v{landed.version} by run {rt.context.run_id}"
        previous = st.value if st else None
        joined = rt.runs.record_landed(  # the ledger row and the watermark: one commit
            entity,
            landed,
            table=target,
            watermark={
                "WatermarkEvent": "Recover",
                "WatermarkKind": k,
                "WatermarkValue": value,
                "PreviousWatermark": previous,
                "Reason": reason,
            },
        )
        if joined is None:  # the load's completion was recorded, only its watermark was not
            row = new_row(
                rt,
                entity,
                k,
                "Recover",
                table=target,
                Layer=lay,
                Value=value,
                PreviousValue=previous,
                RunId=landed.run_id,
                TableVersion=landed.version,
                Reason=reason,
            )
            rt.store.append("Watermarks", [row])
        details = {
            "from": stored,
            "to": value,
            "table_version": landed.version,
            "landed_run_id": landed.run_id,
        }
        audit(
            rt,
            "WatermarkRecover",
            "Succeeded",
            (entity, target, lay),
            severity="MEDIUM",
            details=details,
            flush=True,
        )
        return value
    return None


__all__ = ["begin", "commit", "recover"]
