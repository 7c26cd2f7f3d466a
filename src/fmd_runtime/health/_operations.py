"""The daily report's rules for watermarks, maintenance and storage (the checks: `_sections`).

Example:
    >>> # lags, findings = watermark_section(states, now=now, thresholds=t, tables=None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fmd_runtime._base import as_utc
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.health._models import HealthFinding
from fmd_runtime.health._sections import (
    MaintenanceOutcome,
    ReportThresholds,
    TablePoint,
    TableStorage,
    WatermarkLag,
    finding,
    hours_between,
    row_table,
)
from fmd_runtime.watermarks import WatermarkState


# -- watermarks -----------------------------------------------------------------------------------
def watermark_section(
    states: Sequence[WatermarkState],
    *,
    now: datetime,
    thresholds: ReportThresholds,
    tables: set[str] | None,
) -> tuple[list[WatermarkLag], list[HealthFinding]]:
    """Each entity's watermark lag; entities not advanced in ``watermark_lag_hours`` lag."""
    lags, findings = [], []
    for st in states:
        table = st.table.lower() if st.table else None
        if tables is not None and table not in tables:
            continue
        lag = hours_between(now, st.event_time)
        value_lag = _value_lag(st, now)
        lagging = lag > thresholds.watermark_lag_hours
        lags.append(
            WatermarkLag(
                entity=st.entity,
                table=table,
                kind=st.kind,
                value=st.value,
                last_advanced=st.event_time,
                lag_hours=lag,
                value_lag_hours=value_lag,
                lagging=lagging,
            )
        )
        if lagging:
            findings.append(
                finding(
                    "watermark_lag",
                    "MEDIUM",
                    f"the watermark of entity {st.entity} last advanced {lag:g} hours ago "
                    f"(more than {thresholds.watermark_lag_hours:g}); value {st.value}",
                    "check that its incremental load runs and commits (rt.watermarks.commit); "
                    "a source without new rows also stops it",
                    table=table,
                    entity=st.entity,
                    numbers={"lag_hours": lag, "value_lag_hours": value_lag},
                )
            )
    lags.sort(key=lambda w: -w.lag_hours)
    return lags, findings


def _value_lag(st: WatermarkState, now: datetime) -> float | None:
    """Hours between now and a datetime/date watermark's value (None for other kinds)."""
    if st.kind not in ("datetime", "date") or not st.value:
        return None
    try:
        value = datetime.fromisoformat(st.value)
    except ValueError:
        return None
    return hours_between(now, value)


# -- maintenance ----------------------------------------------------------------------------------
def maintenance_section(
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime,
    thresholds: ReportThresholds,
    operating_since: datetime | None,
    tables: set[str] | None,
) -> tuple[MaintenanceOutcome, list[HealthFinding]]:
    """The last maintenance run and the window's VACUUM / OPTIMIZE failures.

    Args:
        rows: SyncAuditLog rows of the maintenance operations in ``maintenance_days``.
        operating_since: the oldest checkpoint's time (a lakehouse older than
            ``maintenance_days`` without a maintenance run gets a LOW finding, else INFO).
    """
    summaries = sorted(
        (r for r in rows if r["Operation"] == "MaintenanceSummary" and not r.get("DryRun")),
        key=lambda r: as_utc(r["EventTime"]),
    )
    failures = {}
    for r in rows:
        if r["Operation"] in ("Vacuum", "Optimize") and r["Status"] == "Failed":
            table = row_table(r) or "(run)"
            if as_utc(r["EventTime"]) >= since and (tables is None or table in tables):
                failures[table] = f"{r['Operation']}: {r.get('ErrorSummary') or 'failed'}"
    findings = [
        finding(
            "maintenance_table",
            "MEDIUM",
            f"maintenance of {table} failed: {error}",
            "read its Vacuum / Optimize audit rows; the next weekly run retries it",
            table=None if table == "(run)" else table,
        )
        for table, error in sorted(failures.items())
    ]
    if not summaries:
        old = operating_since is not None and now - as_utc(operating_since) > timedelta(
            days=thresholds.maintenance_days
        )
        findings.append(
            finding(
                "maintenance_missing",
                "LOW" if old else "INFO",
                f"no maintenance run in the last {plural(thresholds.maintenance_days, 'day')}: "
                "Fabric never VACUUMs lakehouse tables by itself, storage only grows",
                "schedule the 'Weekly Delta Lake Maintenance' pipeline (notebooks/pipelines)",
            )
        )
        return MaintenanceOutcome(failures=failures), findings
    last = summaries[-1]
    details = _json(last.get("Details"))
    outcome = MaintenanceOutcome(
        last_run=as_utc(last["EventTime"]),
        run_id=last["RunId"],
        status=str(details.get("status") or last["Status"]),
        dry_run=bool(last.get("DryRun")),
        tables_failed=_int(details.get("tables_failed")),
        bytes_reclaimed=_int(details.get("bytes_reclaimed")),
        files_removed=_int(details.get("files_removed")),
        failures=failures,
        runs=len(summaries),
    )
    if last["Status"] == "Failed":
        findings.append(
            finding(
                "maintenance_failed",
                "HIGH",
                f"the last maintenance run {last['RunId']} "
                f"({as_utc(last['EventTime']):%Y-%m-%d %H:%M} UTC) failed: "
                f"{plural(outcome.tables_failed or 0, 'table')} failed",
                "read its MaintenanceSummary and Vacuum/Optimize rows (docs/maintenance.md), "
                "fix the cause and run the maintenance notebook again",
                numbers={"run_id": last["RunId"], "tables_failed": outcome.tables_failed},
            )
        )
    return outcome, findings


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- storage --------------------------------------------------------------------------------------
def storage_section(
    cps: Sequence[Checkpoint],
    versions: Mapping[str, int],
    *,
    tables: set[str] | None,
) -> list[TableStorage]:
    """Rows, bytes and files per table over the checkpoints (largest first), and its version.

    Args:
        cps: the checkpoints of the history window.
        versions: table -> the newest version the foreign-operation scan read (tables without
            a checkpoint are listed with it only).
        tables: only these tables (lower-case), or all.
    """
    points: dict[str, dict[str, TablePoint]] = {}
    for cp in cps:
        for t in cp.tables:
            name = t.table.lower()
            if tables is not None and name not in tables:
                continue
            points.setdefault(name, {})[cp.checkpoint_id] = TablePoint(
                checkpoint=cp.checkpoint_name,
                at=as_utc(t.version_timestamp or cp.created_date),
                version=t.version,
                rows=t.total_rows,
                bytes=t.total_bytes,
                files=t.file_count,
            )
    out = []
    newest = {k.lower(): v for k, v in versions.items() if tables is None or k.lower() in tables}
    for name in sorted(set(points) | set(newest)):
        series = sorted(points.get(name, {}).values(), key=lambda p: (p.at, p.version))
        latest = series[-1] if series else None
        out.append(
            TableStorage(
                table=name,
                rows=latest.rows if latest else None,
                bytes=latest.bytes if latest else None,
                files=latest.files if latest else None,
                points=tuple(series),
                version=newest.get(name, latest.version if latest else None),
            )
        )
    out.sort(key=lambda s: (-(s.bytes or 0), s.table))
    return out


def storage_text(s: TableStorage) -> str:
    """One line of the storage table: ``bronze.account  1,200 rows  2.0 MiB  3 files``."""
    rows = f"{s.rows:,} rows" if s.rows is not None else "rows ?"
    return f"{s.table}  {rows}  {format_bytes(s.bytes)}  {plural(s.files or 0, 'file')}"


__all__ = ["maintenance_section", "storage_section", "storage_text", "watermark_section"]
