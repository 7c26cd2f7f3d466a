"""The rollback notebook's whole logic (``notebooks/fmd_rollback``), as one call that never raises
for a refusal.

`run_notebook` is `Rollback.run_notebook`: `_plan.plan_rollback` with the notebook's parameters,
then by the parameters: a dry run stops at the plan (``Planned``); no token where approval is
required stops there too (``AwaitingApproval``, with the token to approve); otherwise
`_execute.execute_plan`. A refused validation ends ``Failed`` and a stale token
``AwaitingApproval``, each with the recommended actions; a broken parameter (a flag that is not a
boolean) still raises `ConfigError`. The `RollbackRun` it returns carries the notebook's exit value.

Example:
    >>> # run = run_notebook(rt, "bronze_batch_2025-01-15", dry_run=False, approval_token="rb-...")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ApprovalError, FmdError
from fmd_runtime.rollback._execute import execute_plan
from fmd_runtime.rollback._plan import plan_rollback
from fmd_runtime.rollback._record import recommended_actions, record_summary
from fmd_runtime.rollback._report import RollbackRun

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def run_notebook(
    rt: Runtime,
    checkpoint_name: str | None,
    *,
    checkpoint_type: str | None = None,
    tables_scope: str | None = "All",
    require_approval: bool = True,
    approval_token: str | None = None,
    dry_run: bool = True,
    reason: str | None = None,
    allow_failed_validation: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RollbackRun:
    """`Rollback.run_notebook`: plan, then stop (dry run, no token) or execute; a `RollbackRun`."""
    require_approval = strict_bool(require_approval, "require_approval")
    dry_run = strict_bool(dry_run, "dry_run")
    allow_failed_validation = strict_bool(allow_failed_validation, "allow_failed_validation")
    base: dict[str, Any] = {
        "run_id": rt.context.run_id,
        "pipeline_run_id": rt.context.pipeline_run_id,
        "dry_run": dry_run,
    }
    try:
        plan = plan_rollback(
            rt,
            checkpoint_name or None,
            tables_scope or "All",
            kind=checkpoint_type or None,
            require_approval=require_approval,
            allow_failed_validation=allow_failed_validation,
        )
    except FmdError as exc:
        return RollbackRun(
            status="Failed",
            checkpoint_name=checkpoint_name or None,
            message=str(exc),
            recommended_actions=tuple(recommended_actions(exc)),
            **base,
        )
    known: dict[str, Any] = {"checkpoint_name": plan.checkpoint_name, "plan": plan, **base}
    if dry_run:
        return RollbackRun(
            status="Planned",
            approval_token=plan.approval_token,
            message="dry run: nothing changed",
            recommended_actions=(
                "review the impact report; to execute, run with dry_run=False and "
                f"approval_token={plan.approval_token!r}",
            ),
            **known,
        )
    if require_approval and not approval_token:
        record_summary(rt, "AwaitingApproval", plan=plan, dry_run=False, reason=reason)
        return RollbackRun(
            status="AwaitingApproval",
            approval_token=plan.approval_token,
            message="approval required: nothing changed",
            recommended_actions=(
                f"review the impact report, then re-run with approval_token="
                f"{plan.approval_token!r}",
            ),
            **known,
        )
    try:
        result = execute_plan(
            rt,
            plan,
            approval_token or None,
            reason=reason or None,
            require_approval=require_approval,
            progress=progress,
        )
    except ApprovalError as exc:
        return RollbackRun(
            status="AwaitingApproval",
            approval_token=plan.approval_token,
            message=f"refused: {exc}",
            recommended_actions=tuple(recommended_actions(exc)),
            **known,
        )
    return RollbackRun(
        status=result.status,
        approval_token=plan.approval_token,
        quality_score=result.quality_score,
        message=result.message,
        recommended_actions=result.recommendations,
        result=result,
        **known,
    )
