"""The execute phase: from an approved plan to the tables back at the checkpoint, proven.

`execute_plan` is `Rollback.execute`. Under one rollback run id (``rt.context.run_id``):

1. approval (`_approval.approve_plan`): the plan re-derived from this lakehouse, the token checked;
   it hands back the checkpoint as stored, whose pins are what runs;
2. the undo point (`take_pre_checkpoint`): a ``PreRollback`` checkpoint of the tables to restore
   (reused on resume); while the tables restore, its pins become the ``Pre`` state snapshots
   (`_snapshots.write_pre_snapshots`);
3. the RESTORE (`restore_all`, concurrently, "Restoring table 7 of 50"; `restore_table` per
   table): ``engine.restore(table, pinned_version)`` with the run id and the checkpoint in the
   commit metadata, then the retention properties RESTORE rewound put back; one failure never
   stops the others;
4. validation (`_validate.validate_restored`, with the PostRollback checkpoint) and, alongside, the
   idempotency repair (`repair_ledger`: the run ledger's loads and watermark advances after the
   checkpoint invalidated, so a re-run really loads);
5. the result and its records (`_record.build_result`, `_record.finish`).

Re-running with the same run id resumes: tables already restored by it are planned as ``Resume``
and skipped here.

Example:
    >>> # result = execute_plan(rt, plan, plan.approval_token, reason="INC-123: bad sync")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fmd_runtime.config import strict_bool
from fmd_runtime.engine import CommitOptions
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.retention import BASELINE_PREFIX, DEFAULT_PROPERTY_DAYS
from fmd_runtime.rollback._approval import approve_plan
from fmd_runtime.rollback._models import (
    CHECKPOINT_KEY,
    RUN_KEY,
    TARGET_KEY,
    RunStatus,
    TableImpact,
    TableOutcome,
    elapsed_ms,
)
from fmd_runtime.rollback._record import build_result, finish, record_summary
from fmd_runtime.rollback._report import RollbackPlan, RollbackResult
from fmd_runtime.rollback._snapshots import write_pre_snapshots
from fmd_runtime.rollback._state import Execution, configs_by_table
from fmd_runtime.rollback._validate import settle_post_checkpoint, validate_restored
from fmd_runtime.store import utcnow
from fmd_runtime.validation import ValidationCheck

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")


def execute_plan(
    rt: Runtime,
    plan: RollbackPlan,
    approval_token: str | None,
    *,
    reason: str | None = None,
    dry_run: bool = False,
    require_approval: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> RollbackResult:
    """`Rollback.execute`: approve, PreRollback checkpoint, RESTORE, validate, repair, record."""
    if not isinstance(plan, RollbackPlan):
        raise ConfigError(
            f"parameter 'plan' must be a RollbackPlan, got {type(plan).__name__}",
            hint="pass the plan rt.rollback.plan(...) returned",
        )
    dry_run = strict_bool(dry_run, "dry_run")
    if require_approval is not None:
        require_approval = strict_bool(require_approval, "require_approval")
    need = plan.require_approval if require_approval is None else require_approval
    started_at, start = utcnow(), time.perf_counter()
    # 1. approval: nothing is touched before the plan is re-derived from this lakehouse
    stored = approve_plan(rt, plan, approval_token, need, reason, dry_run=dry_run)
    # what runs is what the store says: the checkpoint's own pins (checked equal to the plan's)
    plan = plan.model_copy(update={"checkpoint": stored})
    ex = Execution(plan=plan, reason=reason, started_at=started_at, start=start)
    if dry_run:
        record_summary(rt, "Planned", plan=plan, dry_run=True, reason=reason)
        return build_result(rt, ex, "Planned", dry_run=True, message="dry run: nothing changed")
    work = [t for t in plan.tables if t.action == "Restore"]
    ex.configs = configs_by_table(rt)
    try:  # 2. the undo point
        take_pre_checkpoint(rt, ex, work)
    except FmdError as exc:
        message = f"nothing was restored: the PreRollback checkpoint failed: {exc}"
        rt.audit.event("PreRollbackCheckpoint", "Failed", error=exc, severity="HIGH")
        result = build_result(rt, ex, "Failed", message=message)
        finish(rt, ex, result)
        return result
    # 3. the RESTOREs. The pre-state is pinned by the PreRollback checkpoint: its snapshot rows (counts from
    # the pins, keys sampled at the pinned versions) are written while the tables restore
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-snapshot") as pool:
        snapping = pool.submit(write_pre_snapshots, rt, ex, work)
        restored = restore_all(rt, ex, work, progress)
        try:
            snapping.result()
        except FmdError as exc:  # the undo point exists; a missing report row must not stop it
            ex.warnings.append(f"the pre-state snapshot could not be written: {exc}")
    # 4. validation, and the ledger repair, which touches other metadata than the checks: it runs
    # alongside them
    # the tables are restored now: a failure to check or record must not lose the outcome
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-repair") as pool:
        repairing = pool.submit(repair_ledger, rt, ex)
        try:
            validate_restored(rt, ex, restored)
            settle_post_checkpoint(rt, ex)
        except FmdError as exc:
            ex.checks.append(
                ValidationCheck(
                    table=None,
                    check_name="PostRollbackValidation",
                    expected="validated and recorded",
                    actual="error",
                    passed=False,
                    severity="CRITICAL",
                    message=f"post-validation could not complete: {exc}",
                )
            )
        try:
            repairing.result()
        except FmdError as exc:
            ex.warnings.append(
                f"idempotency repair failed ({exc}); invalidate the loads after the "
                "checkpoint with rt.runs.invalidate_after before re-running them"
            )
    # 5. the result: a table failed if its restore or one of its checks did
    failed_tables = {t.table for t in ex.outcomes if t.status == "Failed"} | {
        c.table for c in ex.checks if not c.passed and c.table
    }
    ok_tables = [t.table for t in ex.outcomes if t.table not in failed_tables]
    unchecked = any(not c.passed and not c.table for c in ex.checks)
    status: RunStatus = (
        "Succeeded"
        if not failed_tables and not unchecked
        else "PartiallyFailed"
        if ok_tables and any(o.status in ("Restored", "Resumed") for o in ex.outcomes)
        else "Failed"
    )
    result = build_result(rt, ex, status)
    finish(rt, ex, result)
    return result


def take_pre_checkpoint(rt: Runtime, ex: Execution, work: Sequence[TableImpact]) -> None:
    """The undo point: a PreRollback checkpoint of the tables to restore (reused on resume)."""
    run_id = rt.context.run_id
    ids = rt.store.read(
        "CheckpointHistory",
        {"RunId": run_id, "CheckpointType": "PreRollback"},
        columns=["CheckpointId"],
    )
    mine = [rt.checkpoints.get(r["CheckpointId"]) for r in ids]
    for c in sorted(mine, key=lambda c: c.created_date):
        for t in c.tables:
            ex.pre_pins.setdefault(t.table.lower(), t)
        ex.pre_name = ex.pre_name or c.checkpoint_name
    todo = [t.table for t in work if t.table.lower() not in ex.pre_pins]
    if not todo:
        if mine:
            ex.warnings.append(f"resumed: reusing PreRollback checkpoint {ex.pre_name}")
        return
    cp = rt.checkpoints.create(
        todo,
        kind="PreRollback",
        notes=(
            f"state before rollback run {run_id} to checkpoint {ex.plan.checkpoint_name}: "
            "roll back to this checkpoint to undo it"
        ),
    )
    assert cp is not None  # PreRollback raises on failure, never returns None
    for t in cp.tables:
        ex.pre_pins.setdefault(t.table.lower(), t)
    ex.pre_name = ex.pre_name or cp.checkpoint_name
    if cp.validation_status != "Validated":
        ex.warnings.append(
            f"PreRollback checkpoint {cp.checkpoint_name} failed validation (the state before "
            "the rollback is inconsistent); to undo this rollback plan it with "
            "allow_failed_validation=True"
        )
    rt.audit.event(
        "PreRollbackCheckpoint",
        "Succeeded",
        details={
            "checkpoint": cp.checkpoint_name,
            "checkpoint_id": cp.checkpoint_id,
            "validation": cp.validation_status,
            "target": ex.plan.checkpoint_name,
            "tables": todo,
        },
    )


def restore_all(
    rt: Runtime,
    ex: Execution,
    work: Sequence[TableImpact],
    progress: Callable[[str], None] | None,
) -> list[TableImpact]:
    """RESTORE every table concurrently; audit each; return the tables to validate."""
    outcomes = rt.map_tables(
        lambda t: restore_table(rt, ex, t),
        list(work),
        label="Restoring table",
        key=lambda t: t.table,
        progress=progress,
    )
    for t, res in zip(work, outcomes, strict=True):
        if res.ok:
            ex.outcomes.append(res.value)
            continue
        ex.outcomes.append(
            TableOutcome(
                table=t.table,
                status="Failed",
                pinned_version=t.pinned_version,
                version_before=t.current_version,
                error=res.error,
                error_type=res.error_type,
            )
        )
    for t in ex.plan.tables:
        if t.action != "Restore":
            ex.outcomes.append(
                TableOutcome(
                    table=t.table,
                    status="Resumed" if t.action == "Resume" else "NoOp",
                    pinned_version=t.pinned_version,
                    version_before=t.current_version,
                    version_after=t.current_version,
                    reason=t.reason,
                )
            )
    order = {t.table: i for i, t in enumerate(ex.plan.tables)}
    ex.outcomes.sort(key=lambda o: order[o.table])
    for o in ex.outcomes:
        rt.audit.event(
            "TableRestore",
            {"Restored": "Succeeded", "Failed": "Failed"}.get(o.status, "Skipped"),
            table=o.table,
            duration_ms=o.duration_ms,
            error=o.error,
            severity="HIGH" if o.status == "Failed" else "INFO",
            details={
                "checkpoint": ex.plan.checkpoint_name,
                "status": o.status,
                "from_version": o.version_before,
                "to_version": o.pinned_version,
                "version_after": o.version_after,
                "metrics": o.metrics,
                "properties_kept": o.properties_kept,
                "reason": o.reason or ex.reason,
            },
        )
    return [t for t, o in zip(ex.plan.tables, ex.outcomes, strict=True) if o.status != "Failed"]


def restore_table(rt: Runtime, ex: Execution, impact: TableImpact) -> TableOutcome:
    """RESTORE one table by version; put back the retention properties RESTORE rewound."""
    eng = rt.engine
    start = time.perf_counter()
    ref = rt.table(impact.table)
    before = eng.properties(ref)
    commit = CommitOptions(
        metadata={
            RUN_KEY: rt.context.run_id,
            CHECKPOINT_KEY: ex.plan.checkpoint_name,
            "fmd.checkpointId": ex.plan.checkpoint_id,
            TARGET_KEY: str(impact.pinned_version),
        }
    )
    res = eng.restore(ref, impact.pinned_version, commit=commit)
    after = eng.properties(ref)
    kept = {
        k: v
        for k, v in before.items()
        if (k in DEFAULT_PROPERTY_DAYS or k.startswith(BASELINE_PREFIX)) and after.get(k) != v
    }
    version_after = res.version_after
    if kept:
        # RESTORE rewinds table properties too: keep the retention that protects checkpoints
        eng.set_properties(ref, kept, commit=commit)
        version_after += 1  # one metadata commit; a concurrent writer would fail validation
    return TableOutcome(
        table=impact.table,
        status="Restored",
        pinned_version=impact.pinned_version,
        version_before=res.version_before,
        version_after=version_after,
        metrics=dict(res.metrics),
        properties_kept=kept,
        duration_ms=elapsed_ms(start),
    )


def repair_ledger(rt: Runtime, ex: Execution) -> None:
    """Invalidate the loads and watermark advances after the checkpoint (re-runs load)."""
    run_id = rt.context.run_id
    moved = [o.table for o in ex.outcomes if o.status in ("Restored", "Resumed")]
    # only tables the run ledger or the watermarks know can have something to invalidate
    names = sorted({rt.table(t).table for t in moved})
    known = {
        f"{r['SchemaName']}.{r['TableName']}".lower()
        for name in ("EntityRuns", "Watermarks")
        for r in (
            rt.store.read(name, {"TableName": names}, columns=["SchemaName", "TableName"])
            if names
            else []
        )
    }
    tables = [t for t in moved if t.lower() in known]
    after = ex.plan.checkpoint.created_date

    def repair(table: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        runs = rt.runs.invalidate_after(table, after, by_run_id=run_id)
        marks = rt.watermarks.invalidate_after(table, after, by_run_id=run_id)
        return runs, marks

    outcomes = rt.map_tables(repair, tables, label="Repairing table", key=str, progress=log.debug)
    for table, o in zip(tables, outcomes, strict=True):
        if not o.ok and o.error_type == "ConcurrentWriteError":
            try:  # another table's repair wrote the same ledger: once more, alone
                o = type(o)(item=table, value=repair(table))
            except FmdError as exc:
                o = type(o)(item=table, error=str(exc), error_type=type(exc).__name__)
        if not o.ok:
            ex.warnings.append(
                f"{table}: idempotency repair failed ({o.error}); a re-run of its loads may "
                "be skipped as already done: invalidate them with rt.runs.invalidate_after"
            )
            rt.audit.event(
                "RollbackIdempotencyRepair",
                "Failed",
                table=table,
                error=o.error,
                severity="HIGH",
            )
            continue
        runs, marks = o.value
        ex.runs += runs
        ex.watermarks += marks
        if runs or marks:
            rt.audit.event(
                "RollbackIdempotencyRepair",
                "Succeeded",
                table=table,
                severity="MEDIUM",
                details={
                    "after": after,
                    "invalidated_runs": len(runs),
                    "rewound_watermarks": [m.get("entity") for m in marks],
                },
            )
