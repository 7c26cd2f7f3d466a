"""Rollback to a checkpoint: plan, approve, RESTORE, validate, report.

"Last night's sync marked 40,000 active records deleted: put bronze back as it was at the last good
checkpoint, prove it, and record everything"::

    plan = rt.rollback.plan("bronze_batch_2025-01-15")     # validation + impact; changes nothing
    print(plan.to_text())                                   # per table: what changes, risk, token
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-123: bad sync")
    result.status, result.quality_score                     # ('Succeeded', 100.0)

**Plan** (`Rollback.plan`): validation first (the checkpoint exists, is active, ``Validated`` and,
per `Checkpoints.verify`, restorable for every table in scope; a subset must be inside it), then the
impact per table, read concurrently: current and pinned versions and counts, the exact row deltas
per state, how far back in time, the commits undone (with the writer's metrics), a risk level, the
file-level effect (files and bytes RESTORE adds back and removes, from the two versions' file lists
compared on path and deletion-vector id), streaming warnings, and the dependency analysis over
``PipelineConfig.related_tables`` / ``foreign_keys``. A table whose files and schema already equal
the checkpoint's is a no-op. A plan is bound to the lakehouse it was made on (where its metadata
store lives, and the metadata schema). The approval token is a digest of exactly the work: that
lakehouse, the checkpoint, the scope, and every table's current and target version and action.
`Rollback.execute` re-derives all of it (the checkpoint's rows in this store, the tables' versions
now) before the first RESTORE and refuses (`ApprovalError`, naming each difference with the plan's
and the store's value; audited, no table changed) a plan from another lakehouse, an altered plan,
or one whose tables moved since, so what was approved is exactly what runs.

**Execute** (`Rollback.execute`), under one rollback run id (``rt.context.run_id``):

1. approval check; 2. a ``PreRollback`` checkpoint of the tables to restore (the undo point),
   whose pins are the pre-state snapshots (``RollbackStateSnapshots``);
3. RESTORE of each table to its pinned version, concurrently (``rt.map_tables``, "Restoring table
   7 of 50"), each commit carrying ``fmd.rollbackRunId`` / ``fmd.checkpointName``; RESTORE also
   rewinds table properties, so the retention properties that protect checkpoints are put back;
   one failure never stops the others;
4. a ``PostRollback`` checkpoint of the restored tables, linked to the target: its pins are the
   post-state, read once for both (while the key-level comparisons run);
5. zero-tolerance post-validation (file manifest digest and counts equal the checkpoint's, counts
   add up, no null keys, no row flagged both deleted and purged, no orphans between related
   tables) to ``DataValidation``, a quality score, a CRITICAL alert on any failure (and the
   PostRollback checkpoint deactivated); post-state snapshots, comparison reports
   (``RollbackComparisonReports``: one FULL OUTER JOIN per table between the pre-state and
   restored versions), the validation report (``RollbackValidationReports``);
6. alongside, the idempotency repair: the run ledger's loads and the watermark advances after the
   checkpoint are invalidated, so a re-run really loads.

Re-running with the same run id resumes: tables already restored by it are skipped (no-op).
Every step is audited in ``SyncAuditLog`` (RollbackValidation, RollbackImpactAnalysis,
RollbackApproval, PreRollbackCheckpoint, TableRestore, PostRollbackValidation,
PostRollbackCheckpoint, RollbackIdempotencyRepair and one ``Rollback`` summary per outcome, read by
``sql/views.sql``'s ``vw_RollbackHistory``).

**Where the code is** (this facade delegates each method to one phase function; each private
module's docstring says what it does and what it hands to the next)::

    Rollback.plan         -> _plan.plan_rollback          resolution, scope, checks, token
                             _impact.read_impacts         the impact, table by table
    Rollback.execute      -> _execute.execute_plan        the steps 1-6 above, in order:
                             _approval.approve_plan       1. plan re-derived, token checked
                             _execute.take_pre_checkpoint 2. the undo point
                             _execute.restore_table       3. engine.restore(table, pinned version)
                             _validate.validate_restored  4-5. PostRollback checkpoint, checks
                             _execute.repair_ledger       6. the run ledger and the watermarks
    Rollback.run_notebook -> _notebook.run_notebook       plan, then execute by the parameters

The models are in ``_models`` (per table) and ``_report`` (`RollbackPlan`, `RollbackResult`,
`RollbackRun` and their text/HTML), the SQL text in ``_sql``, the audit summary and the result in
``_record``, the state the execution's phases share in ``_state``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fmd_runtime.config import CheckpointKind
from fmd_runtime.rollback import _execute, _notebook, _plan
from fmd_runtime.rollback._impact import file_effect, risk_level, rows_changed, rows_touched
from fmd_runtime.rollback._models import (
    CHECKPOINT_KEY,
    RUN_KEY,
    Action,
    CommitUndone,
    ComparisonReport,
    Counts,
    DependencyGap,
    PlanTotals,
    Risk,
    RunStatus,
    TableImpact,
    TableOutcome,
    TableStatus,
)
from fmd_runtime.rollback._plan import approval_token
from fmd_runtime.rollback._report import RollbackPlan, RollbackResult, RollbackRun
from fmd_runtime.rollback._sql import comparison_sql, orphan_sql, state_sql
from fmd_runtime.rollback._validate import quality_score

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class Rollback:
    """``rt.rollback``: plan, approve, execute and report rollbacks to a checkpoint.

    Args:
        runtime: the `Runtime` (engine, store, config, audit, alerts, checkpoints).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def plan(
        self,
        checkpoint: str | None = None,
        tables: str | Sequence[str] | None = "All",
        *,
        kind: CheckpointKind | None = None,
        require_approval: bool = True,
        allow_failed_validation: bool = False,
    ) -> RollbackPlan:
        """Validate a rollback and analyse its impact; nothing changes (this is the dry run).

        Args:
            checkpoint: the target checkpoint's name or id; empty or ``"latest"``: the newest
                active, Validated checkpoint (of ``kind``) covering the tables.
            tables: ``"All"`` (the checkpoint's tables) or a subset (``"bronze.a,bronze.b"``).
            kind: the checkpoint type the operator expects (DailyBatch, PrePurge, Manual ...);
                a checkpoint of another type is refused.
            require_approval: `execute` needs the plan's approval token (default).
            allow_failed_validation: accept a checkpoint whose validation Failed (e.g. a
                PreRollback checkpoint that recorded an inconsistent state, to undo a rollback).
                Both flags take a bool or the strings "true"/"false"/"1"/"0".

        Returns:
            The `RollbackPlan` (impact per table, totals, dependency gaps, approval token),
            bound to this lakehouse (``lakehouse``, ``metadata_schema``).

        Raises:
            ConfigError: a flag is not a boolean (nothing is written).
            RollbackError: validation failed; the message says why and the hint what to do
                (``details["recommended_actions"]``).

        Example:
            >>> # plan = rt.rollback.plan("bronze_batch_2025-01-15", tables="bronze.account")
        """
        return _plan.plan_rollback(
            self._rt,
            checkpoint,
            tables,
            kind=kind,
            require_approval=require_approval,
            allow_failed_validation=allow_failed_validation,
        )

    def execute(
        self,
        plan: RollbackPlan,
        approval_token: str | None = None,
        *,
        reason: str | None = None,
        dry_run: bool = False,
        require_approval: bool | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> RollbackResult:
        """Execute a plan: PreRollback checkpoint, RESTORE, validation, reports, repair.

        Args:
            plan: from `plan` (same checkpoint and scope).
            approval_token: the plan's token (required when approval is required).
            reason: why (recorded in the audit log and the reports).
            dry_run: report the plan as ``Planned`` and change nothing (a bool, or the strings
                "true"/"false"/"1"/"0" a pipeline passes).
            require_approval: overrides the plan's setting (same forms as ``dry_run``).
            progress: callback for progress lines ("Restoring table 7 of 50: ...").

        Returns:
            The `RollbackResult`: Succeeded, PartiallyFailed (some tables failed to restore or
            validate; the others are restored) or Failed.

        Before the first RESTORE the plan is bound to this lakehouse: its lakehouse identity and
        metadata schema must be this runtime's, its checkpoint, scope and every target version
        what the checkpoint's rows in this store say, every current version what the table says
        now, and the token the digest of exactly that work. A dry run makes the same checks
        (not the token's) and reports ``Planned``.

        Raises:
            ConfigError: ``plan`` is not a `RollbackPlan`, or ``dry_run`` / ``require_approval``
                is not a boolean (nothing is written).
            ApprovalError: the plan was made on another lakehouse or does not match the
                checkpoint in this store (each difference named with the plan's and the store's
                value), a table changed since the plan, no token, or a token that is not this
                plan's (audited; no table was changed).

        Example:
            >>> # result = rt.rollback.execute(plan, plan.approval_token, reason="INC-123")
        """
        return _execute.execute_plan(
            self._rt,
            plan,
            approval_token,
            reason=reason,
            dry_run=dry_run,
            require_approval=require_approval,
            progress=progress,
        )

    def run_notebook(
        self,
        checkpoint_name: str | None = None,
        *,
        checkpoint_type: CheckpointKind | None = None,
        tables_scope: str | None = "All",
        require_approval: bool = True,
        approval_token: str | None = None,
        dry_run: bool = True,
        reason: str | None = None,
        allow_failed_validation: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> RollbackRun:
        """What the rollback notebook does, with its parameters: never raises for a refusal.

        Dry run: the plan (status ``Planned``). Otherwise, without a token when approval is
        required: ``AwaitingApproval`` with the token to approve. With the token: execute
        (``Succeeded`` / ``PartiallyFailed`` / ``Failed``); a stale token is refused and the run
        ends ``AwaitingApproval`` with the current plan's token. A refused validation ends
        ``Failed`` with the recommended actions.

        Args:
            checkpoint_name: the target checkpoint (as `plan`'s ``checkpoint``; empty: the latest).
            checkpoint_type: the checkpoint type expected (as `plan`'s ``kind``; empty: any).
            tables_scope: ``"All"`` or a subset (as `plan`'s ``tables``).
            require_approval: execution needs ``approval_token`` (default).
            approval_token: the token of the plan a previous run showed.
            dry_run: plan only (default).
            reason: why (recorded in the audit log and the reports).
            allow_failed_validation: as `plan`'s.
            progress: callback for progress lines, as `execute`'s.

        The flags (``require_approval``, ``dry_run``, ``allow_failed_validation``) take a bool or
        the strings "true"/"false"/"1"/"0" (any case) that pipeline parameters arrive as; the other
        parameters take the empty string a pipeline passes for "not set".

        Returns:
            The `RollbackRun`; ``run.exit_value()`` is the notebook's exit value.

        Raises:
            ConfigError: a flag is not a boolean ("yes", "", 2, None ...): a broken parameter is
                not a refusal; nothing is written.

        Example:
            >>> # run = rt.rollback.run_notebook("bronze_batch_2025-01-15", dry_run=True)
        """
        return _notebook.run_notebook(
            self._rt,
            checkpoint_name,
            checkpoint_type=checkpoint_type,
            tables_scope=tables_scope,
            require_approval=require_approval,
            approval_token=approval_token,
            dry_run=dry_run,
            reason=reason,
            allow_failed_validation=allow_failed_validation,
            progress=progress,
        )


__all__ = [
    "CHECKPOINT_KEY",
    "RUN_KEY",
    "Action",
    "CommitUndone",
    "ComparisonReport",
    "Counts",
    "DependencyGap",
    "PlanTotals",
    "Risk",
    "Rollback",
    "RollbackPlan",
    "RollbackResult",
    "RollbackRun",
    "RunStatus",
    "TableImpact",
    "TableOutcome",
    "TableStatus",
    "approval_token",
    "comparison_sql",
    "file_effect",
    "orphan_sql",
    "quality_score",
    "risk_level",
    "rows_changed",
    "rows_touched",
    "state_sql",
]
