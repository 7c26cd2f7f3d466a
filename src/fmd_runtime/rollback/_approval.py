"""The approval check: the first step of an execution, before any table is touched.

A plan is only a description of work. `approve_plan` re-derives that work from this lakehouse and
refuses (`ApprovalError`, each difference named with the plan's value and the store's) anything
that differs: `_bind` compares the plan's lakehouse identity and metadata schema with this
runtime's, and its checkpoint, scope and per-table pins with the checkpoint's rows in this store
(`_scope_differences`); then every table's current version is read again, and the token recomputed
from what was read (`_plan.approval_token`) must be the plan's, and the one given when approval is
required (`_explain_token` says, from the audit log, what changed since a stale token was issued).

It hands `_execute` the checkpoint *as stored*: its pins are what the RESTOREs go back to and what
validation checks against. A refusal is audited (``RollbackApproval`` Failed, ``Rollback`` Refused).

Example:
    >>> # approve_plan(rt, plan, plan.approval_token, need=True, reason="INC-123")
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.errors import ApprovalError, CheckpointError, FmdError
from fmd_runtime.rollback._plan import approval_token, is_all, lakehouse_identity
from fmd_runtime.rollback._record import record_summary
from fmd_runtime.rollback._report import RollbackPlan

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")


def approve_plan(
    rt: Runtime,
    plan: RollbackPlan,
    token: str | None,
    need: bool,
    reason: str | None,
    *,
    dry_run: bool = False,
) -> Checkpoint:
    """Re-derive the plan's work from this lakehouse and refuse any mismatch (audited).

    The plan is only a description of the work: its lakehouse and metadata schema must be
    this runtime's, its checkpoint, scope and target versions what the checkpoint's rows in
    this store say, its current versions what the tables say now, and the token (when
    required) the digest of exactly that work, recomputed from what was read. A dry run makes
    the same checks except the token's. Nothing has been written to any table when this
    refuses; the refusal is audited (``RollbackApproval`` Failed, ``Rollback`` Refused).

    Returns:
        The checkpoint as stored (its pins are what execution restores to and checks against).
    """
    stored, differences, here = _bind(rt, plan)
    current: dict[str, int] = {}
    changed: list[str] = []
    now_token = None
    if stored is not None and not differences:
        outcomes = rt.map_tables(
            lambda t: rt.engine.version(rt.table(t.table)),
            list(plan.tables),
            label="Checking table",
            key=lambda t: t.table,
            progress=log.debug,
        )
        current = {o.item.lower(): o.value for o in outcomes if o.ok}
        changed = [
            f"{t.table} (version {t.current_version} -> "
            f"{current.get(t.table.lower(), 'unreadable')})"
            for t in plan.tables
            if current.get(t.table.lower()) != t.current_version
        ]
    if stored is not None and not differences and not changed:
        pins = {t.table.lower(): t.version for t in stored.tables}
        now_token = approval_token(
            stored.checkpoint_id,
            {t.table: current[t.table.lower()] for t in plan.tables},
            targets={t.table: pins[t.table.lower()] for t in plan.tables},
            actions={t.table: t.action for t in plan.tables},
            lakehouse=here,
            metadata_schema=rt.config.metadata_schema,
        )
        if now_token != plan.approval_token:
            differences.append(
                f"approval token: the plan carries {plan.approval_token!r} but its work "
                f"digests to {now_token!r} (the plan was altered after it was made)"
            )
    problem = hint = None
    if differences:
        problem = "the plan does not match this lakehouse: " + "; ".join(differences)
        hint = (
            "plan again on this lakehouse (rt.rollback.plan or `fmd rollback plan`), review "
            "the new impact report and approve its token: a plan is bound to the lakehouse, "
            "checkpoint, scope and versions it was made for"
        )
    elif changed:
        problem = "tables changed since the plan: " + ", ".join(changed)
        hint = "plan again, review the new impact report and approve its token"
    elif not dry_run and need and not token:
        problem = "approval required: no approval token given"
        hint = f"review the impact report, then execute with approval_token={plan.approval_token!r}"
    elif not dry_run and need and token != now_token:
        problem = "the approval token does not match this plan"
        hint = (
            _explain_token(rt, token or "", plan)
            + f"; this plan's token is {plan.approval_token!r}: review its impact report "
            "and approve it"
        )
    if problem or stored is None:
        err = ApprovalError(
            problem or "the plan's checkpoint could not be read",
            hint=hint,
            details={
                "differences": differences,
                "changed": changed,
                "plan_token": plan.approval_token,
            },
        )
        rt.audit.event(
            "RollbackApproval",
            "Failed",
            error=err,
            severity="MEDIUM",
            dry_run=dry_run,
            details={
                "checkpoint": plan.checkpoint_name,
                "checkpoint_id": plan.checkpoint_id,
                "require_approval": need,
                "token_given": bool(token),
                "differences": differences,
                "changed": changed,
                "reason": reason,
            },
        )
        record_summary(rt, "Refused", plan=plan, dry_run=dry_run, reason=reason, message=str(err))
        raise err
    if not dry_run:
        rt.audit.event(
            "RollbackApproval",
            "Succeeded",
            details={
                "checkpoint": plan.checkpoint_name,
                "require_approval": need,
                "plan_digest": plan.approval_token,
                "lakehouse": here,
                "reason": reason,
            },
        )
    return stored


def _bind(rt: Runtime, plan: RollbackPlan) -> tuple[Checkpoint | None, list[str], str]:
    """What differs between the plan and this lakehouse's store: each difference names the
    plan's value and the store's. Returns the stored checkpoint (None when it is not there),
    the differences, and this lakehouse's identity."""
    here, schema = lakehouse_identity(rt), rt.config.metadata_schema
    out: list[str] = []
    if plan.lakehouse != here:
        out.append(
            f"lakehouse: the plan was made on the lakehouse whose checkpoints are at "
            f"{plan.lakehouse!r}; this runtime's are at {here!r}"
        )
    if plan.metadata_schema.lower() != schema.lower():
        out.append(
            f"metadata schema: the plan's is {plan.metadata_schema!r}, this runtime's is {schema!r}"
        )
    if out:  # another store: comparing its checkpoint rows with these would mean nothing
        return None, out, here
    try:
        stored: Checkpoint | None = rt.checkpoints.get(plan.checkpoint_id)
    except CheckpointError:
        stored = None
    if stored is None or stored.checkpoint_id != plan.checkpoint_id:
        out.append(
            f"checkpoint: the plan's {plan.checkpoint_id!r} ({plan.checkpoint_name}) is not in "
            "this lakehouse's metadata store"
        )
        return None, out, here
    if stored.checkpoint_name != plan.checkpoint_name:
        out.append(
            f"checkpoint name: the plan's is {plan.checkpoint_name!r}, the store's is "
            f"{stored.checkpoint_name!r}"
        )
    if not stored.is_active:
        out.append(
            "checkpoint state: active when planned, inactive in the store now (expired or "
            "deactivated since: its files may be gone)"
        )
    if stored.validation_status != "Validated" and not plan.allow_failed_validation:
        out.append(
            f"checkpoint validation: the store's is {stored.validation_status} (plan with "
            "allow_failed_validation=True to restore to it anyway)"
        )
    out += _scope_differences(plan, stored)
    return stored, out, here


def _explain_token(rt: Runtime, token: str, plan: RollbackPlan) -> str:
    """Say which tables changed since ``token`` was issued (read from the audit log)."""
    try:
        rows = rt.store.read(
            "SyncAuditLog",
            {"Operation": "RollbackImpactAnalysis", "TableName": None},
            columns=["Details"],
        )
    except FmdError:
        return "the token is unknown"
    for row in rows:
        details = json.loads(row["Details"] or "{}")
        if details.get("plan_digest") != token:
            continue
        then = {k.lower(): v for k, v in (details.get("versions") or {}).items()}
        if details.get("checkpoint_id") != plan.checkpoint_id:
            return f"that token was issued for checkpoint {details.get('checkpoint')!r}"
        moved = [
            f"{t.table} (version {then.get(t.table.lower())} -> {t.current_version})"
            for t in plan.tables
            if then.get(t.table.lower()) != t.current_version
        ]
        if set(then) != {t.table.lower() for t in plan.tables}:
            return f"that token was issued for another scope ({sorted(then)})"
        return "tables changed since that token was issued: " + ", ".join(moved)
    return "the token is unknown (no plan issued it)"


_PIN_FIELDS = (
    "version",
    "manifest_digest",
    "schema_fingerprint",
    "total_rows",
    "active_rows",
    "deleted_rows",
    "purged_rows",
)


def _scope_differences(plan: RollbackPlan, stored: Checkpoint) -> list[str]:
    """The plan's scope and per-table pins against the checkpoint's rows in the store."""
    out: list[str] = []
    pins = {t.table.lower(): t for t in stored.tables}
    embedded = {t.table.lower(): t for t in plan.checkpoint.tables}
    if not plan.tables:
        out.append("scope: the plan has no table")
    names = [t.table.lower() for t in plan.tables]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        out.append(f"scope: the plan lists {twice} more than once")
    missing = [t.table for t in plan.tables if t.table.lower() not in pins]
    if missing:
        out.append(
            f"scope: the plan's {missing} are not in checkpoint {stored.checkpoint_name!r}, "
            f"which covers {sorted(t.table for t in stored.tables)}"
        )
    if is_all(plan.scope_text) and set(names) != set(pins):
        out.append(
            f"scope: the plan says All but covers {sorted(names)}; the checkpoint covers "
            f"{sorted(pins)}"
        )
    for t in plan.tables:
        pin = pins.get(t.table.lower())
        if pin is None:
            continue
        if t.pinned_version != pin.version:
            out.append(
                f"{t.table} target version: the plan's is {t.pinned_version}, the checkpoint's "
                f"in the store is {pin.version}"
            )
        mine = embedded.get(t.table.lower())
        for name in _PIN_FIELDS:
            theirs = getattr(pin, name)
            ours = getattr(mine, name) if mine is not None else None
            if ours != theirs:
                out.append(
                    f"{t.table} checkpoint {name}: the plan's is {ours!r}, the store's is "
                    f"{theirs!r}"
                )
    return out
