"""The plan phase: from a checkpoint name to a validated `RollbackPlan`; nothing is changed.

`plan_rollback` is `Rollback.plan`. In order:

1. resolution (`_resolve_checkpoint`): the checkpoint by name or id, or the newest active,
   Validated one of the kind asked for that covers the tables ("latest"); a name that does not
   exist is refused with the nearest names;
2. scope (`_pins_in_scope`): the checkpoint's pins of the tables asked for (all, or a subset that
   must be inside it);
3. the checks that need no read (`_check_target`: active, Validated), then, concurrently, the
   impact reads (`_impact.read_impacts`) and restorability (`Checkpoints.verify`), and the check
   that every table in scope is restorable (`_check_restorable`);
4. the dependency analysis (`_dependency_gaps`: related tables the scope leaves at another point in
   time, from ``PipelineConfig.related_tables`` / ``foreign_keys``);
5. the plan (`_assemble_plan`): totals, risk, warnings, and the `approval_token`, a digest of
   exactly the work, bound to this lakehouse (`lakehouse_identity`) and metadata schema.

Every refusal is a `RollbackError` saying what to do, audited (`_record.record_refusal`). The plan
goes back to the caller; `_execute.execute_plan` takes it (with its token) from there.

Example:
    >>> approval_token("cp-1", {"bronze.a": 3}) == approval_token("cp-1", {"BRONZE.A": 3})
    True
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fmd_runtime.checkpoints import Checkpoint, CheckpointTable, VerifyResult
from fmd_runtime.config import TableConfig, strict_bool
from fmd_runtime.errors import CheckpointError, FmdError, RollbackError
from fmd_runtime.rollback._impact import read_impacts
from fmd_runtime.rollback._models import (
    DependencyGap,
    PlanTotals,
    Risk,
    TableImpact,
    elapsed_ms,
)
from fmd_runtime.rollback._record import record_refusal, record_summary
from fmd_runtime.rollback._report import RollbackPlan
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef, parse_tables
from fmd_runtime.validation import manifest_digest

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_RANK: dict[str, int] = {"Low": 0, "Medium": 1, "High": 2}

_ALL = {"", "all", "*"}


def plan_rollback(
    rt: Runtime,
    checkpoint: str | None,
    tables: str | Sequence[str] | None,
    *,
    kind: str | None = None,
    require_approval: bool = True,
    allow_failed_validation: bool = False,
) -> RollbackPlan:
    """`Rollback.plan`: resolve, scope and check the target, read the impact, make the plan.

    Audited: ``RollbackValidation`` and ``RollbackImpactAnalysis`` (Succeeded or Failed) and the
    ``Rollback`` summary (``Planned``, or ``Failed`` with the recommended actions).
    """
    require_approval = strict_bool(require_approval, "require_approval")
    allow_failed_validation = strict_bool(allow_failed_validation, "allow_failed_validation")
    start = time.perf_counter()
    scope_text = scope_label(tables)
    try:
        cp = _resolve_checkpoint(rt, checkpoint, kind, tables)  # 1. resolution
        pins = _pins_in_scope(rt, cp, tables)  # 2. scope
        _check_target(rt, cp, pins, allow_failed_validation)  # 3. checks, impact
        # restorability (verify) and the impact reads overlap: both read every table
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-plan") as pool:
            reading = pool.submit(read_impacts, rt, pins, cp.batch_id)
            try:
                verify = rt.checkpoints.verify(cp.checkpoint_id)
            finally:
                configs, outcomes = reading.result()
        _check_restorable(rt, cp, pins, verify)
    except FmdError as exc:
        err = (
            exc
            if isinstance(exc, RollbackError)
            else RollbackError(
                exc.message, table=exc.table, hint=exc.hint, details=dict(exc.details)
            )
        )
        record_refusal(
            rt, "RollbackValidation", err, checkpoint or "latest", scope_text, start, dry_run=True
        )
        if err is exc:
            raise
        raise err from exc
    rt.audit.event(
        "RollbackValidation",
        "Succeeded",
        dry_run=True,
        duration_ms=elapsed_ms(start),
        details={
            "checkpoint": cp.checkpoint_name,
            "checkpoint_id": cp.checkpoint_id,
            "checkpoint_type": cp.checkpoint_type,
            "scope": scope_text,
            "tables": [p.table for p in pins],
            "restorability": verify.status,
        },
    )
    failed = [o for o in outcomes if not o.ok]
    if failed:
        err = RollbackError(
            "impact analysis failed for " + "; ".join(f"{o.item}: {o.error}" for o in failed),
            hint="fix the tables named (they must be readable) and plan again",
            details={"recommended_actions": ["fix the tables named and plan again"]},
        )
        record_refusal(
            rt, "RollbackImpactAnalysis", err, cp.checkpoint_name, scope_text, start, True
        )
        raise err
    by_table = {v.table.lower(): v for v in verify.tables}
    impacts = [_with_verification(o.value, by_table.get(o.item.lower())) for o in outcomes]
    gaps = _dependency_gaps(rt, cp, impacts, configs)  # 4. dependencies
    plan = _assemble_plan(  # 5. the plan and its token
        rt,
        cp,
        kind,
        scope_text,
        impacts,
        gaps,
        verify,
        require_approval,
        allow_failed_validation,
        time.perf_counter() - start,
    )
    _audit_plan(rt, plan, start)
    return plan


def _resolve_checkpoint(rt: Runtime, name: str | None, kind: str | None, tables: Any) -> Checkpoint:
    """The target checkpoint: by name/id, or the newest restore target of ``kind``."""
    cp: Checkpoint
    if not name or name.strip().lower() in ("latest", "last"):
        wanted = [] if is_all(tables) else [t.name.lower() for t in _refs(rt, tables)]
        for cp in rt.checkpoints.list(active_only=True, kind=kind or None):
            names = {t.table.lower() for t in cp.tables}
            if cp.validation_status == "Validated" and all(w in names for w in wanted):
                return cp
        raise RollbackError(
            f"no active, Validated {kind + ' ' if kind else ''}checkpoint covers "
            f"{scope_label(tables)}",
            hint="list them with `fmd checkpoint list` (or rt.checkpoints.list()) and name one",
            details={"recommended_actions": ["name a checkpoint from `fmd checkpoint list`"]},
        )
    try:
        cp = rt.checkpoints.get(name.strip())
    except CheckpointError as exc:
        taken = [c.checkpoint_name for c in rt.checkpoints.list(active_only=False)]
        near = difflib.get_close_matches(name.strip(), taken, n=3, cutoff=0.5)
        actions = [f"did you mean {', '.join(near)}?"] if near else []
        actions.append("list checkpoints with `fmd checkpoint list` or rt.checkpoints.list()")
        raise RollbackError(
            f"checkpoint {name.strip()!r} does not exist",
            hint="; ".join(actions),
            details={"recommended_actions": actions, "nearest": near},
        ) from exc
    if kind and cp.checkpoint_type.lower() != kind.strip().lower():
        raise RollbackError(
            f"checkpoint {cp.checkpoint_name!r} is a {cp.checkpoint_type} checkpoint, not {kind}",
            hint="pass the checkpoint's own type (or none) as checkpoint_type",
            details={"recommended_actions": [f"use checkpoint_type={cp.checkpoint_type!r}"]},
        )
    return cp


def _refs(rt: Runtime, tables: Any) -> list[TableRef]:
    return parse_tables(tables, default_schema=rt.config.default_schema)


def _pins_in_scope(rt: Runtime, cp: Checkpoint, tables: Any) -> list[CheckpointTable]:
    """The pinned tables in scope (a subset must be inside the checkpoint)."""
    if is_all(tables):
        return sorted(cp.tables, key=lambda t: t.table.lower())
    pinned = {t.table.lower(): t for t in cp.tables}
    refs = _refs(rt, tables)
    missing = [r.name for r in refs if r.name.lower() not in pinned]
    if missing:
        raise RollbackError(
            f"table(s) {missing} are not in checkpoint {cp.checkpoint_name!r}",
            hint=f"it covers {sorted(pinned_t.table for pinned_t in cp.tables)}; choose "
            "tables among them, or a checkpoint that covers these",
            details={"recommended_actions": ["choose tables the checkpoint covers"]},
        )
    return sorted((pinned[r.name.lower()] for r in refs), key=lambda t: t.table.lower())


def _check_target(
    rt: Runtime, cp: Checkpoint, pins: Sequence[CheckpointTable], allow: bool
) -> None:
    """Active and Validated (the checks that need no table read); else a RollbackError."""
    problems: list[str] = []
    actions: list[str] = []
    if not cp.is_active:
        problems.append(
            f"it is no longer active (retention date {cp.retention_date}; expired checkpoints "
            "are kept for the record but their files may be gone)"
        )
    if cp.validation_status != "Validated" and not allow:
        bad = [
            f"{t.table}: {t.validation_message or t.validation_status}"
            for t in cp.tables
            if t.validation_status != "Validated"
        ]
        problems.append(
            f"its validation status is {cp.validation_status}"
            + (f" ({'; '.join(bad)})" if bad else "")
        )
        if cp.checkpoint_type == "PreRollback":
            actions.append(
                "to undo a rollback to this PreRollback state anyway, plan with "
                "allow_failed_validation=True"
            )
    if problems:
        actions.insert(0, _pick_another(rt, cp, pins))
        raise RollbackError(
            f"cannot roll back to checkpoint {cp.checkpoint_name!r}: " + "; ".join(problems),
            hint="; ".join(actions),
            details={"problems": problems, "recommended_actions": actions},
        )


def _check_restorable(
    rt: Runtime, cp: Checkpoint, pins: Sequence[CheckpointTable], verify: VerifyResult
) -> None:
    """Every table in scope restorable per `Checkpoints.verify`; else a RollbackError."""
    scope = {p.table.lower() for p in pins}
    lost = [v for v in verify.tables if v.table.lower() in scope and v.status == "Unrestorable"]
    if not lost:
        return
    keep = [p.table for p in pins if p.table not in {v.table for v in lost}]
    actions = [_pick_another(rt, cp, pins)]
    if keep:
        actions.append(f"or roll back the restorable tables only: tables={','.join(keep)!r}")
    raise RollbackError(
        f"cannot roll back to checkpoint {cp.checkpoint_name!r}: "
        + "; ".join(f"{v.table} is unrestorable ({v.reason})" for v in lost),
        hint="; ".join(actions),
        details={
            "problems": [f"{v.table}: {v.reason}" for v in lost],
            "recommended_actions": actions,
        },
    )


def _pick_another(rt: Runtime, cp: Checkpoint, pins: Sequence[CheckpointTable]) -> str:
    others = _alternatives(rt, cp, pins)
    if others:
        return f"choose another checkpoint ({', '.join(others)})"
    return "take a new checkpoint of the tables once their state is known to be good"


def _alternatives(rt: Runtime, cp: Checkpoint, pins: Sequence[CheckpointTable]) -> list[str]:
    """Up to three other restore targets that cover the same tables."""
    wanted = {p.table.lower() for p in pins}
    out = []
    for c in rt.checkpoints.list(active_only=True):
        names = {t.table.lower() for t in c.tables}
        if c.checkpoint_id != cp.checkpoint_id and c.is_restore_target and wanted <= names:
            out.append(c.checkpoint_name)
    return out[:3]


def _dependency_gaps(
    rt: Runtime,
    cp: Checkpoint,
    impacts: Sequence[TableImpact],
    configs: Mapping[str, TableConfig],
) -> list[DependencyGap]:
    """Related tables (PipelineConfig) that the scope leaves at another point in time."""
    eng = rt.engine
    moving = {t.table.lower() for t in impacts if t.action == "Restore"}
    scope = {t.table.lower() for t in impacts}
    pinned = {t.table.lower(): t for t in cp.tables}
    pairs: set[tuple[str, str]] = set()
    for cfg in configs.values():
        related = set(cfg.related_tables) | {
            ".".join(v.split(".")[:2]) for v in cfg.foreign_keys.values()
        }
        for other in related:
            a, b = cfg.table.lower(), other.lower()
            if a in moving and b not in scope:
                pairs.add((cfg.table, other))
            elif b in moving and a not in scope:
                pairs.add((other, cfg.table))
    gaps = []
    for table, other in sorted(pairs):
        pin = pinned.get(other.lower())
        ref = rt.table(other)
        if pin is not None:
            if eng.exists(ref) and manifest_digest(eng.files(ref)) == pin.manifest_digest:
                continue  # already at the checkpoint: rolling back `table` stays consistent
            message = (
                f"{table} goes back to checkpoint {cp.checkpoint_name!r} but its related "
                f"table {other} stays at its current version: add it to the scope "
                "(tables=...) to keep them consistent"
            )
        else:
            message = (
                f"{table} goes back to checkpoint {cp.checkpoint_name!r} but its related "
                f"table {other} is not in that checkpoint and stays at its current point in "
                "time: check referential integrity after the rollback"
            )
        gaps.append(
            DependencyGap(
                table=table,
                related=other,
                related_in_checkpoint=pin is not None,
                message=message,
            )
        )
    return gaps


def _assemble_plan(
    rt: Runtime,
    cp: Checkpoint,
    kind: str | None,
    scope_text: str,
    impacts: list[TableImpact],
    gaps: list[DependencyGap],
    verify: VerifyResult,
    require_approval: bool,
    allow_failed: bool,
    plan_seconds: float,
) -> RollbackPlan:
    """The plan: totals, risk, warnings and the approval token over exactly this work."""
    work = [t for t in impacts if t.action == "Restore"]
    risk: Risk = max((t.risk for t in work), key=_RANK.__getitem__, default="Low")
    totals = PlanTotals(
        tables_in_scope=len(impacts),
        tables_to_restore=len(work),
        tables_noop=len(impacts) - len(work),
        rows_changed=sum(t.rows_changed for t in work),
        rows_back=sum(t.rows_back for t in work),
        rows_gone=sum(t.rows_gone for t in work),
        net_rows=sum(t.delta.total or 0 for t in work),
        files_to_add=sum(t.files_to_add for t in work),
        bytes_to_add=sum(t.bytes_to_add for t in work),
        files_to_remove=sum(t.files_to_remove for t in work),
        bytes_to_remove=sum(t.bytes_to_remove for t in work),
        risk=risk,
        estimated_seconds=_estimate(len(work), len(impacts), plan_seconds),
    )
    warnings = [f"{t.table}: {w}" for t in impacts for w in t.warnings]
    warnings += [g.message for g in gaps]
    lakehouse, schema = lakehouse_identity(rt), rt.config.metadata_schema
    return RollbackPlan(
        run_id=rt.context.run_id,
        created_at=utcnow(),
        lakehouse=lakehouse,
        metadata_schema=schema,
        checkpoint=cp,
        kind=kind or None,
        scope_text=scope_text,
        tables=tuple(impacts),
        dependencies=tuple(gaps),
        warnings=tuple(warnings),
        restorability=verify.status,
        totals=totals,
        approval_token=approval_token(
            cp.checkpoint_id,
            {t.table: t.current_version for t in impacts},
            targets={t.table: t.pinned_version for t in impacts},
            actions={t.table: t.action for t in impacts},
            lakehouse=lakehouse,
            metadata_schema=schema,
        ),
        require_approval=require_approval,
        allow_failed_validation=allow_failed,
    )


def _audit_plan(rt: Runtime, plan: RollbackPlan, start: float) -> None:
    """One ``RollbackImpactAnalysis`` event per table and one for the plan, then the summary."""
    audit = rt.audit
    for t in plan.tables:
        audit.event(
            "RollbackImpactAnalysis",
            "Succeeded",
            table=t.table,
            dry_run=True,
            rows_read=t.current.total,
            duration_ms=t.analysis_ms,
            severity="HIGH" if t.risk == "High" else "INFO",
            details={
                "checkpoint": plan.checkpoint_name,
                "action": t.action,
                "reason": t.reason,
                "from_version": t.current_version,
                "to_version": t.pinned_version,
                "current": t.current.model_dump(),
                "pinned": t.pinned.model_dump(),
                "delta": t.delta.model_dump(),
                "rows_changed": t.rows_changed,
                "rows_touched": t.rows_touched,
                "risk": t.risk,
                "changed_pct": t.changed_pct,
                "commits_undone": t.commits_undone,
                "files_to_add": t.files_to_add,
                "files_to_remove": t.files_to_remove,
                "bytes_to_add": t.bytes_to_add,
                "bytes_to_remove": t.bytes_to_remove,
                "warnings": list(t.warnings),
            },
        )
    audit.event(
        "RollbackImpactAnalysis",
        "Succeeded",
        dry_run=True,
        duration_ms=elapsed_ms(start),
        severity="HIGH" if plan.totals.risk == "High" else "INFO",
        details={
            "checkpoint": plan.checkpoint_name,
            "checkpoint_id": plan.checkpoint_id,
            "scope": plan.scope_text,
            # the approval token under a name the audit redactor does not mask: it is a
            # digest of public facts (checkpoint, scope, versions), not a credential
            "plan_digest": plan.approval_token,
            "versions": {t.table: t.current_version for t in plan.tables},
            "totals": plan.totals.model_dump(),
            "dependencies": [g.model_dump() for g in plan.dependencies],
            "warnings": list(plan.warnings),
        },
    )
    record_summary(
        rt,
        "Planned",
        plan=plan,
        dry_run=True,
        message=f"plan ready: {plan.totals.tables_to_restore} table(s) to restore",
    )


# --------------------------------------------------------------------------------- helpers


def approval_token(
    checkpoint_id: str,
    versions: Mapping[str, int],
    *,
    targets: Mapping[str, int] | None = None,
    actions: Mapping[str, str] | None = None,
    lakehouse: str | None = None,
    metadata_schema: str | None = None,
) -> str:
    """The approval token: a digest of exactly the work a plan describes.

    It covers the lakehouse (where its metadata store lives), the metadata schema, the
    checkpoint, the scope (the table names), and per table its current version, the target
    (pinned) version and the action. Two plans that would do different work never share a token,
    so a token approves one plan only. It is a digest of public facts, not a secret.

    Args:
        checkpoint_id: the target checkpoint's id.
        versions: ``schema.table`` -> current version (the scope; names compare in any case).
        targets: ``schema.table`` -> the version the table is restored to.
        actions: ``schema.table`` -> Restore / NoOp / Resume.
        lakehouse: the lakehouse identity (`RollbackPlan.lakehouse`).
        metadata_schema: the metadata schema holding the checkpoint.

    Returns:
        ``"rb-"`` and 20 hex digits.

    Example:
        >>> approval_token("cp-1", {"bronze.a": 3}) == approval_token("cp-1", {"BRONZE.A": 3})
        True
        >>> approval_token("cp-1", {"bronze.a": 3}) != approval_token("cp-1", {"bronze.a": 4})
        True
        >>> approval_token("cp-1", {"a.b": 3}, targets={"a.b": 1}) != approval_token(
        ...     "cp-1", {"a.b": 3}, targets={"a.b": 2})
        True
    """
    target = {k.lower(): int(v) for k, v in (targets or {}).items()}
    action = {k.lower(): str(v) for k, v in (actions or {}).items()}
    tables = {
        k.lower(): [int(v), target.get(k.lower()), action.get(k.lower())]
        for k, v in versions.items()
    }
    body = json.dumps(
        {
            "lakehouse": lakehouse,
            "metadata_schema": metadata_schema.lower() if metadata_schema else metadata_schema,
            "checkpoint": checkpoint_id,
            "tables": tables,
        },
        sort_keys=True,
    )
    return "rb-" + hashlib.sha256(body.encode()).hexdigest()[:20]


def lakehouse_identity(rt: Runtime) -> str:
    """This runtime's lakehouse identity: where its metadata store keeps CheckpointHistory."""
    where = str(rt.engine.location(rt.store.ref("CheckpointHistory")))
    if "://" not in where and not where.startswith("file:"):
        # one folder spelled two ways (relative, through a symlink) is one lakehouse
        where = os.path.realpath(where)
    return where


def is_all(tables: Any) -> bool:
    """Whether ``tables`` means every table of the checkpoint (None, empty, "All", "*")."""
    if tables is None:
        return True
    if isinstance(tables, str):
        return tables.strip().lower() in _ALL
    return not list(tables)


def scope_label(tables: Any) -> str:
    """The scope as the audit and the plan show it ("All", or the names given)."""
    if is_all(tables):
        return "All"
    return tables if isinstance(tables, str) else ",".join(str(t) for t in tables)


def _estimate(restores: int, tables: int, plan_seconds: float) -> float:
    """Rough duration of the execution, from the plan's own: the execution reads and writes each
    restored table about two and a half times as much as planning it did (two checkpoints, the
    RESTORE, the validation reads), plus a second of metadata commits (docs/performance.md)."""
    if not restores:
        return 0.0
    return round(1.0 + 2.5 * plan_seconds * restores / max(1, tables), 1)


def _with_verification(impact: TableImpact, verification: Any) -> TableImpact:
    """The impact with the table's restorability (and an AtRisk warning) from verify."""
    if verification is None:
        return impact.model_copy(update={"restorability": "Unknown"})
    warnings = impact.warnings
    if verification.status == "AtRisk":
        warnings += (f"restorability AtRisk: {verification.reason}",)
    return impact.model_copy(update={"restorability": verification.status, "warnings": warnings})
