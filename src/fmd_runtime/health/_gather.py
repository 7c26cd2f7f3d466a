"""What the daily report reads: each metadata table once (bounded by time), each table's history once.

The report's cost is these reads and nothing per table in a loop (the benchmark compares it
with exactly these raw reads, docs/performance.md "Health report"):

=====================  ==================================================================
read                   what for
=====================  ==================================================================
PipelineConfig         the enabled tables (``rt.table_configs``)
CheckpointHistory      the checkpoints of ``history_days`` (``rt.checkpoints.list``) ...
CheckpointTables       ... and their pinned tables (one read, by checkpoint id)
EntityRuns             ledger rows since ``history_days`` (failed / hung loads, failures per day)
SyncAuditLog           the maintenance operations since ``maintenance_days``
Watermarks             every entity's current state (``rt.watermarks.states``)
each table's history   commits in the window and the newest commit (``rt.map_tables``)
=====================  ==================================================================

Example:
    >>> # data = gather(rt, now=utcnow(), since=utcnow() - timedelta(hours=24), ...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.engine import HistoryEntry
from fmd_runtime.errors import TableNotFoundError
from fmd_runtime.health._sections import ReportThresholds
from fmd_runtime.tables import TableRef
from fmd_runtime.watermarks import WatermarkState

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

MAINTENANCE_OPERATIONS = ("MaintenanceSummary", "Vacuum", "Optimize")
"""SyncAuditLog operations the maintenance section reads (written by `fmd_runtime.maintenance`)."""

_LEDGER_COLUMNS = (
    "RunId",
    "BatchId",
    "EntityId",
    "Layer",
    "SchemaName",
    "TableName",
    "Status",
    "EventTime",
    "Invalidated",
    "Details",
    "Part",
)
_AUDIT_COLUMNS = (
    "EventTime",
    "RunId",
    "Operation",
    "Status",
    "SchemaName",
    "TableName",
    "ErrorSummary",
    "DryRun",
    "Details",
)


@dataclass(frozen=True)
class Gathered:
    """Everything the report judges, read once (see the module docstring).

    Attributes:
        tables: the tables in scope (lower-case ``schema.table``), or None for all.
        enabled: enabled PipelineConfig tables in scope (lower-case).
        checkpoints: checkpoints created since ``history_start`` (inactive ones included).
        ledger: EntityRuns rows since ``history_start``.
        audit: SyncAuditLog rows of `MAINTENANCE_OPERATIONS` since ``maintenance_start``.
        watermarks: every entity's current watermark.
        activity: table -> (commits since the window start, newest commit time).
        history_errors: table -> why its history could not be read.
        scanned: the tables whose history was read.
    """

    tables: set[str] | None
    enabled: list[str]
    checkpoints: list[Checkpoint]
    ledger: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    watermarks: list[WatermarkState]
    activity: dict[str, tuple[int, datetime | None]]
    history_errors: dict[str, str]
    scanned: list[str]


def read_since(
    rt: Runtime,
    name: str,
    column: str,
    since: datetime,
    *,
    columns: Sequence[str],
    where: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Rows of a metadata table with ``column >= since`` (and ``col IN values``): one query.

    Identifiers are checked against the table's schema and quoted; values are bound parameters.

    Example:
        >>> # read_since(rt, "EntityRuns", "EventTime", since, columns=["RunId", "Status"])
    """
    schema = rt.store.definition(name)
    q = rt.engine.quote
    for col in [column, *columns, *(where or {})]:
        schema.column(col)  # KeyError for a column the table does not have: a bug here
    clauses = [f"{q(column)} >= :since"]
    params: dict[str, Any] = {"since": since}
    for i, (col, values) in enumerate((where or {}).items()):
        clauses.append(f"{q(col)} IN :w{i}")
        params[f"w{i}"] = list(values)
    text = f"SELECT {', '.join(q(c) for c in columns)} FROM {{t}} WHERE {' AND '.join(clauses)}"
    rows: list[dict[str, Any]] = rt.engine.sql(text, {"t": rt.store.ref(name)}, params).to_pylist()
    return rows


def gather(
    rt: Runtime,
    *,
    now: datetime,
    since: datetime,
    thresholds: ReportThresholds,
    tables: Sequence[TableRef] | None,
) -> Gathered:
    """Read what the report needs (see the module docstring); histories in the bounded pool."""
    wanted = {t.name.lower() for t in tables} if tables is not None else None
    history_start = now - timedelta(days=thresholds.history_days)
    enabled = [
        c.table.lower() for c in rt.table_configs() if wanted is None or c.table.lower() in wanted
    ]
    cps = rt.checkpoints.list(active_only=False, since=history_start)
    if wanted is not None:
        cps = [c for c in cps if any(t.table.lower() in wanted for t in c.tables)]
    ledger = [
        r
        for r in read_since(rt, "EntityRuns", "EventTime", history_start, columns=_LEDGER_COLUMNS)
        if wanted is None or _name(r) in wanted
    ]
    audit = read_since(
        rt,
        "SyncAuditLog",
        "EventTime",
        now - timedelta(days=thresholds.maintenance_days),
        columns=_AUDIT_COLUMNS,
        where={"Operation": MAINTENANCE_OPERATIONS},
    )
    watermarks = rt.watermarks.states()
    if wanted is not None:
        scan = sorted(wanted)
    else:
        pinned = {t.table.lower() for c in cps for t in c.tables}
        scan = sorted(set(enabled) | pinned)
    outcomes = rt.map_tables(
        lambda name: _activity(rt.engine.history(rt.table(name)), since),
        scan,
        label="Reading the history of table",
    )
    activity, errors = {}, {}
    for name, o in zip(scan, outcomes, strict=True):
        if o.ok and o.value is not None:
            activity[name] = o.value
        elif o.error_type != TableNotFoundError.__name__:
            errors[name] = o.error or "unknown error"
    return Gathered(
        tables=wanted,
        enabled=enabled,
        checkpoints=cps,
        ledger=ledger,
        audit=audit,
        watermarks=watermarks,
        activity=activity,
        history_errors=errors,
        scanned=scan,
    )


def _name(r: Mapping[str, Any]) -> str | None:
    return f"{r.get('SchemaName')}.{r['TableName']}".lower() if r.get("TableName") else None


def _activity(history: Sequence[HistoryEntry], since: datetime) -> tuple[int, datetime | None]:
    """Commits at or after ``since`` and the newest commit's time, from one history read."""
    times = [as_utc(e.timestamp) for e in history]
    return sum(1 for t in times if t >= since), max(times, default=None)


__all__ = ["MAINTENANCE_OPERATIONS", "Gathered", "gather", "read_since"]
