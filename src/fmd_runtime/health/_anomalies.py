"""Anomalies: what the library already records, compared with each table's own recent past.

`find_anomalies` reads the metadata tables once each (the checkpoints of the lookback window:
``CheckpointHistory`` + ``CheckpointTables``, then ``Watermarks`` and ``EntityRuns``; no table's
data and no per-table query) and applies the rules of `AnomalyRules`:

==============================  ==========  ==================================================
check                           severity    rule
==============================  ==========  ==================================================
``anomaly.active_rows_drop``    HIGH        active rows of the latest checkpoint below the
                                            median of the previous ones by more than
                                            ``active_drop_share`` AND ``mad_multiplier``
                                            scaled MADs
``anomaly.deleted_rows_jump``   HIGH        deleted rows above their median by more than
                                            ``deleted_jump_share`` of the active rows AND the MADs
``anomaly.total_rows_shrink``   MEDIUM      total rows fell since the previous checkpoint by more
                                            than ``total_drop_share``, against the usual change
``anomaly.storage_growth``      LOW         bytes per row above ``storage_vs_rows_factor`` times
                                            their median (tables of ``storage_min_bytes`` or more)
``anomaly.watermark_stalled``   MEDIUM      no advance for ``watermark_lag_factor`` times the
                                            usual interval (and ``min_watermark_lag_hours``)
``anomaly.failing_runs``        HIGH        the last ``failing_runs`` runs of an entity failed
``anomaly.checkpoint_missing``  MEDIUM      no Daily/DailyBatch checkpoint of a regular scope
                                            for ``checkpoint_gap_hours``
==============================  ==========  ==================================================

Baselines are robust (`fmd_runtime.health._stats`): median and median absolute deviation of the
table's last ``baseline_points`` checkpointed versions, never a mean, so one bad day does not
hide the next and a steady table (MAD 0) is judged by the share alone. Each finding names the
table or entity, the numbers, the baseline and the first step; the findings are alerted through
``rt.alerts`` (one alert per severity, deduplicated by the anomalies it names).

Example:
    >>> AnomalyRules().active_drop_share
    0.1
    >>> # [f.message for f in find_anomalies(rt)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.alerts import AlertSeverity
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._anomaly_rules import (
    AnomalyRules,
    Point,
    entity_findings,
    scope_findings,
    table_findings,
)
from fmd_runtime.health._models import HealthFinding
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def find_anomalies(
    rt: Runtime,
    *,
    rules: AnomalyRules | None = None,
    now: datetime | None = None,
    tables: Sequence[str | TableRef] | None = None,
    checkpoints: Sequence[Checkpoint] | None = None,
    alert: bool = True,
) -> list[HealthFinding]:
    """Anomalies in what the library recorded: checkpoints, watermarks, the run ledger.

    Args:
        rt: the runtime.
        rules: the thresholds (default `AnomalyRules()`).
        now: the instant to judge by (default: now, UTC; a naive value is UTC).
        tables: only these tables (and the entities loading them, and the checkpoint scopes
            covering them); default: all.
        checkpoints: the checkpoints already read (e.g. by the daily report; inactive ones
            too); default: read those of the lookback window once.
        alert: raise the findings as alerts (one per severity, through ``rt.alerts``).

    Returns:
        The findings, most severe first, then by table / entity.

    Raises:
        ConfigError: an argument of the wrong type (nothing is read).
        InvalidIdentifierError: a name in ``tables`` is not a table of the connected lakehouse.

    Example:
        >>> # [f.message for f in find_anomalies(rt, rules=AnomalyRules(active_drop_share=0.2))]
    """
    rules = AnomalyRules() if rules is None else rules
    if not isinstance(rules, AnomalyRules):
        raise ConfigError(
            f"parameter 'rules' must be AnomalyRules, got {type(rules).__name__}",
            hint="pass rules=AnomalyRules(active_drop_share=0.2, ...)",
        )
    if now is not None and not isinstance(now, datetime):
        raise ConfigError(
            f"parameter 'now' must be a datetime, got {type(now).__name__}",
            hint="pass a datetime (UTC) or leave it out",
        )
    alert = strict_bool(alert, "alert")
    names = _names(rt, tables)
    at = utcnow() if now is None else as_utc(now)
    since = at - timedelta(days=rules.lookback_days)
    cps = (
        rt.checkpoints.list(active_only=False, since=since)
        if checkpoints is None
        else list(checkpoints)
    )
    cps = [c for c in cps if since <= as_utc(c.created_date) <= at]
    findings = table_findings(_points(cps, names), rules)
    findings += scope_findings(cps, names, rules, at)
    findings += entity_findings(
        _rows(rt, "Watermarks", {"Operation": "Commit"}, since, names),
        _rows(rt, "EntityRuns", {"Status": ["Succeeded", "Failed"]}, since, names),
        rules,
        at,
    )
    order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "INFO": 4}
    findings.sort(key=lambda f: (order[f.severity], f.table or "", f.entity or "", f.check))
    if alert:
        for severity in ("HIGH", "MEDIUM", "LOW"):
            _alert(rt, [f for f in findings if f.severity == severity], severity)
    return findings


def _names(rt: Runtime, tables: Sequence[str | TableRef] | None) -> set[str] | None:
    if tables is None:
        return None
    if isinstance(tables, str | bytes) or not isinstance(tables, Sequence):
        raise ConfigError(
            f"parameter 'tables' must be a list of table names, got {type(tables).__name__}",
            hint='pass tables=["bronze.account", ...] or leave it out for every table',
        )
    return {rt.table(t, parameter="tables").name.lower() for t in tables}


def _points(cps: Sequence[Checkpoint], names: set[str] | None) -> dict[str, list[Point]]:
    """Per table, one point per checkpointed version (the latest checkpoint of it), by version."""
    by_table: dict[str, dict[int, Point]] = {}
    for cp in sorted(cps, key=lambda c: (as_utc(c.created_date), c.checkpoint_name)):
        for t in cp.tables:
            if names is not None and t.table.lower() not in names:
                continue
            by_table.setdefault(t.table, {})[t.version] = Point(
                table=t.table,
                version=t.version,
                created=as_utc(cp.created_date),
                checkpoint=cp.checkpoint_name,
                total=t.total_rows,
                active=t.active_rows,
                deleted=t.deleted_rows,
                bytes=t.total_bytes,
                files=t.file_count,
            )
    return {k: [v[n] for n in sorted(v)] for k, v in by_table.items()}


def _rows(
    rt: Runtime, name: str, where: dict[str, Any], since: datetime, names: set[str] | None
) -> list[dict[str, Any]]:
    """One read of a ledger table: the live rows of the window (of ``names``' tables)."""
    columns = ["EntityId", "Layer", "SchemaName", "TableName", "EventTime", "Invalidated"]
    columns += ["Value", "PreviousValue"] if name == "Watermarks" else ["Status", "RunId"]
    rows = rt.store.read(name, where, columns=columns)
    if name == "Watermarks":  # a load's own commit is on its ledger row
        rows += rt.runs.watermark_events(where)
    out = []
    for row in rows:
        if row.get("Invalidated") is True or row["EventTime"] is None:
            continue
        if as_utc(row["EventTime"]) < since:
            continue
        table = f"{row.get('SchemaName')}.{row.get('TableName')}".lower()
        if names is not None and table not in names:
            continue
        out.append(row)
    return out


def _alert(rt: Runtime, findings: Sequence[HealthFinding], severity: AlertSeverity) -> None:
    """One alert for the anomalies of a level, keyed by what they name (deduplicated)."""
    if not findings:
        return
    keys = sorted(f"{f.check}|{f.table or ''}|{f.entity or ''}" for f in findings)
    digest = hashlib.sha1("\n".join(keys).encode("utf-8")).hexdigest()[:12]
    title = (
        f"[{severity}] {findings[0].message}"
        if len(findings) == 1
        else f"[{severity}] {len(findings)} anomalies: "
        + "; ".join(f.message for f in findings[:3])
    )
    rt.alerts.send(
        severity,
        title[:500],
        key=f"anomalies:{severity}:{digest}",
        tables=sorted({f.table for f in findings if f.table}),
        errors={f"{f.check} {f.table or f.entity or ''}".strip(): f.message for f in findings},
        first_steps=list(dict.fromkeys(f.fix for f in findings))[:5],
        details={"anomalies": [f.model_dump(mode="json") for f in findings[:50]]},
    )


__all__ = ["AnomalyRules", "find_anomalies"]
