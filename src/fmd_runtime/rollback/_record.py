"""What a rollback records about itself, at the end of each phase that ends it.

- `record_summary`: the one ``Rollback`` event per outcome (Planned, AwaitingApproval, Refused,
  Succeeded, PartiallyFailed, Failed) in ``SyncAuditLog``, flushed at once; ``sql/views.sql``'s
  ``vw_RollbackHistory`` reads it. `record_refusal` adds the refused step's own Failed event.
- `build_result`: the `RollbackResult` from the `Execution` (quality score, next steps).
- `finish`: the ``RollbackValidationReports`` row, the CRITICAL alert when a check failed, and the
  summary. A failure to write the report never hides that the rollback happened.

Example:
    >>> recommended_actions(FmdError("refused", hint="name a checkpoint"))
    ['name a checkpoint']
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from fmd_runtime.audit import Severity
from fmd_runtime.errors import FmdError
from fmd_runtime.rollback._models import RunStatus, elapsed_ms
from fmd_runtime.rollback._report import RollbackPlan, RollbackResult
from fmd_runtime.rollback._state import Execution
from fmd_runtime.rollback._validate import quality_score
from fmd_runtime.store import to_json, utcnow
from fmd_runtime.validation import TableMeasure

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")


def record_summary(
    rt: Runtime,
    status: str,
    *,
    plan: RollbackPlan | None = None,
    dry_run: bool,
    reason: str | None = None,
    message: str | None = None,
    result: RollbackResult | None = None,
    checkpoint: str | None = None,
    scope: str | None = None,
    duration_ms: int | None = None,
) -> None:
    """The one ``Rollback`` event per outcome (what vw_RollbackHistory reads)."""
    details: dict[str, Any] = {
        "status": status,
        "checkpoint": plan.checkpoint_name if plan else checkpoint,
        "checkpoint_id": plan.checkpoint_id if plan else None,
        "checkpoint_type": plan.checkpoint.checkpoint_type if plan else None,
        "scope": plan.scope_text if plan else scope,
        "tables": ",".join(plan.scope) if plan else None,
        "tables_in_scope": len(plan.tables) if plan else None,
        "reason": reason,
        "message": message,
    }
    if plan:
        details |= {
            "plan_digest": plan.approval_token,
            "risk": plan.totals.risk,
            "rows_changed": plan.totals.rows_changed,
            "tables_to_restore": plan.totals.tables_to_restore,
        }
    if result:
        details |= {
            "succeeded": len(result.succeeded),
            "failed": len(result.failed),
            "skipped": len(result.skipped),
            "failed_tables": ",".join(
                sorted(set(result.failed) | {c.table for c in result.failed_checks if c.table})
            ),
            "errors": {t.table: t.error for t in result.tables if t.error},
            "failed_checks": [
                f"{c.table}: {c.check_name}: {c.message or c.actual}" for c in result.failed_checks
            ][:50],
            "quality_score": result.quality_score,
            "pre_checkpoint": result.pre_checkpoint,
            "post_checkpoint": result.post_checkpoint,
            "invalidated_runs": len(result.invalidated_runs),
        }
    audit_status = {"Succeeded": "Succeeded", "Planned": "Info", "AwaitingApproval": "Info"}
    severity: dict[str, Severity] = {
        "PartiallyFailed": "HIGH",
        "Failed": "HIGH",
        "Refused": "MEDIUM",
    }
    rt.audit.event(
        "Rollback",
        audit_status.get(status, "Failed"),
        dry_run=dry_run,
        duration_ms=duration_ms,
        error=message if status in severity else None,
        severity=severity.get(status, "INFO"),
        details=details,
        flush=True,
    )


def record_refusal(
    rt: Runtime,
    operation: str,
    err: FmdError,
    checkpoint: str,
    scope: str,
    start: float,
    dry_run: bool,
) -> None:
    """The refused step's Failed event (with the recommended actions), then the summary."""
    rt.audit.event(
        operation,
        "Failed",
        error=err,
        dry_run=dry_run,
        severity="MEDIUM",
        duration_ms=elapsed_ms(start),
        details={
            "checkpoint": checkpoint,
            "scope": scope,
            "recommended_actions": recommended_actions(err),
        },
    )
    record_summary(
        rt, "Failed", dry_run=dry_run, message=str(err), checkpoint=checkpoint, scope=scope
    )


def recommended_actions(exc: BaseException) -> list[str]:
    """What an error says to do: its ``recommended_actions``, else its hint."""
    if isinstance(exc, FmdError):
        acts = exc.details.get("recommended_actions")
        if acts:
            return [str(a) for a in acts]
        return [exc.hint] if exc.hint else []
    return []


def build_result(
    rt: Runtime,
    ex: Execution,
    status: RunStatus,
    *,
    dry_run: bool = False,
    message: str | None = None,
) -> RollbackResult:
    """The `RollbackResult` of the execution so far, with its quality score and next steps."""
    comparisons = tuple(p.comparison for p in ex.posts if p.comparison)
    result = RollbackResult(
        run_id=rt.context.run_id,
        status=status,
        dry_run=dry_run,
        checkpoint_id=ex.plan.checkpoint_id,
        checkpoint_name=ex.plan.checkpoint_name,
        reason=ex.reason,
        triggered_by=rt.context.triggered_by,
        pipeline_run_id=rt.context.pipeline_run_id,
        started_at=ex.started_at,
        finished_at=utcnow(),
        approval_token=ex.plan.approval_token,
        tables=tuple(ex.outcomes),
        checks=tuple(ex.checks),
        quality_score=quality_score(ex.checks),
        comparisons=comparisons,
        pre_checkpoint=ex.pre_name,
        post_checkpoint=ex.post_name,
        invalidated_runs=tuple(ex.runs),
        rewound_watermarks=tuple(ex.watermarks),
        warnings=tuple(ex.warnings),
        message=message,
    )
    return result.model_copy(update={"recommendations": tuple(_recommendations(result))})


def finish(rt: Runtime, ex: Execution, result: RollbackResult) -> None:
    """Validation report, alerts, the summary event; one flush."""
    report = {
        "ReportId": str(uuid.uuid4()),
        "RollbackRunId": result.run_id,
        "CheckpointId": result.checkpoint_id,
        "CheckpointName": result.checkpoint_name,
        "Status": result.status,
        "ReportTime": result.finished_at,
        "TriggeredBy": result.triggered_by,
        "Reason": result.reason,
        "PipelineRunId": result.pipeline_run_id,
        "TablesInScope": len(ex.plan.tables),
        "TablesSucceeded": len(result.succeeded),
        "TablesFailed": len(result.failed),
        "TablesSkipped": len(result.skipped),
        "QualityScore": result.quality_score,
        "PreMetrics": to_json(_pre_metrics(ex)),
        "PostMetrics": to_json(
            {
                p.table: {"version": p.version, **_counts(p.measure)}
                for p in ex.posts
                if p.measure is not None
            }
        ),
        "DeltaAnalysis": to_json({c.table: c.model_dump() for c in result.comparisons}),
        "Recommendations": to_json(list(result.recommendations)),
        "ReportText": result.to_text(),
    }
    try:
        rt.store.append("RollbackValidationReports", [report])
    except FmdError as exc:  # the rollback happened; losing its report must not hide that
        log.warning("fmd rollback: could not write the validation report: %s", exc)
        rt.audit.event("RollbackValidationReport", "Failed", error=exc, severity="HIGH")
    bad = result.failed_checks
    if bad:
        errors: dict[str, str] = {}
        for c in bad:
            key = c.table or "(rollback)"
            errors[key] = "; ".join(
                x for x in (errors.get(key), f"{c.check_name}: {c.message or c.actual}") if x
            )
        rt.alerts.send(
            "CRITICAL",
            f"[CRITICAL] Rollback {result.run_id} to {result.checkpoint_name}: "
            f"{result.status}, quality score {result.quality_score}%",
            key=f"rollback-validation:{result.run_id}",
            tables=sorted(errors),
            errors=errors,
            first_steps=list(result.recommendations),
            details={
                "rollback_run_id": result.run_id,
                "checkpoint": result.checkpoint_name,
                "quality_score": result.quality_score,
                "report": "SELECT * FROM metadata.RollbackValidationReports WHERE "
                f"RollbackRunId = '{result.run_id}'",
            },
            operation="ValidationAlert",
        )
    record_summary(
        rt,
        result.status,
        plan=ex.plan,
        dry_run=result.dry_run,
        reason=result.reason,
        message=result.message,
        result=result,
        duration_ms=elapsed_ms(ex.start),
    )


def _recommendations(r: RollbackResult) -> list[str]:
    """The next steps the result recommends (what to fix, notify, re-run or undo)."""
    out = []
    bad = sorted({c.table for c in r.failed_checks if c.table and c.table not in r.failed})
    if r.status == "Planned":
        return ["review the impact report, then execute with the approval token"]
    if r.failed:
        out.append(
            f"fix the cause of the failed restore(s) ({', '.join(r.failed)}) and run the rollback "
            f"again with run id {r.run_id} to resume (tables already restored are skipped)"
        )
    if bad:
        out.append(
            f"do not use {', '.join(bad)}: post-validation failed; roll back again (to an earlier "
            "checkpoint if needed) or fix the data, then validate again"
        )
    if r.message and r.status == "Failed" and not r.tables:
        out.append("nothing was changed: fix the cause above and run the rollback again")
    moved = [t.table for t in r.tables if t.status in ("Restored", "Resumed")]
    if moved:
        out.append(
            f"notify downstream consumers that {', '.join(moved)} are back at checkpoint "
            f"{r.checkpoint_name}, and refresh the reports and models that read them"
        )
        out.append(
            "re-run the loads since the checkpoint to bring the tables forward"
            + (
                f" ({len(r.invalidated_runs)} load(s) invalidated, "
                f"{len(r.rewound_watermarks)} watermark(s) rewound)"
                if r.invalidated_runs or r.rewound_watermarks
                else ""
            )
        )
    if r.pre_checkpoint and moved:
        out.append(f"to undo this rollback, roll back to checkpoint {r.pre_checkpoint}")
    return out


def _pre_metrics(ex: Execution) -> dict[str, Any]:
    return {
        t: {
            "version": p.version,
            "total": p.total_rows,
            "active": p.active_rows,
            "deleted": p.deleted_rows,
            "purged": p.purged_rows,
        }
        for t, p in sorted(ex.pre_pins.items())
    }


def _counts(m: TableMeasure | None) -> dict[str, Any]:
    if m is None:
        return {}
    return {"total": m.total, "active": m.active, "deleted": m.deleted, "purged": m.purged}
