"""What the daily report reads: each metadata table once (bounded by time), each table's history once.

The report's cost is these reads and nothing per table in a loop (the benchmark compares it
with exactly these raw reads, docs/performance.md "Health report"):

=====================  ==================================================================
read                   what for
=====================  ==================================================================
PipelineConfig         the enabled tables (``rt.table_configs``)
CheckpointHistory      the checkpoints (``rt.checkpoints.list``): those of ``history_days``
                       for the report, the active ones for the foreign-operation scan ...
CheckpointTables       ... and their pinned tables (one read, by checkpoint id)
EntityRuns             ledger rows since ``history_days`` (failed / hung loads, failures per day)
SyncAuditLog           the maintenance operations since ``maintenance_days``
Watermarks             every entity's current state (``rt.watermarks.states``)
=====================  ==================================================================

Each table's history is read once, by the foreign-operation scan (`scan_foreign_operations`,
from its high-water mark on); the anomaly rules (`find_anomalies`) are handed the checkpoints
read here.

Example:
    >>> # data = gather(rt, now=utcnow(), thresholds=ReportThresholds(), tables=None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.checkpoints import Checkpoint
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
        active: the active checkpoints (any age: the scan re-verifies them).
        scan: the tables the foreign-operation scan reads: those named, else the enabled
            PipelineConfig tables and every table an active checkpoint pins (not the metadata
            tables), as the scan's own default (passed, so it reads PipelineConfig no more).
    """

    tables: set[str] | None
    enabled: list[str]
    checkpoints: list[Checkpoint]
    ledger: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    watermarks: list[WatermarkState]
    active: list[Checkpoint]
    scan: list[TableRef]


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
    thresholds: ReportThresholds,
    tables: Sequence[TableRef] | None,
) -> Gathered:
    """Read what the report needs (see the module docstring), each metadata table once."""
    wanted = {t.name.lower() for t in tables} if tables is not None else None
    history_start = now - timedelta(days=thresholds.history_days)
    enabled = [
        c.table.lower() for c in rt.table_configs() if wanted is None or c.table.lower() in wanted
    ]
    every = rt.checkpoints.list(active_only=False)  # one read; split below, never read again
    if wanted is not None:
        every = [c for c in every if any(t.table.lower() in wanted for t in c.tables)]
    cps = [c for c in every if as_utc(c.created_date) >= history_start]
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
    active = [c for c in every if c.is_active]
    if tables is not None:
        scan = list(tables)
    else:
        names = {*enabled, *(t.table.lower() for c in active for t in c.tables)}
        meta = rt.config.metadata_schema.lower()
        scan = [rt.table(n) for n in sorted(names) if rt.table(n).schema_name.lower() != meta]
    return Gathered(
        tables=wanted,
        enabled=enabled,
        checkpoints=cps,
        ledger=ledger,
        audit=audit,
        watermarks=watermarks,
        active=active,
        scan=scan,
    )


def _name(r: Mapping[str, Any]) -> str | None:
    return f"{r.get('SchemaName')}.{r['TableName']}".lower() if r.get("TableName") else None


__all__ = ["MAINTENANCE_OPERATIONS", "Gathered", "gather", "read_since"]
