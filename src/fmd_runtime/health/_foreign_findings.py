"""The foreign-operation scan's findings, alerts and records.

One finding per foreign operation (HIGH when it broke an active checkpoint, MEDIUM for a data
change, INFO for harmless maintenance), one per broken checkpoint no operation explains and per
table that could not be read; at most one HIGH and one MEDIUM alert per scan (through
``rt.alerts``: deduplicated by what they name); the audit events and the ``HealthScans`` rows
(one commit).

Example:
    >>> # record_scan(rt, scan, reads)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fmd_runtime._text import plural
from fmd_runtime.alerts import AlertSeverity
from fmd_runtime.checkpoints import Checkpoint, VerifyResult
from fmd_runtime.health._foreign_models import ForeignOperation, ForeignScan, TableRead
from fmd_runtime.health._history import MAINTENANCE_KINDS
from fmd_runtime.health._models import FindingSeverity, HealthFinding

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def unexplained_finding(
    res: VerifyResult, table: str, status: str, reason: str | None, dropped: bool
) -> HealthFinding:
    """The HIGH finding of a broken checkpoint pin no scanned operation explains (or of a table
    an active checkpoint pins that no longer exists)."""
    what = "the table no longer exists" if dropped else (reason or status)
    return HealthFinding(
        check="foreign.table_dropped" if dropped else "foreign.unexplained",
        severity="HIGH",
        message=f"checkpoint {res.checkpoint_name} is {status} for {table}: {what}"
        + ("" if dropped else " (no foreign operation in the scanned history explains it)"),
        fix=f"do not roll back to {res.checkpoint_name}; take a new checkpoint "
        "(rt.checkpoints.create) and find out who changed the table outside the library",
        table=table,
        numbers={"checkpoint": res.checkpoint_name, "status": status},
    )


def operation_finding(o: ForeignOperation) -> HealthFinding:
    """The finding of one foreign operation: HIGH when harmful, INFO for harmless maintenance,
    MEDIUM for a data change."""
    numbers: dict[str, Any] = {
        "version": o.version,
        "timestamp": o.timestamp.isoformat(),
        "operation": o.operation,
        "files_removed": o.files_removed,
        "rows_deleted": o.rows_deleted,
        "parameters": o.parameters,
        "user_name": o.user_name,
        "engine_info": o.engine_info,
    }
    head = f"{o.label} at {o.when} by {o.who} (version {o.version})"
    if o.harmful:
        names = ", ".join(o.affected_checkpoints)
        cause = "removed files" if o.kind == "vacuum" else "changed the retention"
        missing = f" ({plural(o.missing_files, 'file')} missing)" if o.missing_files else ""
        return HealthFinding(
            check=f"foreign.{o.kind}",
            severity="HIGH",
            message=f"{head} {cause} checkpoint {names} needs: {o.restorability_after}{missing}",
            fix=f"do not roll back to {names}; take a new checkpoint now "
            "(rt.checkpoints.create), find who runs maintenance outside the library (portal "
            "table maintenance, the Lakehouse Maintenance activity, the TableMaintenance API, "
            "semantic-link-labs) and keep the table's retention properties covering its "
            "checkpoints (rt.maintenance)",
            table=o.table,
            numbers=numbers
            | {"checkpoints": o.affected_checkpoints, "missing_files": o.missing_files},
        )
    if o.kind in MAINTENANCE_KINDS:
        checked = (
            f"; checkpoints pinning it: {o.restorability_after}" if o.restorability_after else ""
        )
        return HealthFinding(
            check=f"foreign.{o.kind}",
            severity="INFO",
            message=f"{head}: harmless, no active checkpoint lost anything{checked}",
            fix="nothing to do; schedule maintenance through rt.maintenance, which keeps "
            "checkpoints restorable",
            table=o.table,
            numbers=numbers,
        )
    rows = f", {plural(o.rows_deleted, 'row')} deleted" if o.rows_deleted else ""
    return HealthFinding(
        check=f"foreign.{o.kind}",
        severity="MEDIUM",
        message=f"{head} changed the data outside the library{rows}",
        fix="find out who made it and whether it was meant; if not, roll back to the last "
        f"checkpoint before version {o.version} (rt.rollback.plan(<checkpoint>))",
        table=o.table,
        numbers=numbers,
    )


def read_findings(
    reads: Sequence[TableRead],
    failures: dict[str, str],
    missing: set[str],
    active: Sequence[Checkpoint],
) -> list[HealthFinding]:
    """Findings about the reads themselves: a gap (too many commits since the last scan) and
    the tables whose history could not be read (a dropped pinned table is the verification's)."""
    pinned = {t.table.lower() for c in active for t in c.tables}
    out = []
    for r in reads:
        if r.gap is not None:
            out.append(
                HealthFinding(
                    check="foreign.scan_gap",
                    severity="LOW",
                    message=f"{r.table}: {r.notes[-1]}",
                    fix="scan more often (the daily report does), or pass a larger max_commits",
                    table=r.table,
                    numbers={"first_unscanned": r.gap[0], "last_unscanned": r.gap[1]},
                )
            )
    for table, error in failures.items():
        if table.lower() in missing and table.lower() in pinned:
            continue  # reported by the verification (foreign.table_dropped)
        severity: FindingSeverity = "INFO" if table.lower() in missing else "MEDIUM"
        out.append(
            HealthFinding(
                check="foreign.scan_failed",
                severity=severity,
                message=f"{table}: history not read: {error}",
                fix="create or load the table before scanning it"
                if table.lower() in missing
                else "check storage access; the next scan reads the same commits again",
                table=table,
            )
        )
    return out


# -- recording -------------------------------------------------------------------------------------
def record_scan(rt: Runtime, scan: ForeignScan, reads: Sequence[TableRead]) -> None:
    """Audit events, the alerts (one HIGH, one MEDIUM at most), then one HealthScans commit."""
    for o in scan.operations:
        rt.audit.event(
            "ForeignOperation",
            "Warning" if o.harmful or o.kind not in MAINTENANCE_KINDS else "Info",
            table=o.table,
            severity="HIGH" if o.harmful else "INFO",
            details=o.model_dump(mode="json"),
        )
    rt.audit.event(
        "ForeignScan",
        "Warning" if scan.harmful else "Succeeded",
        severity="HIGH" if scan.harmful else "INFO",
        details={
            "tables": len(scan.tables_scanned),
            "commits_read": scan.commits_read,
            "library_commits": scan.library_commits,
            "foreign": len(scan.operations),
            "harmful": len(scan.harmful),
            "failures": scan.failures,
        },
    )
    _alert(rt, [f for f in scan.findings if f.severity == "HIGH"], "HIGH")
    _alert(rt, [f for f in scan.findings if f.severity == "MEDIUM"], "MEDIUM")
    rt.audit.flush()
    counts = {r.table: (0, 0) for r in reads}
    for o in scan.operations:
        n, h = counts[o.table]
        counts[o.table] = (n + 1, h + int(o.harmful))
    rows = [
        {
            "SchemaName": r.table.split(".", 1)[0],
            "TableName": r.table.split(".", 1)[1],
            "LastVersion": r.last_version,
            "LastCommitTime": r.last_time,
            "FirstVersion": r.first_version,
            "CommitsRead": len(r.entries),
            "ForeignOperations": counts[r.table][0],
            "HarmfulOperations": counts[r.table][1],
            "ScannedAt": scan.scanned_at,
            "RunId": rt.context.run_id,
            "Notes": "; ".join(r.notes) or None,
        }
        for r in reads
        if r.last_version >= 0
    ]
    if rows:
        rt.store.append("HealthScans", rows)  # one commit for every table scanned


def _alert(rt: Runtime, findings: Sequence[HealthFinding], severity: AlertSeverity) -> None:
    """One alert for the findings of a level (deduplicated by what they name)."""
    if not findings:
        return
    names = sorted(f"{f.check}|{f.table}|{f.numbers.get('version')}" for f in findings)
    digest = hashlib.sha1("\n".join(names).encode("utf-8")).hexdigest()[:12]
    title = (
        f"[{severity}] {findings[0].message}"
        if len(findings) == 1
        else f"[{severity}] {len(findings)} foreign operations need attention: "
        + "; ".join(f.message for f in findings[:3])
    )
    rt.alerts.send(
        severity,
        title[:500],
        key=f"foreign:{severity}:{digest}",
        tables=sorted({f.table for f in findings if f.table}),
        errors={f"{f.table} v{f.numbers.get('version', '?')}": f.message for f in findings},
        first_steps=list(dict.fromkeys(f.fix for f in findings))[:5],
        details={"findings": [f.model_dump(mode="json") for f in findings[:50]]},
    )


__all__ = ["operation_finding", "read_findings", "record_scan", "unexplained_finding"]
