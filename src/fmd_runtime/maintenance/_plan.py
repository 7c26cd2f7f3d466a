"""Planning maintenance: per table what VACUUM and OPTIMIZE will do, with the safety proof.

`plan_maintenance` is `Maintenance.plan`: it checks the arguments (audited refusal), reads the
active checkpoints' pins while it resolves the scope (`table_scope`), and plans each table in
the runtime's pool (`plan_table`): the retention VACUUM uses and why, the retention properties
to raise or lower, the AtRisk checkpoints, and the proof that the VACUUM dry run's candidates do
not meet the files of the versions active checkpoints pin (`keep_set`, `overlap`). `refresh`
plans again, just before a run deletes anything, the tables whose checkpoints changed since.
It is separate from the run because a plan is a value (audited, shown, JSON-able) that changes
nothing: only `_run` writes to the tables.

Example:
    >>> overlap(["part-1.parquet", "/abs/t/part-2.parquet"], frozenset({"part-2.parquet"}))
    ['/abs/t/part-2.parquet']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime.audit import Severity
from fmd_runtime.config import (
    MAX_RETENTION_HOURS,
    TableConfig,
    build_table_config,
    check_number,
    strict_bool,
)
from fmd_runtime.engine import write_refusal
from fmd_runtime.errors import (
    ConfigError,
    FmdError,
    MaintenanceError,
    RetentionError,
    TableNotFoundError,
    UnsupportedFeatureError,
)
from fmd_runtime.maintenance._models import MaintenancePlan, TableKind, TablePlan, VacuumAction
from fmd_runtime.maintenance._retention import (
    DEFAULT_HOURS,
    Pin,
    active_pins,
    baseline_hours,
    change,
    check_override,
    floor_error,
    log_retention,
    needed_hours,
    prop_hours,
)
from fmd_runtime.retention import BASELINE_PREFIX, DELETED_FILE_RETENTION
from fmd_runtime.store import utcnow
from fmd_runtime.store.schemas import ALL_TABLES
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

Spec = tuple[TableRef, TableConfig, TableKind]
"""A table in scope: its reference, its PipelineConfig settings, data or metadata."""

# The TablePlan fields each MaintenancePlan audit event carries (file lists left out).
_AUDITED = {"kind", "vacuum", "requested_retention_hours", "retention_hours", "keep_versions"}
_AUDITED |= {"checkpoints", "protection", "protected_files", "candidate_bytes", "optimize"}
_AUDITED |= {"zorder_by", "vorder", "reasons"}


def _check_tables_arg(tables: Any) -> None:
    """``tables`` of `Maintenance.plan`: None, ``"a,b"`` or a list of names (checked later)."""
    if tables is None or isinstance(tables, str):
        return
    if not isinstance(tables, list | tuple) or not all(isinstance(t, str) for t in tables):
        raise ConfigError(
            f"parameter 'tables' must be table names, got {repr(tables)[:60]} "
            f"({type(tables).__name__})",
            hint="pass 'bronze.a,bronze.b' or ['bronze.a', 'bronze.b'], or leave it out for "
            "every enabled table in PipelineConfig",
        )


def plan_maintenance(
    rt: Runtime,
    tables: str | Sequence[str] | None = None,
    *,
    include_metadata_tables: bool | None = None,
    min_retention_hours: int | None = None,
    allow_below_floor: bool = False,
    reason: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MaintenancePlan:
    """`Maintenance.plan`: the audited per-table plan (arguments checked before any write)."""
    # pipelines pass flags as strings ("false" is truthy): parse before anything is written
    if include_metadata_tables is not None:  # None: only with the default scope (table_scope)
        include_metadata_tables = strict_bool(include_metadata_tables, "include_metadata_tables")
    allow_below_floor = strict_bool(allow_below_floor, "allow_below_floor")
    _check_tables_arg(tables)
    if min_retention_hours is not None:  # bounds: docs/configuration.md
        min_retention_hours = check_number(
            min_retention_hours,
            "min_retention_hours",
            minimum=0,
            maximum=MAX_RETENTION_HOURS,
            unit="hours",
            integer=True,
        )
    floor = rt.config.vacuum_retention_floor_hours
    scope = tables if tables is None or isinstance(tables, str) else ",".join(tables)
    params = {
        "tables": scope,
        "include_metadata_tables": include_metadata_tables,
        "min_retention_hours": min_retention_hours,
        "allow_below_floor": allow_below_floor,
        "reason": reason,
    }
    try:
        check_override(allow_below_floor, reason)
        if (
            min_retention_hours is not None
            and min_retention_hours < floor
            and not allow_below_floor
        ):
            raise floor_error(min_retention_hours, "min_retention_hours", floor, None)
    except RetentionError as exc:
        rt.audit.event(
            "MaintenancePlan",
            "Refused",
            error=exc,
            severity="MEDIUM",
            details=params,
            flush=True,
        )
        raise
    with ThreadPoolExecutor(max_workers=1) as pool:  # the two metadata reads overlap
        pinned = pool.submit(active_pins, rt)
        specs = table_scope(rt, tables, include_metadata_tables)
        pins, now = pinned.result(), utcnow()

    def one(spec: Spec) -> TablePlan:
        return plan_table(rt, spec, pins, now, min_retention_hours, allow_below_floor)

    outcomes = rt.map_tables(
        one, specs, label="Planning maintenance", progress=progress, key=lambda s: s[0].name
    )
    plans = [
        o.value if o.ok else TablePlan(table=s[0].name, kind=s[2], vacuum="failed", error=o.error)
        for o, s in zip(outcomes, specs, strict=True)
    ]
    for tp in plans:
        audit_plan(rt, tp)
    if allow_below_floor:
        rt.audit.event("RetentionOverride", "Warning", severity="HIGH", details=params)
    rt.audit.flush()
    return MaintenancePlan(
        run_id=rt.context.run_id,
        created_at=now,
        engine=rt.engine.name,
        floor_hours=floor,
        parameters=params,
        tables=tuple(plans),
    )


def table_scope(
    rt: Runtime, tables: str | Sequence[str] | None, include_metadata: bool | None
) -> list[Spec]:
    """The tables in scope, each with its settings (metadata tables Z-ORDER their query columns)."""
    if include_metadata is None:  # explicit tables are exactly what was asked for
        include_metadata = tables is None
    meta = {rt.store.ref(s.name).name.lower(): s for s in ALL_TABLES}
    configs = {c.ref.name.lower(): c for c in rt.table_configs(enabled_only=False)}
    if tables is None:
        refs = [c.ref for key, c in configs.items() if c.enabled and key not in meta]
    else:
        names = tables.split(",") if isinstance(tables, str) else list(tables)
        refs = [rt.table(t.strip()) for t in names if t.strip()]
    if include_metadata:
        seen = {r.name.lower() for r in refs}
        refs += [
            rt.store.ref(s.name)
            for s in ALL_TABLES
            if rt.store.ref(s.name).name.lower() not in seen
        ]
    out: list[Spec] = []
    for ref in refs:
        cfg = configs.get(ref.name.lower()) or build_table_config({"table": ref.name})
        schema = meta.get(ref.name.lower())
        if schema is not None and not cfg.zorder_columns:
            cfg = build_table_config(cfg.model_dump() | {"zorder_columns": list(schema.zorder_by)})
        out.append((ref, cfg, "data" if schema is None else "metadata"))
    return out


def plan_table(
    rt: Runtime,
    spec: Spec,
    all_pins: Sequence[Pin],
    now: datetime,
    min_hours: int | None,
    allow_below_floor: bool,
) -> TablePlan:
    """The plan of one table: retention, property changes, AtRisk checkpoints, safety proof."""
    ref, cfg, kind = spec
    engine, floor, margin_days = (
        rt.engine,
        rt.config.vacuum_retention_floor_hours,
        rt.config.retention_margin_days,
    )
    try:
        props = engine.properties(ref)
    except UnsupportedFeatureError as exc:  # cannot even be read here: skipped, its reason
        return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(exc))
    except TableNotFoundError:
        error = TableNotFoundError(
            "the table does not exist",
            table=ref.name,
            hint="create it, or take it out of the scope",
        )
        return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(error))
    refusal = write_refusal(
        engine,
        ref,
        operation="maintenance (VACUUM, OPTIMIZE, retention changes)",
        hint="maintain this table from a Fabric Spark notebook (fmd.connect(spark=spark)); "
        "this run leaves it untouched",
    )
    if refusal is not None:  # skipped with its reason, never a Failed table
        return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(refusal))
    pins = [p for p in all_pins if p.table.lower() == ref.name.lower()]
    versions = tuple(sorted({p.version for p in pins}))
    need_h = needed_hours(pins, now, margin_days)
    reasons: list[str] = []
    changes, at_risk = log_retention(ref, props, pins, need_h, reasons)
    requested, why = cfg.vacuum_retention_hours, "VacuumRetentionHours"
    if kind == "metadata" and requested < rt.config.metadata_vacuum_retention_hours:
        requested, why = (
            rt.config.metadata_vacuum_retention_hours,
            "metadata tables keep at least this",
        )
    if min_hours is not None and min_hours > requested:
        requested, why = min_hours, "min_retention_hours of this run"
    base: dict[str, Any] = {
        "table": ref.name,
        "kind": kind,
        "requested_retention_hours": requested,
        "checkpoints": tuple(f"{p.checkpoint}@v{p.version}" for p in pins),
        "pinned_versions": versions,
        "optimize": cfg.enable_optimize,
        "zorder_by": tuple(cfg.zorder_columns),
        "vorder": cfg.use_vorder,
        "at_risk": at_risk,
        "properties": {
            k: v for k, v in props.items() if k in DEFAULT_HOURS or k.startswith(BASELINE_PREFIX)
        },
    }
    reasons.append(_optimize_reason(cfg, kind))

    def finish(vacuum: VacuumAction, error: Exception | None = None, **extra: Any) -> TablePlan:
        all_changes, error_text = tuple(changes), str(error) if error else None
        return TablePlan(
            **base,
            vacuum=vacuum,
            error=error_text,
            property_changes=all_changes,
            reasons=tuple(reasons),
            **extra,
        )

    if not cfg.enable_vacuum:
        reasons.insert(0, "EnableVacuum is false in PipelineConfig")
        return finish("disabled")
    del_h = prop_hours(props, DELETED_FILE_RETENTION, ref)
    operator_del_h = baseline_hours(props, DELETED_FILE_RETENTION, ref)
    if requested < floor and not allow_below_floor:
        return finish("refused", floor_error(requested, why, floor, ref.name))
    if requested < operator_del_h:
        msg = f"VACUUM retention of {requested} hours ({why}) is below the table's {DELETED_FILE_RETENTION} of {operator_del_h:g} hours"
        hint = f"set VacuumRetentionHours to at least {math.ceil(operator_del_h)}, or lower the property with rt.maintenance.set_retention"
        return finish("refused", RetentionError(msg, table=ref.name, hint=hint))
    reasons.insert(0, f"RETAIN {requested} hours: {why}")
    keeps = engine.supports_keep_versions
    target_del = del_h
    if BASELINE_PREFIX + DELETED_FILE_RETENTION in props or (not keeps and need_h > requested):
        # What the active checkpoints need until they expire (checkpoints raise it when they
        # are created); an engine that cannot keep versions protects them with it.
        target_del = max(operator_del_h, float(floor), need_h)
    if engine.vacuum_reads_table_retention and not keeps:
        # Delta 4.1+ VACUUM ignores RETAIN n and reads the property: it must carry the retention.
        target_del = max(target_del, float(requested))
    if target_del != del_h:
        up = target_del > del_h
        why_change = (
            "cover active checkpoints until they expire"
            if up
            else "the checkpoints that needed more have expired"
        )
        changes.insert(
            0,
            change(
                props,
                DELETED_FILE_RETENTION,
                target_del,
                "raise" if up else "lower",
                why_change,
            ),
        )
    # keep_versions protects the checkpoints on VACUUM; elsewhere the retention must cover them.
    # A lowering is applied after this run's VACUUM, which still retains the current value
    # (Delta 4.1+ takes the retention from the property, so RETAIN and property stay equal).
    retention = requested if keeps else int(math.ceil(max(requested, target_del, del_h)))
    if retention > requested and target_del < del_h:
        reasons.append(
            f"RETAIN {retention} hours, the current {DELETED_FILE_RETENTION}: lowered after this VACUUM"
        )
    elif retention > requested:
        reasons.append(
            f"RETAIN raised to {retention} hours: {engine.name} cannot keep versions, so it covers "
            f"the oldest active checkpoint until it expires, +{margin_days} day(s)"
        )
    # The engine's own check compares RETAIN with the table's property, which checkpoints raise
    # for the engines that cannot keep versions; ours (floor, the operator's value) was made above.
    enforce = retention >= max(del_h, target_del)
    listed = retention
    if engine.vacuum_reads_table_retention and retention != math.ceil(del_h):
        # Delta 4.1+ lists candidates with the table's property only (RETAIN n is ignored):
        # while a raise is pending, the current property's candidates (a superset of what the
        # VACUUM after the raise deletes) stand for them.
        listed = int(math.ceil(del_h))
        reasons.append(
            f"candidates listed with the current {DELETED_FILE_RETENTION} ({listed} hours): "
            f"{engine.name} VACUUM reads the property, raised to {retention} hours before it runs"
        )
    dry = engine.vacuum(ref, retention_hours=listed, dry_run=True, enforce_retention=enforce)
    # Only a version committed before the retention window can own a candidate: a file leaves
    # the table after the commit of every version holding it. Younger pinned versions stay out
    # of the keep-set (with the margin for clock skew); VACUUM still keeps every pinned version.
    horizon = now - timedelta(hours=retention) + timedelta(days=margin_days)
    proof = tuple(sorted({p.version for p in pins if p.timestamp <= horizon})) if dry.files else ()
    try:
        keep = keep_set(rt, ref, proof)
    except MaintenanceError as exc:
        return finish("skip", exc)
    overlapping = overlap(dry.files, keep)
    if overlapping:
        reasons.append(
            f"the unprotected VACUUM would delete {len(overlapping)} file(s) active checkpoints need"
        )
        if keeps:
            dry = engine.vacuum(
                ref,
                retention_hours=retention,
                dry_run=True,
                keep_versions=versions,
                enforce_retention=enforce,
            )
    base |= {
        "enforce_retention": enforce,
        "retention_hours": retention,
        "proof_versions": proof,
        "protected_files": len(overlapping),
    }
    still = overlap(dry.files, keep)
    if still:
        msg = f"VACUUM skipped: {len(still)} candidate file(s) belong to active checkpoints and the engine cannot protect them"
        hint = "raise the table's delta.deletedFileRetentionDuration (rt.maintenance.set_retention), or deactivate the old checkpoint"
        return finish("skip", MaintenanceError(msg, table=ref.name, hint=hint))
    if dry.files:
        reasons.append(
            f"safety proved: {len(dry.files)} VACUUM candidate(s), none among the {len(keep)} "
            f"file(s) of the {len(proof)} pinned version(s) old enough to own one "
            f"({len(versions)} pinned)"
        )
    else:
        reasons.append(
            f"safety proved: VACUUM has no candidate ({len(versions)} version(s) pinned)"
        )
    protection = "none" if not pins else "keep_versions" if keeps else "retention"
    tp = finish(
        "run",
        keep_versions=versions if keeps else (),
        protection=protection,
        candidate_files=dry.files,
        candidate_bytes=dry.bytes,
    )
    tp._keep = keep
    return tp


def keep_set(rt: Runtime, ref: TableRef, versions: Iterable[int]) -> frozenset[str]:
    """The files (and deletion vectors) of the pinned versions: what VACUUM must not delete."""
    keep: set[str] = set()
    for v in versions:
        try:
            files = rt.engine.files(ref, v)
        except FmdError as exc:
            hint = "verify the checkpoint (rt.checkpoints.verify); if it is unrestorable, deactivate it"
            raise MaintenanceError(
                f"cannot read the files of pinned version {v}: {exc.message}",
                table=ref.name,
                hint=hint,
            ) from exc
        keep.update(f.path for f in files)
        keep.update(f.deletion_vector_path for f in files if f.deletion_vector_path)
    return frozenset(keep)


def audit_plan(rt: Runtime, tp: TablePlan, *, refreshed: bool = False) -> None:
    """One ``MaintenancePlan`` audit event for a table's plan."""
    status = {"refused": "Refused", "skip": "Skipped", "failed": "Failed"}.get(
        tp.vacuum, "Succeeded"
    )
    details = tp.model_dump(mode="json", include=_AUDITED) | {
        "candidates": len(tp.candidate_files),
        "property_changes": [f"{c.property} -> {c.new}" for c in tp.property_changes],
        "at_risk": [f"{r.checkpoint}@v{r.version}" for r in tp.at_risk],
        "refreshed": refreshed,
    }
    severity: Severity = "INFO" if status == "Succeeded" else "MEDIUM"
    rt.audit.event(
        "MaintenancePlan",
        status,
        table=tp.ref,
        error=tp.error,
        dry_run=True,
        severity=severity,
        details=details,
    )


def refresh(rt: Runtime, plan: MaintenancePlan) -> MaintenancePlan:
    """Plan again the tables whose active checkpoints changed since the plan was made."""
    pins, now, params = active_pins(rt), utcnow(), plan.parameters

    def changed(tp: TablePlan) -> bool:
        current = sorted(
            f"{p.checkpoint}@v{p.version}" for p in pins if p.table.lower() == tp.table.lower()
        )
        return tp.requested_retention_hours is not None and current != sorted(tp.checkpoints)

    stale = [tp for tp in plan.tables if changed(tp)]
    if not stale:
        return plan
    specs = [
        (ref, cfg, tp.kind)
        for (ref, cfg, _), tp in zip(
            table_scope(rt, [tp.table for tp in stale], False), stale, strict=True
        )
    ]
    args = (params.get("min_retention_hours"), bool(params.get("allow_below_floor")))
    outcomes = rt.map_tables(
        lambda spec: plan_table(rt, spec, pins, now, *args), specs, label="Planning again"
    )
    fresh = {}
    for o, tp in zip(outcomes, stale, strict=True):
        fresh[tp.table] = (
            o.value if o.ok else tp.model_copy(update={"vacuum": "failed", "error": o.error})
        )
        audit_plan(rt, fresh[tp.table], refreshed=True)
    return plan.model_copy(update={"tables": tuple(fresh.get(tp.table, tp) for tp in plan.tables)})


def overlap(candidates: Iterable[str], keep: frozenset[str]) -> list[str]:
    """Candidates that are keep-set files (relative paths; absolute ones matched by their tail)."""
    if not keep:
        return []
    by_name: dict[str, list[str]] = {}
    for k in keep:
        by_name.setdefault(k.rsplit("/", 1)[-1], []).append(k)
    return [
        c
        for c in candidates
        if c in keep or any(c.endswith("/" + k) for k in by_name.get(c.rsplit("/", 1)[-1], ()))
    ]


def _optimize_reason(cfg: TableConfig, kind: str) -> str:
    if not cfg.enable_optimize:
        return "OPTIMIZE off: EnableOptimize is false"
    if not cfg.zorder_columns:
        return "OPTIMIZE compaction (no Z-ORDER columns configured)"
    return f"OPTIMIZE Z-ORDER from {'its query columns' if kind == 'metadata' else 'OptimizeZOrderColumns'}"


__all__ = [
    "Spec",
    "audit_plan",
    "keep_set",
    "overlap",
    "plan_maintenance",
    "plan_table",
    "refresh",
    "table_scope",
]
