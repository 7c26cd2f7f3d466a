"""The impact analysis of a plan: what rolling each table back to its pin changes.

`read_impacts` reads every table in scope concurrently (``rt.map_tables``, "Analysing table"): its
current version and snapshot, the history since the pinned version, both versions' file lists and
the current counts (`Checkpoints.measure`). From those it decides the action (``Restore``; ``NoOp``
when the files and schema already equal the pin; ``Resume`` when this run already restored it) and
computes the row deltas per state, the commits undone with their writers' metrics, the risk, the
file-level effect and the warnings. It hands `_plan` one `TableImpact` per table (as an `Outcome`:
a table that cannot be read fails its plan, not the others) and the ``PipelineConfig`` rows it read
them with. Nothing is written.

The pure arithmetic is public (`rows_changed`, `rows_touched`, `risk_level`, `file_effect`).

Example:
    >>> rows_changed(Counts(total=0, active=40, deleted=-40, purged=0), tracked=True)
    40
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.checkpoints import CheckpointTable
from fmd_runtime.config import TableConfig
from fmd_runtime.context import Outcome
from fmd_runtime.engine import DataFile, HistoryEntry, commit_counts
from fmd_runtime.errors import RollbackError
from fmd_runtime.rollback._models import (
    RUN_KEY,
    Action,
    CommitUndone,
    Counts,
    Risk,
    TableImpact,
    elapsed_ms,
)
from fmd_runtime.rollback._state import configs_by_table
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import manifest_digest, schema_fingerprint

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

MAX_COMMITS_LISTED = 100
"""Commits undone listed per table in a plan (all of them are counted)."""


def read_impacts(
    rt: Runtime, pins: Sequence[CheckpointTable], batch_id: str | None = None
) -> tuple[dict[str, TableConfig], list[Outcome[TableImpact]]]:
    """Every table's impact, concurrently, with the PipelineConfig it was read with."""
    configs = configs_by_table(rt)
    now = utcnow()
    outcomes = rt.map_tables(
        lambda p: _read_impact(rt, p, configs.get(p.table.lower()), now, batch_id),
        pins,
        label="Analysing table",
        key=lambda p: p.table,
    )
    return configs, outcomes


def _read_impact(
    rt: Runtime,
    pin: CheckpointTable,
    cfg: TableConfig | None,
    now: datetime,
    checkpoint_batch: str | None = None,
) -> TableImpact:
    """Read one table (version, history since the pin, both file lists, counts)."""
    eng = rt.engine
    start = time.perf_counter()
    ref = TableRef(schema_name=pin.schema_name, table=pin.table_name)
    cfg = cfg or TableConfig(table=ref.name)
    snap = eng.snapshot(ref)
    cur = snap.version
    if cur < pin.version:
        raise RollbackError(
            f"current version {cur} is older than the pinned version {pin.version} "
            "(the table was recreated?)",
            table=ref.name,
            hint="this checkpoint no longer describes the table; take a new checkpoint",
        )
    history = eng.history(ref, cur - pin.version) if cur > pin.version else []
    cur_files = eng.files(ref, cur)
    pin_files = cur_files if cur == pin.version else eng.files(ref, pin.version)
    m = rt.checkpoints.measure(ref, cur, config=cfg)
    same_schema = schema_fingerprint(snap) == pin.schema_fingerprint
    same_files = manifest_digest(cur_files) == pin.manifest_digest
    mine = [
        h.version
        for h in history
        if h.operation.upper() == "RESTORE"
        and str(h.user_metadata.get(RUN_KEY)) == rt.context.run_id
    ]
    action: Action = "Restore"
    reason = None
    if cur == pin.version:
        action, reason = "NoOp", "already at the pinned version"
    elif same_files and same_schema:
        if mine:
            action, reason = "Resume", f"already restored by this run (version {mine[0]})"
        else:
            action = "NoOp"
            reason = "its files and schema already equal the checkpoint's"
    add, remove = file_effect(cur_files, pin_files)
    current = Counts(total=m.total, active=m.active, deleted=m.deleted, purged=m.purged)
    pinned = Counts(
        total=pin.total_rows,
        active=pin.active_rows,
        deleted=pin.deleted_rows,
        purged=pin.purged_rows,
    )
    delta = pinned.minus(current)
    changed = rows_changed(delta, tracked=cfg.has_tracking)
    commits = [_commit_undone(h) for h in history]
    touched_parts = [c.rows_touched for c in commits if c.rows_touched is not None]
    touched = sum(touched_parts) if touched_parts else None
    base = max(current.total or 0, pinned.total or 0)
    pct = _share(changed, base)
    # the risk also sees what the undone commits wrote (value-only updates, rewrites)
    risk_pct = max(pct, _share(min(touched or 0, base), base))
    risk: Risk = "Low"
    if action == "Restore":
        risk = risk_level(
            risk_pct, high_pct=rt.config.risk_high_pct, medium_pct=rt.config.risk_medium_pct
        )
    warnings = _table_warnings(action, add, same_schema, history)
    return TableImpact(
        table=ref.name,
        action=action,
        reason=reason,
        pinned_version=pin.version,
        pinned_timestamp=_utc(pin.version_timestamp),
        pinned_load=pin.load_text(checkpoint_batch),
        current_version=cur,
        current_timestamp=_utc(snap.timestamp),
        tracked=cfg.has_tracking,
        current=current,
        pinned=pinned,
        delta=delta,
        rows_back=max(0, delta.total or 0),
        rows_gone=max(0, -(delta.total or 0)),
        rows_changed=changed if action == "Restore" else 0,
        rows_touched=touched,
        changed_pct=pct if action == "Restore" else 0.0,
        risk_pct=risk_pct if action == "Restore" else 0.0,
        risk=risk,
        time_back_seconds=_seconds(snap.timestamp, pin.version_timestamp),
        checkpoint_age_seconds=_seconds(now, pin.version_timestamp),
        commits_undone=len(commits) if action == "Restore" else 0,
        commits=tuple(commits[:MAX_COMMITS_LISTED]) if action == "Restore" else (),
        files_to_add=len(add),
        bytes_to_add=sum(f.size_bytes for f in add),
        files_to_remove=len(remove),
        bytes_to_remove=sum(f.size_bytes for f in remove),
        schema_changed=not same_schema,
        warnings=tuple(warnings),
        analysis_ms=elapsed_ms(start),
    )


def _table_warnings(
    action: str,
    add: Sequence[DataFile],
    same_schema: bool,
    history: Sequence[HistoryEntry],
) -> list[str]:
    """What an operator must know before restoring the table (streaming, schema)."""
    out = []
    if action == "Restore" and add:
        out.append(
            f"RESTORE re-adds {len(add)} file(s) as new data (dataChange=true): streaming "
            "readers of this table re-emit those rows downstream; restart them from a new "
            "checkpoint or read with skipChangeCommits"
        )
    if action == "Restore" and any("STREAMING" in h.operation.upper() for h in history):
        out.append(
            "a streaming writer committed to this table since the checkpoint: its own "
            "checkpoint does not rewind and it will not re-write the rows undone"
        )
    if action == "Restore" and not same_schema:
        out.append(
            "the schema changed since the checkpoint: RESTORE brings back the old schema "
            "(columns added since disappear)"
        )
    return out


def _commit_undone(h: HistoryEntry) -> CommitUndone:
    """A history entry as the plan lists it (scalar metrics only, the writer's run id)."""
    metrics = {
        k: v for k, v in h.metrics.items() if isinstance(v, (int, float, str, bool)) and v != ""
    }
    run = h.user_metadata.get("fmd.runId") or h.user_metadata.get(RUN_KEY)
    return CommitUndone(
        version=h.version,
        timestamp=h.timestamp,
        operation=h.operation,
        rows_touched=rows_touched(h.metrics),
        metrics=metrics,
        run_id=str(run) if run else None,
    )


def risk_level(changed_pct: float, *, high_pct: float, medium_pct: float) -> Risk:
    """High / Medium / Low by the share of rows changed (thresholds in percent).

    Example:
        >>> risk_level(12.0, high_pct=10, medium_pct=1), risk_level(0.5, high_pct=10, medium_pct=1)
        ('High', 'Low')
    """
    if changed_pct >= high_pct:
        return "High"
    return "Medium" if changed_pct >= medium_pct else "Low"


def rows_changed(delta: Counts, *, tracked: bool) -> int:
    """Rows whose state the counts prove changes (a lower bound from net counts).

    For tables with tracking columns: the larger of the states' gains and losses (40 rows
    flagged deleted by a bad sync = active +40, deleted -40 = 40 rows); otherwise the net total.

    Example:
        >>> rows_changed(Counts(total=0, active=40, deleted=-40, purged=0), tracked=True)
        40
    """
    if tracked:
        parts = [v for v in (delta.active, delta.deleted, delta.purged) if v is not None]
        if parts:
            return max(sum(v for v in parts if v > 0), -sum(v for v in parts if v < 0))
    return abs(delta.total or 0)


def rows_touched(metrics: Mapping[str, Any]) -> int | None:
    """Rows a commit wrote (added + updated + deleted), from its raw metrics read by the port's
    typed counts (`fmd_runtime.engine.commit_counts`: both writers' names); None if unknown.

    Copied rows (a MERGE or DELETE rewriting a file keeps its other rows) are not touched.

    Example:
        >>> rows_touched({"num_target_rows_updated": 40, "num_target_rows_copied": 900})
        40
    """
    counts = commit_counts(metrics)
    parts = [counts[k] for k in ("rows_added", "rows_updated", "rows_deleted")]
    known = [v for v in parts if v is not None]
    return sum(known) if known else None


def file_effect(
    current: Sequence[DataFile], pinned: Sequence[DataFile]
) -> tuple[list[DataFile], list[DataFile]]:
    """Files RESTORE adds back and removes, compared on (path, deletion-vector id).

    Example:
        >>> a, b = DataFile(path="a", size_bytes=1), DataFile(path="b", size_bytes=2)
        >>> [[f.path for f in side] for side in file_effect([a], [b])]
        [['b'], ['a']]
    """
    cur = {(f.path, f.deletion_vector or ""): f for f in current}
    pin = {(f.path, f.deletion_vector or ""): f for f in pinned}
    add = [pin[k] for k in sorted(pin.keys() - cur.keys())]
    remove = [cur[k] for k in sorted(cur.keys() - pin.keys())]
    return add, remove


def _share(part: int, whole: int) -> float:
    """Percent of ``whole`` (3 decimals); any change of an empty table is 100%."""
    if not whole:
        return 100.0 if part else 0.0
    return round(100.0 * part / whole, 3)


def _utc(ts: datetime | None) -> datetime | None:
    """``ts`` in UTC (naive values are UTC, aware ones converted), None kept."""
    return None if ts is None else as_utc(ts).astimezone(timezone.utc)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    ua, ub = _utc(a), _utc(b)
    return None if ua is None or ub is None else round((ua - ub).total_seconds(), 3)
