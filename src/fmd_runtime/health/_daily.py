"""Building the daily report and handing it out: the page under ``Files/``, HealthFindings, audit, alert.

`build_report` reads (`_gather`: each metadata table once), scans the tables' history for
foreign operations (`scan_foreign_operations`: each table's history once, from its high-water
mark; ``record`` follows ``write``: the marks, its audit events and its alerts), applies the
anomaly rules to the checkpoints already read (`find_anomalies`, alerting when ``alert``),
judges its own sections (`_rules`, `_operations`), and then, in this order:

1. writes the HTML page to ``<lakehouse>/Files/fmd/health/<date>_<run id>.html`` (`files_root`:
   the embedded engine's lakehouse folder, else Fabric's ``/lakehouse/default`` mount; a Spark
   notebook without a default lakehouse writes no file unless ``files_root`` is given);
2. writes every finding plus one ``report.summary`` row to ``HealthFindings`` in ONE commit
   (`record_findings`, which preflight and the scans can use too);
3. audits one ``HealthReport`` event (status, counts, page) and flushes;
4. raises ONE alert (HIGH; CRITICAL when a finding is) summarising the blocking findings that
   were not alerted already: the scan (when it recorded), the anomaly rules and a verification
   run by the report (``verify``) alert by themselves.

Example:
    >>> # report = build_report(rt, since_hours=24, tables=None, write=True, alert=True)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.fabric import default_lakehouse_root
from fmd_runtime.health._anomalies import find_anomalies
from fmd_runtime.health._foreign import ForeignScan, scan_foreign_operations
from fmd_runtime.health._gather import gather
from fmd_runtime.health._models import HealthFinding, HealthStatus, overall_status
from fmd_runtime.health._operations import maintenance_section, storage_section, watermark_section
from fmd_runtime.health._render import sorted_findings
from fmd_runtime.health._report import HealthReport
from fmd_runtime.health._rules import checkpoint_sections, run_sections
from fmd_runtime.health._sections import ReportThresholds
from fmd_runtime.store import to_json, utcnow
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

HEALTH_FOLDER = ("fmd", "health")
"""Where under the lakehouse's ``Files/`` the pages go: ``Files/fmd/health/``."""

_AUDIT_STATUS = {"Healthy": "Succeeded", "Warning": "Warning", "Unhealthy": "Failed"}
_AUDIT_SEVERITY: dict[str, Any] = {"Healthy": "INFO", "Warning": "LOW", "Unhealthy": "HIGH"}


def files_root(rt: Runtime, override: str | Path | None = None) -> Path | None:
    """The lakehouse's ``Files`` folder this process can write to, or None.

    ``override`` when given; else the embedded engine's local lakehouse folder + ``Files``; else
    Fabric's mounted default lakehouse (``/lakehouse/default/Files``, in Python and Spark
    notebooks with a default lakehouse); else None (an object-store root, or Spark outside
    Fabric: pass ``files_root``).

    Example:
        >>> # files_root(rt) -> PosixPath('/data/lakehouse/Files')
    """
    if override is not None:
        return Path(override)
    root = getattr(rt.engine, "root", None)  # the embedded engine's folder; Spark has none
    if isinstance(root, str) and "://" not in root:
        return Path(root) / "Files"
    mount = default_lakehouse_root()
    return Path(mount) / "Files" if mount else None


def page_name(generated_at: datetime, run_id: str) -> str:
    """``<YYYY-MM-DD>_<run id>.html``, the run id reduced to file-name characters.

    Example:
        >>> from datetime import datetime
        >>> page_name(datetime(2025, 1, 15), "run/1 2")
        '2025-01-15_run_1_2.html'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:120] or "run"
    return f"{generated_at:%Y-%m-%d}_{safe}.html"


def write_page(folder: Path, name: str, page: str) -> Path:
    """Write ``page`` to ``folder/name`` (folders created), through a temporary file, and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path


def record_findings(
    rt: Runtime,
    findings: Sequence[HealthFinding],
    *,
    report_id: str,
    source: str,
    generated_at: datetime,
    status: HealthStatus | None = None,
    window_start: datetime | None = None,
    html_path: str | None = None,
    summary: dict[str, Any] | None = None,
) -> int:
    """Write ``findings`` and one ``report.summary`` row to ``HealthFindings`` in one commit.

    The summary row (severity INFO) makes a report with no finding visible to the views too;
    its ``Numbers`` carry the counts per severity and ``summary``.

    Returns:
        Rows written.

    Example:
        >>> # record_findings(rt, report.findings, report_id=report.report_id, source="report", ...)
    """
    status = status or overall_status(list(findings))
    base = {
        "ReportId": report_id,
        "Source": source,
        "RunId": rt.context.run_id,
        "PipelineRunId": rt.context.pipeline_run_id,
        "GeneratedAt": generated_at,
        "ReportStatus": status,
        "WindowStart": window_start,
        "HtmlPath": html_path,
    }
    counts = {s: sum(1 for f in findings if f.severity == s) for s in _SEVERITIES}
    rows = [
        {
            **base,
            "CheckName": "report.summary",
            "Severity": "INFO",
            "BlocksRun": False,
            "Message": f"{source}: {status}, {len(findings)} finding(s)",
            "Fix": None,
            "Numbers": to_json({"counts": counts, **(summary or {})}),
            "ObservedAt": generated_at,
        }
    ]
    for f in findings:
        ref = _table_ref(f.table)
        rows.append(
            {
                **base,
                "CheckName": f.check,
                "Severity": f.severity,
                "BlocksRun": f.blocks_run,
                "SchemaName": ref.schema_name if ref else None,
                "TableName": ref.table if ref else f.table,
                "EntityId": f.entity,
                "Message": f.message,
                "Fix": f.fix,
                "Numbers": to_json(f.numbers) if f.numbers else None,
                "ObservedAt": f.observed_at,
            }
        )
    rt.store.append("HealthFindings", rows)
    return len(rows)


_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


def _table_ref(name: str | None) -> TableRef | None:
    if not name:
        return None
    try:
        return TableRef.parse(name)
    except Exception:  # a finding about something that is not a table name: keep the text
        return None


def build_report(
    rt: Runtime,
    *,
    since_hours: float,
    tables: Sequence[TableRef] | None,
    write: bool,
    alert: bool,
    verify: bool,
    thresholds: ReportThresholds,
    files_root_override: str | Path | None = None,
    now: datetime | None = None,
) -> HealthReport:
    """The work of `Health.report` (arguments already checked; documented there)."""
    now = now or utcnow()
    since = now - timedelta(hours=since_hours)
    data = gather(rt, now=now, thresholds=thresholds, tables=tables)
    scan = scan_foreign_operations(rt, data.scan, record=write, checkpoints=data.active)
    anomalies = find_anomalies(
        rt, now=now, tables=tables, checkpoints=data.checkpoints, alert=alert
    )
    alerted = {"anomaly."} | ({"foreign."} if write else set())
    # checkpoints the scan verified again after a foreign operation: their state is the scan's
    verified = _scan_verified(scan, data.checkpoints, now)
    if verify:
        verified |= _verify_targets(rt, data.checkpoints)
    if verify or (verified and write):  # those verifications alerted by themselves
        alerted |= {"report.checkpoint_unrestorable", "report.checkpoint_at_risk"}
    scopes, cp_findings = checkpoint_sections(
        data.checkpoints,
        now=now,
        thresholds=thresholds,
        enabled_tables=data.enabled,
        verified=verified,
    )
    history_start = now - timedelta(days=thresholds.history_days)
    runs, per_day, run_findings = run_sections(
        data.ledger, now=now, since=since, thresholds=thresholds, history_start=history_start
    )
    lags, wm_findings = watermark_section(
        data.watermarks, now=now, thresholds=thresholds, tables=data.tables
    )
    oldest = min((c.created_date for c in data.checkpoints), default=None)
    maintenance, mt_findings = maintenance_section(
        data.audit,
        now=now,
        since=since,
        thresholds=thresholds,
        operating_since=oldest,
        tables=data.tables,
    )
    storage = storage_section(data.checkpoints, scan.high_water_marks, tables=data.tables)
    findings = _without_repeats(
        [*cp_findings, *run_findings, *wm_findings, *mt_findings], anomalies
    )
    findings += [*scan.findings, *anomalies]
    report = HealthReport(
        report_id=str(uuid.uuid4()),
        run_id=rt.context.run_id,
        pipeline_run_id=rt.context.pipeline_run_id,
        generated_at=now,
        window_start=since,
        window_hours=since_hours,
        status=overall_status(findings),
        findings=tuple(sorted_findings(findings)),
        scopes=tuple(scopes),
        runs=tuple(runs),
        failures_per_day=tuple(per_day),
        watermarks=tuple(lags),
        maintenance=maintenance,
        storage=tuple(storage),
        foreign_operations=tuple(scan.operations),
        foreign_scan_failures=scan.failures,
        tables_scanned=len(scan.tables_scanned),
        thresholds=thresholds,
    )
    return publish(rt, report, write=write, alert=alert, alerted=alerted, files=files_root_override)


def _without_repeats(
    own: Sequence[HealthFinding], anomalies: Sequence[HealthFinding]
) -> list[HealthFinding]:
    """The report's findings less those an anomaly already names for the same scope or entity.

    A stale checkpoint scope (``report.checkpoint_stale``) that ``anomaly.checkpoint_missing``
    names, and a lagging watermark (``report.watermark_lag``) of an entity that
    ``anomaly.watermark_stalled`` names, are one problem: the anomaly (judged against the
    scope's or entity's own rhythm) is kept, the report's absolute threshold is the fallback.
    """
    scopes = {
        str(f.numbers.get("scope")) for f in anomalies if f.check == "anomaly.checkpoint_missing"
    }
    entities = {f.entity for f in anomalies if f.check == "anomaly.watermark_stalled"}
    return [
        f
        for f in own
        if not (f.check == "report.checkpoint_stale" and f.numbers.get("scope") in scopes)
        and not (f.check == "report.watermark_lag" and f.entity in entities)
    ]


def _scan_verified(
    scan: ForeignScan, cps: Sequence[Checkpoint], now: datetime
) -> dict[str, tuple[str, datetime]]:
    """Checkpoint id -> the worst restorability the scan found for it after a foreign operation."""
    rank = {"Restorable": 0, "AtRisk": 1, "Unrestorable": 2}
    found: dict[str, str] = {}
    for op in scan.operations:
        for name in op.affected_checkpoints:
            status = op.restorability_after or "Unrestorable"
            if rank.get(status, 2) > rank.get(found.get(name, "Restorable"), 0):
                found[name] = status
    return {
        c.checkpoint_id: (found[c.checkpoint_name], now) for c in cps if c.checkpoint_name in found
    }


def _verify_targets(rt: Runtime, cps: Sequence[Checkpoint]) -> dict[str, tuple[str, datetime]]:
    """Verify each scope's newest restore target now (each verification alerts by itself)."""
    newest: dict[str, Checkpoint] = {}
    for cp in sorted(cps, key=lambda c: (c.created_date, c.checkpoint_name)):
        if cp.is_restore_target:
            newest[cp.scope or "(no scope)"] = cp
    out: dict[str, tuple[str, datetime]] = {}
    for cp in newest.values():
        result = rt.checkpoints.verify(cp.checkpoint_id)
        out[cp.checkpoint_id] = (result.status, utcnow())
    return out


def publish(
    rt: Runtime,
    report: HealthReport,
    *,
    write: bool,
    alert: bool,
    alerted: set[str],  # check names (or prefixes) already alerted by the check itself
    files: str | Path | None,
) -> HealthReport:
    """Write the page and the HealthFindings rows (``write``), audit, alert (``alert``)."""
    html_path = None
    if write:
        folder = files_root(rt, files)
        if folder is not None:
            path = write_page(
                folder.joinpath(*HEALTH_FOLDER),
                page_name(report.generated_at, report.run_id),
                report.model_copy(update={"html_path": "(this page)"}).to_html(),
            )
            html_path = str(path)
        written = record_findings(
            rt,
            report.findings,
            report_id=report.report_id,
            source="report",
            generated_at=report.generated_at,
            status=report.status,
            window_start=report.window_start,
            html_path=html_path,
            summary={"tables": report.tables_scanned, "window_hours": report.window_hours},
        )
        report = report.model_copy(update={"html_path": html_path, "findings_written": written})
    rt.audit.event(
        "HealthReport",
        _AUDIT_STATUS[report.status],
        severity=_AUDIT_SEVERITY[report.status],
        details={
            "report_id": report.report_id,
            "status": report.status,
            "counts": report.counts,
            "findings": len(report.findings),
            "tables": report.tables_scanned,
            "window_hours": report.window_hours,
            "html_path": report.html_path,
            "written": write,
        },
        flush=True,
    )
    blocking = [f for f in report.blocking if not f.check.startswith(tuple(alerted))]
    if alert and blocking:
        _alert(rt, report, blocking)
    return report


def _alert(rt: Runtime, report: HealthReport, blocking: Sequence[HealthFinding]) -> None:
    """One alert for the report's blocking findings (deduplicated on the set of checks/targets)."""
    critical = any(f.severity == "CRITICAL" for f in blocking)
    targets = sorted({f"{f.check}:{f.table or f.entity or ''}" for f in blocking})
    rt.alerts.send(
        "CRITICAL" if critical else "HIGH",
        f"Platform health: Unhealthy - {len(blocking)} blocking finding(s)",
        key="health-report:" + ",".join(targets),
        tables=sorted({f.table for f in blocking if f.table}),
        errors={f"{f.check} {f.table or f.entity or ''}".strip(): f.message for f in blocking},
        first_steps=list(dict.fromkeys(f.fix for f in blocking))[:3],
        details={"report_id": report.report_id, "html_path": report.html_path},
    )


__all__ = [
    "HEALTH_FOLDER",
    "build_report",
    "files_root",
    "page_name",
    "publish",
    "record_findings",
    "write_page",
]
