"""Running a maintenance plan: retention properties, VACUUM, OPTIMIZE, checkpoint retention.

`run_plan` is `Maintenance.run`. A dry run (the default) reports what the plan would do; a real
run takes the optional PreMaintenance checkpoint, plans again the tables whose checkpoints
changed (`_plan.refresh`), then per table in the runtime's pool raises the retention properties,
VACUUMs with the retention the plan proved (and checks the deleted files against the keep-set
once more), lowers the properties no checkpoint needs any more, and OPTIMIZEs. It then enforces
checkpoint retention, alerts on failures, unsafe skips and a slow run, and audits the summary.
It is separate from planning because this is the only phase that changes tables: every write
to a table, and every per-table failure that must be reported rather than raised, is here.

Example:
    >>> # result = run_plan(rt, plan, dry_run=False, pre_checkpoint=False,
    >>> #                   expected_duration_minutes=120, max_plan_age_minutes=60, progress=None)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from fmd_runtime._text import format_bytes, plural
from fmd_runtime.alerts import AlertSeverity
from fmd_runtime.audit import Severity
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.errors import ConfigError, FmdError, MaintenanceError
from fmd_runtime.maintenance._models import (
    MaintenancePlan,
    MaintenanceResult,
    PropertyChange,
    RunStatus,
    TablePlan,
    TableRun,
    TableStatus,
)
from fmd_runtime.maintenance._plan import keep_set, overlap, plan_maintenance, refresh
from fmd_runtime.retention import BASELINE_PREFIX, log_retention_cover
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_STATUS: dict[str, TableStatus] = {"refused": "Refused", "skip": "Skipped"}
_WEEK_MINUTES = 7 * 24 * 60
"""Largest ``expected_duration_minutes`` / ``max_plan_age_minutes`` of `Maintenance.run`."""


class _RunState(NamedTuple):
    plan: MaintenancePlan
    start: float
    dry_run: bool
    alerts: list[str]
    expected_minutes: float


def _minutes(value: Any, parameter: str) -> float:
    """A duration of `Maintenance.run` in minutes: 0 to a week (0: always alert / re-plan)."""
    return float(check_number(value, parameter, minimum=0, maximum=_WEEK_MINUTES, unit="minutes"))


def run_plan(
    rt: Runtime,
    plan: MaintenancePlan,
    *,
    dry_run: bool,
    pre_checkpoint: bool,
    expected_duration_minutes: float,
    max_plan_age_minutes: float,
    progress: Callable[[str], None] | None,
) -> MaintenanceResult:
    """`Maintenance.run`: arguments checked first, then the tables, then the audited summary."""
    # "false" from a pipeline must mean False: the result and audit then say what really ran
    dry_run = strict_bool(dry_run, "dry_run")
    pre_checkpoint = strict_bool(pre_checkpoint, "pre_checkpoint")
    if not isinstance(plan, MaintenancePlan):
        raise ConfigError(
            f"parameter 'plan' must be a MaintenancePlan, got {type(plan).__name__}",
            hint="pass the plan rt.maintenance.plan(...) returned",
        )
    expected_duration_minutes = _minutes(expected_duration_minutes, "expected_duration_minutes")
    max_plan_age_minutes = _minutes(max_plan_age_minutes, "max_plan_age_minutes")
    start = time.perf_counter()
    if utcnow() - plan.created_at > timedelta(minutes=max_plan_age_minutes):
        plan = plan_maintenance(rt, **plan.parameters, progress=progress)
    pre_name: str | None = None
    alerts: list[str] = []
    if not dry_run and pre_checkpoint:
        data = [
            tp.table
            for tp in plan.tables
            if tp.kind == "data" and tp.requested_retention_hours is not None
        ]
        try:
            cp = rt.checkpoints.create(data, kind="PreMaintenance")
            if cp is None:
                raise MaintenanceError(
                    "the PreMaintenance checkpoint was not created", hint="see its audit events"
                )
            pre_name = cp.checkpoint_name
        except FmdError as exc:
            state = _RunState(plan, start, dry_run, alerts, expected_duration_minutes)
            title = "PreMaintenance checkpoint failed: maintenance did not run"
            alerts.append(
                _alert(
                    rt,
                    "pre-checkpoint",
                    "CRITICAL",
                    title,
                    {"checkpoint": str(exc)},
                    ["fix it, then re-run"],
                )
            )
            return _finish(rt, state, [], failed_early=str(exc))
    if not dry_run:  # after the PreMaintenance checkpoint: it pins versions and raises retention
        plan = refresh(rt, plan)
    state = _RunState(plan, start, dry_run, alerts, expected_duration_minutes)
    outcomes = rt.map_tables(
        lambda tp: _run_table(rt, tp, dry_run),
        list(plan.tables),
        label="Maintaining table",
        progress=progress,
        key=lambda tp: tp.table,
    )
    runs = [
        o.value if o.ok else TableRun(table=o.item, status="Failed", dry_run=dry_run, error=o.error)
        for o in outcomes
    ]
    deactivated: tuple[str, ...] = ()
    deactivation_error = None
    try:
        deactivated = _deactivated_names(rt.checkpoints.enforce_retention(dry_run=dry_run))
    except Exception as exc:  # the summary must report it and alert, never hide it
        deactivation_error = f"{type(exc).__name__}: {exc}"
        steps = [
            "check CheckpointHistory is writable",
            "re-run rt.checkpoints.enforce_retention(dry_run=False)",
        ]
        alerts.append(
            _alert(
                rt,
                "retention",
                "CRITICAL",
                "Checkpoint retention enforcement failed",
                {"checkpoints": deactivation_error},
                steps,
            )
        )
    return _finish(rt, state, runs, deactivated, deactivation_error, pre_name)


def _run_table(rt: Runtime, tp: TablePlan, dry_run: bool) -> TableRun:
    start = time.perf_counter()
    if tp.vacuum == "failed" or tp.requested_retention_hours is None:  # missing or unplannable
        return TableRun(
            table=tp.table,
            status="Failed" if tp.vacuum == "failed" else "Skipped",
            dry_run=dry_run,
            error=tp.error,
        )
    errors: list[str] = []
    # Raises before VACUUM (no VACUUM without the retention it was planned with), lowerings
    # after it (this run's VACUUM was proved with the current retention).
    raises = [c for c in tp.property_changes if c.direction == "raise"]
    lowers = [c for c in tp.property_changes if c.direction == "lower"]
    if raises and not dry_run:
        _apply(rt, tp.ref, raises, errors)
    vac = _vacuum(rt, tp, dry_run, errors) if tp.vacuum == "run" and not errors else {}
    if lowers and not dry_run and not errors:
        _apply(rt, tp.ref, lowers, errors)
    opt = (
        _optimize(rt, tp, dry_run, errors)
        if tp.optimize
        else {"optimize_note": "OPTIMIZE disabled"}
    )
    status: TableStatus = "Failed" if errors else _STATUS.get(tp.vacuum, "Succeeded")
    error = "; ".join([*errors, *([tp.error] if tp.error else [])]) or None
    ms = int((time.perf_counter() - start) * 1000)
    return TableRun(
        table=tp.table,
        status=status,
        dry_run=dry_run,
        property_changes=tp.property_changes,
        duration_ms=ms,
        error=error,
        **vac,
        **opt,
    )


def _vacuum(rt: Runtime, tp: TablePlan, dry_run: bool, errors: list[str]) -> dict[str, Any]:
    ref, start = tp.ref, time.perf_counter()
    details: dict[str, Any] = {
        "retention_hours": tp.retention_hours,
        "keep_versions": list(tp.keep_versions),
        "protection": tp.protection,
        "protected_files": tp.protected_files,
        "checkpoints": list(tp.checkpoints),
    }
    try:
        if dry_run:
            files, size = tp.candidate_files, tp.candidate_bytes or 0
        else:
            hours, keep = int(tp.retention_hours or 0), tp.keep_versions
            res = rt.engine.vacuum(
                ref,
                retention_hours=hours,
                dry_run=False,
                keep_versions=keep,
                enforce_retention=tp.enforce_retention,
                commit=rt.commit_options(),
            )
            files, size = res.files, res.bytes or 0
            _check_deleted(rt, tp, files)
    except Exception as exc:  # a table's failure is reported, never raised
        errors.append(f"VACUUM: {exc}")
        _event(rt, "Vacuum", "Failed", tp, start, dry_run, details, error=exc)
        return {}
    details |= {"files_removed": len(files), "bytes_reclaimed": size}
    _event(rt, "Vacuum", "Succeeded", tp, start, dry_run, details)
    return {"vacuum_files": tuple(files), "files_removed": len(files), "bytes_reclaimed": size}


def _check_deleted(rt: Runtime, tp: TablePlan, deleted: Sequence[str]) -> None:
    """After the fact, the proof once more: nothing VACUUM deleted is a checkpoint's file."""
    broken = overlap(deleted, tp._keep or keep_set(rt, tp.ref, tp.proof_versions))
    if broken:
        steps = ["run rt.checkpoints.verify on this table's checkpoints"]
        title = f"VACUUM deleted {len(broken)} checkpoint file(s) of {tp.table}"
        _alert(
            rt, f"deleted:{tp.table}", "CRITICAL", title, {tp.table: ", ".join(broken[:5])}, steps
        )
        msg = f"VACUUM deleted {len(broken)} file(s) an active checkpoint needs"
        raise MaintenanceError(msg, table=tp.table, hint=steps[0])


def _optimize(rt: Runtime, tp: TablePlan, dry_run: bool, errors: list[str]) -> dict[str, Any]:
    ref, start = tp.ref, time.perf_counter()
    details: dict[str, Any] = {"zorder_by": list(tp.zorder_by), "vorder": tp.vorder}
    try:
        # Compaction leaves a lone file alone by itself; Z-ORDER would rewrite it every week.
        files = rt.engine.files(ref) if dry_run or tp.zorder_by else None
        if files is not None and (
            not files
            or (len(files) == 1 and (not tp.zorder_by or _last_operation(rt, ref) == "OPTIMIZE"))
        ):
            done = ", already Z-ordered" if files and tp.zorder_by else ""
            note = f"OPTIMIZE not needed: {len(files)} file(s){done}"
            _event(rt, "Optimize", "Skipped", tp, start, dry_run, details | {"note": note})
            return {"optimize_note": note}
        if files is not None and dry_run:
            how = f"Z-ORDER BY ({', '.join(tp.zorder_by)})" if tp.zorder_by else "compaction"
            size = format_bytes(sum(f.size_bytes for f in files))
            note = f"OPTIMIZE would rewrite {len(files)} file(s) ({size}) by {how}"
            _event(rt, "Optimize", "Succeeded", tp, start, dry_run, details | {"note": note})
            return {"optimize_note": note}
        res = rt.engine.optimize(
            ref, zorder_by=tp.zorder_by, vorder=tp.vorder, commit=rt.commit_options()
        )
    except Exception as exc:  # a table's failure is reported, never raised
        errors.append(f"OPTIMIZE: {exc}")
        _event(rt, "Optimize", "Failed", tp, start, dry_run, details, error=exc)
        return {}
    details |= {
        "files_added": res.files_added,
        "files_removed": res.files_removed,
        "vorder_applied": res.vorder,
    }
    _event(rt, "Optimize", "Succeeded", tp, start, dry_run, details)
    return {
        "optimize_files_added": res.files_added,
        "optimize_files_removed": res.files_removed,
    }


def _event(
    rt: Runtime,
    op: str,
    status: str,
    tp: TablePlan,
    start: float,
    dry_run: bool,
    details: dict[str, Any],
    error: Exception | None = None,
) -> None:
    ms = int((time.perf_counter() - start) * 1000)
    severity: Severity = "HIGH" if error else "INFO"
    rt.audit.event(
        op,
        status,
        table=tp.ref,
        dry_run=dry_run,
        details=details,
        duration_ms=ms,
        error=error,
        severity=severity,
    )


def _apply(
    rt: Runtime, ref: TableRef, changes: Sequence[PropertyChange], errors: list[str]
) -> None:
    try:
        props = rt.engine.properties(ref)
        values = {c.property: c.new for c in changes}
        for c in changes:  # the operator's value is recorded once, before the first raise
            if c.direction == "raise" and BASELINE_PREFIX + c.property not in props:
                values[BASELINE_PREFIX + c.property] = c.current or "default"
        values |= log_retention_cover(props, values)
        rt.engine.set_properties(ref, values, commit=rt.commit_options())
    except Exception as exc:  # reported with the table, never raised
        errors.append(f"retention properties: {exc}")
        rt.audit.event("RetentionChange", "Failed", table=ref, error=exc, severity="HIGH")
        return
    for c in changes:
        rt.audit.event(
            "RetentionChange",
            "Succeeded",
            table=ref,
            severity="LOW",
            details=c.model_dump(mode="json"),
        )


def _alert(
    rt: Runtime,
    key: str,
    severity: AlertSeverity,
    title: str,
    errors: dict[str, str],
    steps: Sequence[str] = (),
) -> str:
    tables = [t for t in errors if "." in t]
    rt.alerts.send(
        severity,
        title,
        key=f"maintenance:{key}",
        tables=tables,
        errors=errors,
        first_steps=list(steps),
    )
    return title


def _finish(
    rt: Runtime,
    state: _RunState,
    runs: list[TableRun],
    deactivated: tuple[str, ...] = (),
    deactivation_error: str | None = None,
    pre_name: str | None = None,
    failed_early: str | None = None,
) -> MaintenanceResult:
    plan, dry_run, alerts = state.plan, state.dry_run, state.alerts
    seconds = time.perf_counter() - state.start
    failed = {r.table: r.error or "failed" for r in runs if r.status == "Failed"}
    if len(failed) > 3:
        steps = [
            "read each table's error in the summary",
            "re-run the failed tables with tables_scope",
        ]
        alerts.append(
            _alert(
                rt,
                "failures",
                "HIGH",
                f"Maintenance: {plural(len(failed), 'table')} failed",
                failed,
                steps,
            )
        )
    unsafe = {
        tp.table: tp.error or "" for tp in plan.tables if tp.vacuum == "skip" and tp.checkpoints
    }
    if unsafe and not failed_early:
        title = f"VACUUM skipped on {len(unsafe)} table(s) to protect checkpoints"
        alerts.append(
            _alert(
                rt,
                "unsafe",
                "HIGH",
                title,
                unsafe,
                ["raise the table's retention, or deactivate the old checkpoint"],
            )
        )
    if seconds > state.expected_minutes * 60:
        title = f"Maintenance took {seconds / 60:.1f} min (expected {state.expected_minutes:g})"
        alerts.append(
            _alert(
                rt,
                "duration",
                "MEDIUM",
                title,
                {},
                ["check the slowest tables in the Vacuum / Optimize audit events"],
            )
        )
    # A run that maintained no table is never Succeeded (its only table refused, missing...);
    # one that left some tables out (failed, refused, skipped) is PartiallyFailed.
    maintained = sum(r.status == "Succeeded" for r in runs)
    left_out = [r for r in runs if r.status in ("Skipped", "Refused")]
    run_failure = failed_early
    status: RunStatus
    if failed_early or not maintained:
        status = "Failed"
        if not failed_early and not failed:
            why = ", ".join(f"{r.table} {r.status.lower()}" for r in left_out[:5])
            run_failure = "no table was maintained: " + (why or "no table in scope")
    else:
        status = "PartiallyFailed" if failed or left_out or deactivation_error else "Succeeded"
    result = MaintenanceResult(
        run_id=rt.context.run_id,
        dry_run=dry_run,
        status=status,
        tables=tuple(runs),
        tables_processed=len(runs),
        tables_succeeded=maintained,
        tables_failed=len(failed),
        tables_skipped=len(left_out),
        failures=failed | ({"(run)": run_failure} if run_failure else {}),
        bytes_reclaimed=sum(r.bytes_reclaimed for r in runs),
        files_removed=sum(r.files_removed for r in runs),
        checkpoints_deactivated=deactivated,
        deactivation_error=deactivation_error,
        pre_maintenance_checkpoint=pre_name,
        duration_seconds=round(seconds, 3),
        alerts=tuple(alerts),
    )
    ok = status == "Succeeded"
    rt.audit.event(
        "MaintenanceSummary", "Succeeded" if ok else "Failed", dry_run=dry_run, severity="INFO" if ok else "HIGH",
        duration_ms=int(seconds * 1000), details=result.to_exit_dict(), flush=True,
    )  # fmt: skip
    return result


def _last_operation(rt: Runtime, ref: TableRef) -> str:
    history = rt.engine.history(ref, limit=1)
    return history[0].operation.upper() if history else ""


def _deactivated_names(res: Any) -> tuple[str, ...]:
    items = getattr(res, "deactivated", None) or ()
    return tuple(getattr(i, "checkpoint_name", None) or str(i) for i in items)


__all__ = ["run_plan"]
