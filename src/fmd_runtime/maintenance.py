"""Weekly maintenance: VACUUM and OPTIMIZE that never destroy a checkpoint's files.

``plan = rt.maintenance.plan()`` decides, per table, what runs, with which retention and why:

1. Retention: each table's ``VacuumRetentionHours`` (metadata tables at least
   ``metadata_vacuum_retention_hours``), never below ``vacuum_retention_floor_hours`` without an
   audited override, never below the table's own ``delta.deletedFileRetentionDuration``.
2. Protection (the point of it): the files of the versions active checkpoints pin form the
   keep-set, and the VACUUM dry run's candidates must not meet it. On overlap, an engine that
   can keep versions (delta-rs) gets the pinned versions as ``keep_versions`` and the dry run is
   proved again; an engine that cannot (Spark) gets its ``delta.deletedFileRetentionDuration``
   and RETAIN hours raised to cover the checkpoints until they expire, and is proved again; what
   still cannot be proved is not vacuumed. Checkpoints the log retention would lose are AtRisk
   and the plan raises ``delta.logRetentionDuration`` for them. Properties maintenance raised are
   lowered again once the checkpoints that needed them are gone (never below the operator's own
   value, recorded in ``fmd.maintenance.baseline.<property>``, nor below the floor).

``result = rt.maintenance.run(plan)`` is a dry run by default (VACUUM DRY RUN lists, what
OPTIMIZE would do, which checkpoints retention would deactivate). ``dry_run=False`` raises
retention properties, VACUUMs, lowers properties (after the VACUUM, which runs with the retention
it was proved with), then OPTIMIZEs each table in a bounded pool, enforces checkpoint retention,
audits ``Vacuum`` / ``Optimize`` per table and alerts on failures.

Why a plan stays safe until it runs: on delta-rs every pinned version travels to VACUUM as
``keep_versions``; elsewhere the retention covers the oldest pinned version plus
``retention_margin_days``. A plan older than ``max_plan_age_minutes``, or a table that gained a
checkpoint since, is planned again before anything is deleted, and the deleted files are checked
against the keep-set once more.

Example:
    >>> # plan = rt.maintenance.plan(); print(plan.to_text())
    >>> # result = rt.maintenance.run(plan, dry_run=False); print(result.to_text())
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from fmd_runtime._text import format_bytes, plural
from fmd_runtime.audit import Severity
from fmd_runtime.config import (
    MAX_RETENTION_DAYS,
    MAX_RETENTION_HOURS,
    StrictFlag,
    TableConfig,
    build_table_config,
    check_number,
    strict_bool,
)
from fmd_runtime.engine import (
    DEFAULT_RETENTION_HOURS,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
    log_retention_cover,
    write_refusal,
)
from fmd_runtime.engine import parse_interval_hours as _parse_interval_hours
from fmd_runtime.errors import (
    ConfigError,
    FmdError,
    MaintenanceError,
    RetentionError,
    TableNotFoundError,
    UnsupportedFeatureError,
)
from fmd_runtime.retention import BASELINE_PREFIX
from fmd_runtime.store import utcnow
from fmd_runtime.store.schemas import ALL_TABLES
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

DEFAULT_HOURS = DEFAULT_RETENTION_HOURS
"""Delta's defaults when a table does not set the property (7 and 30 days)."""
"""``<prefix><property>`` keeps the operator's value of a property maintenance raised."""

VacuumAction = Literal["run", "skip", "refused", "disabled", "failed"]
TableStatus = Literal["Succeeded", "Failed", "Skipped", "Refused"]
_STATUS: dict[str, TableStatus] = {"refused": "Refused", "skip": "Skipped"}
_FROZEN = ConfigDict(frozen=True, extra="forbid")
_AUDITED = {"kind", "vacuum", "requested_retention_hours", "retention_hours", "keep_versions"}
_AUDITED |= {"checkpoints", "protection", "protected_files", "candidate_bytes", "optimize"}
_AUDITED |= {"zorder_by", "vorder", "reasons"}


# --------------------------------------------------------------------------- intervals


def parse_interval_hours(text: str, *, table: str | None = None) -> float:
    """Hours in a Delta interval property value (`fmd_runtime.engine.parse_interval_hours`).

    Raises:
        MaintenanceError: the text is not such an interval.

    Example:
        >>> parse_interval_hours("interval 7 days"), parse_interval_hours("1 week 12 hours")
        (168.0, 180.0)
    """
    return _parse_interval_hours(text, table=table, error=MaintenanceError)


# --------------------------------------------------------------------------- models


class PropertyChange(BaseModel):
    """A retention property the plan sets, and why."""

    model_config = _FROZEN

    property: str
    current: str | None
    new: str
    direction: Literal["raise", "lower"]
    reason: str


class CheckpointRisk(BaseModel):
    """An active checkpoint the table's log retention would make unreachable before it expires."""

    model_config = _FROZEN

    checkpoint: str
    version: int
    version_timestamp: datetime
    retention_date: date
    status: Literal["AtRisk"] = "AtRisk"
    reason: str
    recommended_log_retention: str


class TablePlan(BaseModel):
    """What maintenance will do to one table, with which retention, and why.

    Attributes:
        vacuum: ``run``; ``skip`` (safety not proved, or no such table); ``refused`` (unsafe
            retention); ``disabled`` (EnableVacuum = false); ``failed`` (could not be planned).
        retention_hours: the RETAIN hours VACUUM uses (after any protection raise).
        keep_versions: the pinned versions passed to VACUUM (engines that can keep versions).
        proof_versions: the pinned versions whose files were checked against the candidates
            (only versions older than the retention window can own one).
        protection: ``none`` (no active checkpoint), ``keep_versions`` or ``retention``.
        protected_files: files the unprotected VACUUM would have deleted though a checkpoint
            needs them.
        candidate_files / candidate_bytes: what the (protected) VACUUM dry run would delete.
    """

    model_config = _FROZEN

    table: str
    kind: Literal["data", "metadata"] = "data"
    vacuum: VacuumAction
    requested_retention_hours: int | None = None
    retention_hours: int | None = None
    enforce_retention: bool = True
    keep_versions: tuple[int, ...] = ()
    pinned_versions: tuple[int, ...] = ()
    proof_versions: tuple[int, ...] = ()
    checkpoints: tuple[str, ...] = ()
    protection: Literal["none", "keep_versions", "retention"] = "none"
    protected_files: int = 0
    candidate_files: tuple[str, ...] = ()
    candidate_bytes: int | None = None
    optimize: bool = False
    zorder_by: tuple[str, ...] = ()
    vorder: bool = False
    property_changes: tuple[PropertyChange, ...] = ()
    at_risk: tuple[CheckpointRisk, ...] = ()
    properties: dict[str, str] = Field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    error: str | None = None
    _keep: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def ref(self) -> TableRef:
        """The table as a `TableRef`."""
        return TableRef.parse(self.table)


class MaintenancePlan(BaseModel):
    """The per-table plan of one maintenance run (JSON-able; `to_text` for people)."""

    model_config = _FROZEN

    run_id: str
    created_at: datetime
    engine: str
    floor_hours: int
    parameters: dict[str, Any] = Field(default_factory=dict)
    tables: tuple[TablePlan, ...] = ()

    def table(self, name: str) -> TablePlan:
        """The plan of one table (KeyError if it is not in scope)."""
        wanted = TableRef.parse(name).name.lower()
        for tp in self.tables:
            if tp.table.lower() == wanted:
                return tp
        raise KeyError(name)

    def to_text(self) -> str:
        """The plan as a report: per table what runs, with which retention, and why."""
        lines = [
            f"Maintenance plan {self.run_id} at {self.created_at:%Y-%m-%d %H:%M} UTC (engine "
            f"{self.engine}, floor {self.floor_hours} h): {plural(len(self.tables), 'table')}"
        ]
        for tp in self.tables:
            lines.append(f"- {tp.table}{' [metadata]' if tp.kind == 'metadata' else ''}")
            lines.append("    VACUUM: " + _vacuum_text(tp))
            if tp.checkpoints:
                lines.append(f"    protects: {', '.join(tp.checkpoints)} ({_protect_text(tp)})")
            lines.append("    OPTIMIZE: " + _optimize_text(tp))
            for c in tp.property_changes:
                lines.append(
                    f"    set {c.property}: {c.current or 'default'} -> {c.new} ({c.reason})"
                )
            lines += [f"    AtRisk {r.checkpoint}@v{r.version}: {r.reason}" for r in tp.at_risk]
            lines += [f"    why: {r}" for r in tp.reasons]
        return "\n".join(lines)

    def to_exit_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data (file lists included)."""
        return self.model_dump(mode="json")


class TableRun(BaseModel):
    """What maintenance did (or, in a dry run, would do) to one table."""

    model_config = _FROZEN

    table: str
    status: TableStatus
    dry_run: StrictFlag
    vacuum_files: tuple[str, ...] = ()
    files_removed: int = 0
    bytes_reclaimed: int = 0
    optimize_files_added: int = 0
    optimize_files_removed: int = 0
    optimize_note: str | None = None
    property_changes: tuple[PropertyChange, ...] = ()
    duration_ms: int = 0
    error: str | None = None


class MaintenanceResult(BaseModel):
    """The summary of a maintenance run (the maintenance notebook's exit value).

    ``status``: ``Succeeded`` when every table was maintained; ``PartiallyFailed`` when some
    were and others failed, were refused or skipped (or checkpoint retention failed); ``Failed``
    when no table was maintained (every table failed, refused, missing or skipped, an empty
    scope, or the PreMaintenance checkpoint failed): ``failures["(run)"]`` then says why.
    """

    model_config = _FROZEN

    run_id: str
    dry_run: StrictFlag
    status: Literal["Succeeded", "PartiallyFailed", "Failed"]
    tables: tuple[TableRun, ...] = ()
    tables_processed: int = 0
    tables_succeeded: int = 0
    tables_failed: int = 0
    tables_skipped: int = 0
    failures: dict[str, str] = Field(default_factory=dict)
    bytes_reclaimed: int = 0
    files_removed: int = 0
    checkpoints_deactivated: tuple[str, ...] = ()
    deactivation_error: str | None = None
    pre_maintenance_checkpoint: str | None = None
    duration_seconds: float = 0.0
    alerts: tuple[str, ...] = ()

    def to_text(self) -> str:
        """A readable summary."""
        dry = self.dry_run
        lines = [
            f"Maintenance {'DRY RUN' if dry else 'run'} {self.run_id}: {self.status} - "
            f"{plural(self.tables_processed, 'table')}, {self.tables_succeeded} succeeded, "
            f"{self.tables_failed} failed, {self.tables_skipped} skipped; "
            f"{'would reclaim' if dry else 'reclaimed'} {format_bytes(self.bytes_reclaimed)} in "
            f"{self.files_removed} files; checkpoints {'to deactivate' if dry else 'deactivated'}: "
            f"{len(self.checkpoints_deactivated)}; {self.duration_seconds:.1f} s"
        ]
        for tr in self.tables:
            opt = (
                tr.optimize_note
                or f"optimize +{tr.optimize_files_added}/-{tr.optimize_files_removed}"
            )
            lines.append(
                f"- {tr.table}: {tr.status}; vacuum {tr.files_removed} files "
                f"{format_bytes(tr.bytes_reclaimed)}; {opt}" + (f"; {tr.error}" if tr.error else "")
            )
        if self.deactivation_error:
            lines.append(f"checkpoint retention failed: {self.deactivation_error}")
        return "\n".join(lines + [f"alert: {a}" for a in self.alerts])

    def to_exit_dict(self) -> dict[str, Any]:
        """The summary for the notebook exit value (per-table file lists left out)."""
        data = self.model_dump(mode="json")
        for tr in data["tables"]:
            tr.pop("vacuum_files", None)
        return data


class RetentionChange(BaseModel):
    """What `Maintenance.set_retention` set (or, in a dry run, would set)."""

    model_config = _FROZEN

    table: str
    dry_run: StrictFlag
    changes: dict[str, str]
    previous: dict[str, str | None]
    notes: tuple[str, ...] = ()


class _RunState(NamedTuple):
    plan: MaintenancePlan
    start: float
    dry_run: bool
    alerts: list[str]
    expected_minutes: float


class _Pin(NamedTuple):
    checkpoint: str
    table: str
    version: int
    timestamp: datetime
    retention_end: datetime
    retention_date: date


# --------------------------------------------------------------------------- capability


_WEEK_MINUTES = 7 * 24 * 60
"""Largest ``expected_duration_minutes`` / ``max_plan_age_minutes`` of `Maintenance.run`."""


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


def _minutes(value: Any, parameter: str) -> float:
    """A duration of `Maintenance.run` in minutes: 0 to a week (0: always alert / re-plan)."""
    return float(check_number(value, parameter, minimum=0, maximum=_WEEK_MINUTES, unit="minutes"))


def _days(value: Any, parameter: str) -> int | None:
    """A retention of `Maintenance.set_retention` in days: 0 to `MAX_RETENTION_DAYS`."""
    if value is None:
        return None
    days: int = check_number(
        value, parameter, minimum=0, maximum=MAX_RETENTION_DAYS, unit="days", integer=True
    )
    return days


class Maintenance:
    """The maintenance capability (``rt.maintenance``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # -- plan ------------------------------------------------------------------------------
    def plan(
        self,
        tables: str | Sequence[str] | None = None,
        *,
        include_metadata_tables: bool | None = None,
        min_retention_hours: int | None = None,
        allow_below_floor: bool = False,
        reason: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> MaintenancePlan:
        """Plan VACUUM / OPTIMIZE per table from ``PipelineConfig``, with the safety proof.

        Args:
            tables: ``"a,b"`` or a list; default every enabled ``PipelineConfig`` table.
            include_metadata_tables: add the metadata tables (at least 720 hours, Z-ORDER on
                their query columns). None (the default): only when ``tables`` is not given,
                so ``tables="a,b"`` maintains exactly a and b; True adds them to explicit tables.
            min_retention_hours: retention every table keeps at least, this run (0 to
                87,600 hours; a bad value raises ConfigError before anything is written).
            allow_below_floor: permit retentions below the floor (needs ``reason``; audited).
            reason: why the floor is overridden.
            progress: callback for progress lines.

        Returns:
            The `MaintenancePlan`, audited (one ``MaintenancePlan`` event per table).

        Raises:
            ConfigError: a flag is not a boolean (a bool, or "true"/"false"/"1"/"0" in any
                case); nothing is written.
            RetentionError: ``min_retention_hours`` below the floor without the override, or
                the override without a reason.

        Example:
            >>> # print(rt.maintenance.plan("bronze.account,bronze.contact").to_text())
        """
        # pipelines pass flags as strings ("false" is truthy): parse before anything is written
        if include_metadata_tables is not None:  # None: only with the default scope (_scope)
            include_metadata_tables = strict_bool(
                include_metadata_tables, "include_metadata_tables"
            )
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
        rt, floor = self._rt, self._rt.config.vacuum_retention_floor_hours
        scope = tables if tables is None or isinstance(tables, str) else ",".join(tables)
        params = {
            "tables": scope,
            "include_metadata_tables": include_metadata_tables,
            "min_retention_hours": min_retention_hours,
            "allow_below_floor": allow_below_floor,
            "reason": reason,
        }
        try:
            _check_override(allow_below_floor, reason)
            if (
                min_retention_hours is not None
                and min_retention_hours < floor
                and not allow_below_floor
            ):
                raise _floor_error(min_retention_hours, "min_retention_hours", floor, None)
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
            pinned = pool.submit(self._pins)
            specs = self._scope(tables, include_metadata_tables)
            pins, now = pinned.result(), utcnow()

        def one(spec: tuple[TableRef, TableConfig, str]) -> TablePlan:
            return self._plan_table(spec, pins, now, min_retention_hours, allow_below_floor)

        outcomes = rt.map_tables(
            one, specs, label="Planning maintenance", progress=progress, key=lambda s: s[0].name
        )
        plans = [
            o.value
            if o.ok
            else TablePlan(table=s[0].name, kind=s[2], vacuum="failed", error=o.error)  # type: ignore[arg-type]
            for o, s in zip(outcomes, specs, strict=True)
        ]
        for tp in plans:
            self._audit_plan(tp)
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

    def _scope(
        self, tables: str | Sequence[str] | None, include_metadata: bool | None
    ) -> list[tuple[TableRef, TableConfig, str]]:
        rt = self._rt
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
        out = []
        for ref in refs:
            cfg = configs.get(ref.name.lower()) or build_table_config({"table": ref.name})
            schema = meta.get(ref.name.lower())
            if schema is not None and not cfg.zorder_columns:
                cfg = build_table_config(
                    cfg.model_dump() | {"zorder_columns": list(schema.zorder_by)}
                )
            out.append((ref, cfg, "data" if schema is None else "metadata"))
        return out

    def _pins(self) -> list[_Pin]:
        """Every (table, version) an active checkpoint pins, with its dates."""
        pins = []
        for cp in self._rt.checkpoints.list(active_only=True):
            end = datetime.combine(
                cp.retention_date, datetime.min.time(), tzinfo=timezone.utc
            ) + timedelta(days=1)
            for t in cp.tables:
                ts = t.version_timestamp or cp.created_date
                ts = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
                name = TableRef(schema_name=t.schema_name, table=t.table_name).name
                pins.append(
                    _Pin(cp.checkpoint_name, name, int(t.version), ts, end, cp.retention_date)
                )
        return pins

    def _plan_table(
        self,
        spec: tuple[TableRef, TableConfig, str],
        all_pins: Sequence[_Pin],
        now: datetime,
        min_hours: int | None,
        allow_below_floor: bool,
    ) -> TablePlan:
        rt, (ref, cfg, kind) = self._rt, spec
        engine, floor, margin_days = (
            rt.engine,
            rt.config.vacuum_retention_floor_hours,
            rt.config.retention_margin_days,
        )
        try:
            props = engine.properties(ref)
        except UnsupportedFeatureError as exc:  # cannot even be read here: skipped, its reason
            return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(exc))  # type: ignore[arg-type]
        except TableNotFoundError:
            error = TableNotFoundError(
                "the table does not exist",
                table=ref.name,
                hint="create it, or take it out of the scope",
            )
            return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(error))  # type: ignore[arg-type]
        refusal = write_refusal(
            engine,
            ref,
            operation="maintenance (VACUUM, OPTIMIZE, retention changes)",
            hint="maintain this table from a Fabric Spark notebook (fmd.connect(spark=spark)); "
            "this run leaves it untouched",
        )
        if refusal is not None:  # skipped with its reason, never a Failed table
            return TablePlan(table=ref.name, kind=kind, vacuum="skip", error=str(refusal))  # type: ignore[arg-type]
        pins = [p for p in all_pins if p.table.lower() == ref.name.lower()]
        versions = tuple(sorted({p.version for p in pins}))
        need_h = _needed_hours(pins, now, margin_days)
        reasons: list[str] = []
        changes, at_risk = _log_retention(ref, props, pins, need_h, reasons)
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
                k: v
                for k, v in props.items()
                if k in DEFAULT_HOURS or k.startswith(BASELINE_PREFIX)
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
        del_h = _prop_hours(props, DELETED_FILE_RETENTION, ref)
        operator_del_h = _baseline_hours(props, DELETED_FILE_RETENTION, ref)
        if requested < floor and not allow_below_floor:
            return finish("refused", _floor_error(requested, why, floor, ref.name))
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
                _change(
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
        proof = (
            tuple(sorted({p.version for p in pins if p.timestamp <= horizon})) if dry.files else ()
        )
        try:
            keep = self._keep_set(ref, proof)
        except MaintenanceError as exc:
            return finish("skip", exc)
        overlap = _overlap(dry.files, keep)
        if overlap:
            reasons.append(
                f"the unprotected VACUUM would delete {len(overlap)} file(s) active checkpoints need"
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
            "protected_files": len(overlap),
        }
        still = _overlap(dry.files, keep)
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

    def _keep_set(self, ref: TableRef, versions: Iterable[int]) -> frozenset[str]:
        keep: set[str] = set()
        for v in versions:
            try:
                files = self._rt.engine.files(ref, v)
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

    # -- run -------------------------------------------------------------------------------
    def run(
        self,
        plan: MaintenancePlan,
        dry_run: bool = True,
        *,
        pre_checkpoint: bool = False,
        expected_duration_minutes: float = 120,
        max_plan_age_minutes: float = 60,
        progress: Callable[[str], None] | None = None,
    ) -> MaintenanceResult:
        """Run a plan: a dry run by default; ``dry_run=False`` VACUUMs and OPTIMIZEs.

        Args:
            plan: from `plan`. Planned again when older than ``max_plan_age_minutes``; tables
                whose active checkpoints changed since are planned again before executing.
            dry_run: report only (VACUUM DRY RUN lists, OPTIMIZE intent, checkpoints that
                would be deactivated); nothing changes.
            pre_checkpoint: take a ``PreMaintenance`` checkpoint of the data tables first.
            expected_duration_minutes: alert when the run takes longer (0 to 10,080 minutes;
                ConfigError otherwise).
            max_plan_age_minutes: how old a plan may be (0 to 10,080; 0 always plans again).
            progress: callback for progress lines ("Maintaining table 3 of 40: ...").

        Returns:
            The `MaintenanceResult` summary (audited as ``MaintenanceSummary``); its
            ``dry_run`` is what ran.

        Raises:
            ConfigError: ``dry_run`` or ``pre_checkpoint`` is not a boolean (a bool, or
                "true"/"false"/"1"/"0" in any case); nothing is written.

        Example:
            >>> # result = rt.maintenance.run(rt.maintenance.plan(), dry_run=False, pre_checkpoint=True)
        """
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
        rt, start = self._rt, time.perf_counter()
        if utcnow() - plan.created_at > timedelta(minutes=max_plan_age_minutes):
            plan = self.plan(**plan.parameters, progress=progress)
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
                    self._alert(
                        "pre-checkpoint",
                        "CRITICAL",
                        title,
                        {"checkpoint": str(exc)},
                        ["fix it, then re-run"],
                    )
                )
                return self._finish(state, [], failed_early=str(exc))
        if (
            not dry_run
        ):  # after the PreMaintenance checkpoint: it pins versions and raises retention
            plan = self._refresh(plan)
        state = _RunState(plan, start, dry_run, alerts, expected_duration_minutes)
        outcomes = rt.map_tables(
            lambda tp: self._run_table(tp, dry_run),
            list(plan.tables),
            label="Maintaining table",
            progress=progress,
            key=lambda tp: tp.table,
        )
        runs = [
            o.value
            if o.ok
            else TableRun(table=o.item, status="Failed", dry_run=dry_run, error=o.error)
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
                self._alert(
                    "retention",
                    "CRITICAL",
                    "Checkpoint retention enforcement failed",
                    {"checkpoints": deactivation_error},
                    steps,
                )
            )
        return self._finish(state, runs, deactivated, deactivation_error, pre_name)

    def _audit_plan(self, tp: TablePlan, *, refreshed: bool = False) -> None:
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
        self._rt.audit.event(
            "MaintenancePlan",
            status,
            table=tp.ref,
            error=tp.error,
            dry_run=True,
            severity=severity,
            details=details,
        )

    def _refresh(self, plan: MaintenancePlan) -> MaintenancePlan:
        """Plan again the tables whose active checkpoints changed since the plan was made."""
        pins, now, params = self._pins(), utcnow(), plan.parameters

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
                self._scope([tp.table for tp in stale], False), stale, strict=True
            )
        ]
        args = (params.get("min_retention_hours"), bool(params.get("allow_below_floor")))
        outcomes = self._rt.map_tables(
            lambda spec: self._plan_table(spec, pins, now, *args), specs, label="Planning again"
        )
        fresh = {}
        for o, tp in zip(outcomes, stale, strict=True):
            fresh[tp.table] = (
                o.value if o.ok else tp.model_copy(update={"vacuum": "failed", "error": o.error})
            )
            self._audit_plan(fresh[tp.table], refreshed=True)
        return plan.model_copy(
            update={"tables": tuple(fresh.get(tp.table, tp) for tp in plan.tables)}
        )

    def _run_table(self, tp: TablePlan, dry_run: bool) -> TableRun:
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
            self._apply(tp.ref, raises, errors)
        vac = self._vacuum(tp, dry_run, errors) if tp.vacuum == "run" and not errors else {}
        if lowers and not dry_run and not errors:
            self._apply(tp.ref, lowers, errors)
        opt = (
            self._optimize(tp, dry_run, errors)
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

    def _vacuum(self, tp: TablePlan, dry_run: bool, errors: list[str]) -> dict[str, Any]:
        rt, ref, start = self._rt, tp.ref, time.perf_counter()
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
                )
                files, size = res.files, res.bytes or 0
                self._check_deleted(tp, files)
        except Exception as exc:  # a table's failure is reported, never raised
            errors.append(f"VACUUM: {exc}")
            self._event("Vacuum", "Failed", tp, start, dry_run, details, error=exc)
            return {}
        details |= {"files_removed": len(files), "bytes_reclaimed": size}
        self._event("Vacuum", "Succeeded", tp, start, dry_run, details)
        return {"vacuum_files": tuple(files), "files_removed": len(files), "bytes_reclaimed": size}

    def _check_deleted(self, tp: TablePlan, deleted: Sequence[str]) -> None:
        """After the fact, the proof once more: nothing VACUUM deleted is a checkpoint's file."""
        broken = _overlap(deleted, tp._keep or self._keep_set(tp.ref, tp.proof_versions))
        if broken:
            steps = ["run rt.checkpoints.verify on this table's checkpoints"]
            title = f"VACUUM deleted {len(broken)} checkpoint file(s) of {tp.table}"
            self._alert(
                f"deleted:{tp.table}", "CRITICAL", title, {tp.table: ", ".join(broken[:5])}, steps
            )
            msg = f"VACUUM deleted {len(broken)} file(s) an active checkpoint needs"
            raise MaintenanceError(msg, table=tp.table, hint=steps[0])

    def _optimize(self, tp: TablePlan, dry_run: bool, errors: list[str]) -> dict[str, Any]:
        rt, ref, start = self._rt, tp.ref, time.perf_counter()
        details: dict[str, Any] = {"zorder_by": list(tp.zorder_by), "vorder": tp.vorder}
        try:
            # Compaction leaves a lone file alone by itself; Z-ORDER would rewrite it every week.
            files = rt.engine.files(ref) if dry_run or tp.zorder_by else None
            if files is not None and (
                not files
                or (
                    len(files) == 1 and (not tp.zorder_by or _last_operation(rt, ref) == "OPTIMIZE")
                )
            ):
                done = ", already Z-ordered" if files and tp.zorder_by else ""
                note = f"OPTIMIZE not needed: {len(files)} file(s){done}"
                self._event("Optimize", "Skipped", tp, start, dry_run, details | {"note": note})
                return {"optimize_note": note}
            if files is not None and dry_run:
                how = f"Z-ORDER BY ({', '.join(tp.zorder_by)})" if tp.zorder_by else "compaction"
                size = format_bytes(sum(f.size_bytes for f in files))
                note = f"OPTIMIZE would rewrite {len(files)} file(s) ({size}) by {how}"
                self._event("Optimize", "Succeeded", tp, start, dry_run, details | {"note": note})
                return {"optimize_note": note}
            res = rt.engine.optimize(
                ref, zorder_by=tp.zorder_by, vorder=tp.vorder, commit=rt.commit_options()
            )
        except Exception as exc:  # a table's failure is reported, never raised
            errors.append(f"OPTIMIZE: {exc}")
            self._event("Optimize", "Failed", tp, start, dry_run, details, error=exc)
            return {}
        details |= {
            "files_added": res.files_added,
            "files_removed": res.files_removed,
            "vorder_applied": res.vorder,
        }
        self._event("Optimize", "Succeeded", tp, start, dry_run, details)
        return {
            "optimize_files_added": res.files_added,
            "optimize_files_removed": res.files_removed,
        }

    def _event(
        self,
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
        self._rt.audit.event(
            op,
            status,
            table=tp.ref,
            dry_run=dry_run,
            details=details,
            duration_ms=ms,
            error=error,
            severity=severity,
        )

    def _apply(self, ref: TableRef, changes: Sequence[PropertyChange], errors: list[str]) -> None:
        try:
            props = self._rt.engine.properties(ref)
            values = {c.property: c.new for c in changes}
            for c in changes:  # the operator's value is recorded once, before the first raise
                if c.direction == "raise" and BASELINE_PREFIX + c.property not in props:
                    values[BASELINE_PREFIX + c.property] = c.current or "default"
            values |= log_retention_cover(props, values)
            self._rt.engine.set_properties(ref, values, commit=self._rt.commit_options())
        except Exception as exc:  # reported with the table, never raised
            errors.append(f"retention properties: {exc}")
            self._rt.audit.event("RetentionChange", "Failed", table=ref, error=exc, severity="HIGH")
            return
        for c in changes:
            self._rt.audit.event(
                "RetentionChange",
                "Succeeded",
                table=ref,
                severity="LOW",
                details=c.model_dump(mode="json"),
            )

    def _alert(
        self, key: str, severity: Any, title: str, errors: dict[str, str], steps: Sequence[str] = ()
    ) -> str:
        tables = [t for t in errors if "." in t]
        self._rt.alerts.send(
            severity,
            title,
            key=f"maintenance:{key}",
            tables=tables,
            errors=errors,
            first_steps=list(steps),
        )
        return title

    def _finish(
        self,
        state: _RunState,
        runs: list[TableRun],
        deactivated: tuple[str, ...] = (),
        deactivation_error: str | None = None,
        pre_name: str | None = None,
        failed_early: str | None = None,
    ) -> MaintenanceResult:
        plan, dry_run, alerts = state.plan, state.dry_run, state.alerts
        rt, seconds = self._rt, time.perf_counter() - state.start
        failed = {r.table: r.error or "failed" for r in runs if r.status == "Failed"}
        if len(failed) > 3:
            steps = [
                "read each table's error in the summary",
                "re-run the failed tables with tables_scope",
            ]
            alerts.append(
                self._alert(
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
                self._alert(
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
                self._alert(
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
            status=status,  # type: ignore[arg-type]
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

    # -- retention properties --------------------------------------------------------------
    def set_retention(
        self,
        table: str | TableRef,
        log_days: int | None = None,
        deleted_file_days: int | None = None,
        *,
        override_floor: bool = False,
        reason: str | None = None,
        dry_run: bool = True,
    ) -> RetentionChange:
        """Set a table's ``delta.logRetentionDuration`` / ``delta.deletedFileRetentionDuration``.

        Never below what the table's active checkpoints need (until they expire, plus the
        margin); the deleted-file retention never below the floor unless ``override_floor``
        with a ``reason`` (audited as ``RetentionOverride``). A dry run (the default) only
        reports what it would set.

        Args:
            table: ``schema.table``.
            log_days: new log retention, in days (0 to 3,650; ConfigError otherwise).
            deleted_file_days: new deleted-file retention, in days (0 to 3,650).
            override_floor: allow a deleted-file retention below the floor.
            reason: why (required with ``override_floor``).
            dry_run: report only.

        Returns:
            The `RetentionChange` (previous and new values).

        Raises:
            ConfigError: ``override_floor`` or ``dry_run`` is not a boolean; nothing is written.
            RetentionError: nothing to set, a value below the floor or below what checkpoints
                need (audited as a refusal).

        Example:
            >>> # rt.maintenance.set_retention("bronze.donation", log_days=60, dry_run=False)
        """
        override_floor = strict_bool(override_floor, "override_floor")
        dry_run = strict_bool(dry_run, "dry_run")
        log_days = _days(log_days, "log_days")
        deleted_file_days = _days(deleted_file_days, "deleted_file_days")
        rt = self._rt
        ref = rt.table(table)
        try:
            return self._set_retention(
                ref,
                {LOG_RETENTION: log_days, DELETED_FILE_RETENTION: deleted_file_days},
                override_floor,
                reason,
                dry_run,
            )
        except RetentionError as exc:
            rt.audit.event(
                "RetentionChange",
                "Refused",
                table=ref,
                error=exc,
                severity="MEDIUM",
                dry_run=dry_run,
                flush=True,
            )
            raise

    def _set_retention(
        self,
        ref: TableRef,
        days: dict[str, int | None],
        override: bool,
        reason: str | None,
        dry_run: bool,
    ) -> RetentionChange:
        rt, floor = self._rt, self._rt.config.vacuum_retention_floor_hours
        wanted = {prop: d for prop, d in days.items() if d is not None}
        if not wanted or min(wanted.values()) < 1:
            raise RetentionError(
                "set at least one retention, of 1 day or more",
                table=ref.name,
                hint="pass log_days= and/or deleted_file_days=",
            )
        _check_override(override, reason)
        props, now = rt.engine.properties(ref), utcnow()
        pins = [p for p in self._pins() if p.table.lower() == ref.name.lower()]
        need_h = _needed_hours(pins, now, rt.config.retention_margin_days)
        notes, changes = [], {}
        for prop, d in wanted.items():
            if prop == DELETED_FILE_RETENTION and d * 24 < floor:
                if not override:
                    hint = f"use at least {math.ceil(floor / 24)} days, or override_floor=True with a reason (audited)"
                    raise RetentionError(
                        f"{prop} of {d} day(s) is below the safety floor of {floor} hours",
                        table=ref.name,
                        hint=hint,
                    )
                notes.append(f"floor of {floor} hours overridden: {reason}")
            if d * 24 < need_h:
                old = min(pins, key=lambda p: p.timestamp)
                raise RetentionError(
                    f"{prop} of {d} day(s) is below the {math.ceil(need_h / 24)} days active checkpoints need (checkpoint "
                    f"{old.checkpoint} pins version {old.version} of {old.timestamp:%Y-%m-%d} until {old.retention_date})",
                    table=ref.name,
                    hint="keep the retention, or deactivate the checkpoint first (it would become unrestorable)",
                )
            changes[prop] = format_interval(d * 24)
            if BASELINE_PREFIX + prop in props:
                changes[BASELINE_PREFIX + prop] = changes[prop]  # the operator's new intent
        after = {**props, **changes}
        if _prop_hours(after, LOG_RETENTION, ref) < _prop_hours(after, DELETED_FILE_RETENTION, ref):
            notes.append(
                f"{LOG_RETENTION} is shorter than {DELETED_FILE_RETENTION}: time travel stops at the log"
            )
        result = RetentionChange(
            table=ref.name,
            dry_run=dry_run,
            changes=changes,
            previous={k: props.get(k) for k in changes},
            notes=tuple(notes),
        )
        if not dry_run:
            rt.engine.set_properties(
                ref, changes | log_retention_cover(props, changes), commit=rt.commit_options()
            )
        if override:
            rt.audit.event(
                "RetentionOverride",
                "Warning",
                table=ref,
                severity="HIGH",
                dry_run=dry_run,
                details={"reason": reason, "changes": changes},
            )
        rt.audit.event(
            "RetentionChange",
            "Succeeded",
            table=ref,
            dry_run=dry_run,
            severity="LOW",
            details=result.model_dump(mode="json"),
            flush=True,
        )
        return result


# --------------------------------------------------------------------------- helpers


def _check_override(allow: bool, reason: str | None) -> None:
    if allow and not (reason and reason.strip()):
        raise RetentionError(
            "a retention below the floor needs a reason",
            hint="pass reason='why' with the override (it is audited)",
        )


def _floor_error(hours: int, why: str, floor: int, table: str | None) -> RetentionError:
    hint = f"use at least {floor} hours; going lower needs allow_below_floor=True with a reason (audited): files deleted below the floor cannot be restored"
    return RetentionError(
        f"VACUUM retention of {hours} hours ({why}) is below the safety floor of {floor} hours",
        table=table,
        hint=hint,
    )


def _log_retention(
    ref: TableRef, props: dict[str, str], pins: Sequence[_Pin], need_h: float, reasons: list[str]
) -> tuple[list[PropertyChange], tuple[CheckpointRisk, ...]]:
    """AtRisk checkpoints and the log retention change (raise for them, lower once unneeded)."""
    log_h = _prop_hours(props, LOG_RETENTION, ref)
    need = math.ceil(need_h / 24) * 24.0
    recommended, risks = format_interval(need), []
    for p in pins:
        until = p.timestamp + timedelta(hours=log_h)
        if until < p.retention_end:
            reason = (
                f"{LOG_RETENTION} {format_interval(log_h)} keeps version {p.version} reachable only until {until:%Y-%m-%d %H:%M}, "
                f"before its retention date {p.retention_date} ends; recommended {LOG_RETENTION} = '{recommended}'"
            )
            risks.append(
                CheckpointRisk(
                    checkpoint=p.checkpoint, version=p.version, version_timestamp=p.timestamp, retention_date=p.retention_date,
                    reason=reason, recommended_log_retention=recommended,
                )
            )  # fmt: skip
    changes = []
    if need > log_h:
        changes.append(
            _change(
                props,
                LOG_RETENTION,
                need,
                "raise",
                f"keep {len(risks)} AtRisk checkpoint version(s) reachable",
            )
        )
    elif (
        BASELINE_PREFIX + LOG_RETENTION in props
        and max(_baseline_hours(props, LOG_RETENTION, ref), need) < log_h
    ):
        target = max(_baseline_hours(props, LOG_RETENTION, ref), need)
        changes.append(
            _change(
                props,
                LOG_RETENTION,
                target,
                "lower",
                "the checkpoints that needed more have expired",
            )
        )
    if risks:
        reasons.append(f"{len(risks)} checkpoint version(s) AtRisk from log retention")
    return changes, tuple(risks)


def _need_hours(pin: _Pin, now: datetime) -> float:
    """Hours of retention that keep a pinned version's files and log until its checkpoint expires.

    A pinned file is removed at or after the version's commit, so a retention covering the
    version's age keeps its files now, and one covering until the retention end keeps them
    (and the log) for as long as the checkpoint is active. Whole days, as checkpoints raise it.
    """
    age = (now - pin.timestamp).total_seconds() / 86400
    life = (pin.retention_end - pin.timestamp).total_seconds() / 86400
    return math.ceil(max(age, life)) * 24.0


def _needed_hours(pins: Sequence[_Pin], now: datetime, margin_days: int) -> float:
    """What the table's active checkpoints need (0 without any), plus the margin."""
    return max(_need_hours(p, now) for p in pins) + margin_days * 24 if pins else 0.0


def _prop_hours(props: dict[str, str], prop: str, ref: TableRef) -> float:
    value = props.get(prop)
    return parse_interval_hours(value, table=ref.name) if value else float(DEFAULT_HOURS[prop])


def _baseline_hours(props: dict[str, str], prop: str, ref: TableRef) -> float:
    """The operator's own value of a property maintenance may have raised."""
    base = props.get(BASELINE_PREFIX + prop)
    if base is None:
        return _prop_hours(props, prop, ref)
    return (
        float(DEFAULT_HOURS[prop])
        if base == "default"
        else parse_interval_hours(base, table=ref.name)
    )


def _change(
    props: dict[str, str],
    prop: str,
    hours: float,
    direction: Literal["raise", "lower"],
    reason: str,
) -> PropertyChange:
    return PropertyChange(
        property=prop,
        current=props.get(prop),
        new=format_interval(hours),
        direction=direction,
        reason=reason,
    )


def _overlap(candidates: Iterable[str], keep: frozenset[str]) -> list[str]:
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


def _last_operation(rt: Runtime, ref: TableRef) -> str:
    history = rt.engine.history(ref, limit=1)
    return history[0].operation.upper() if history else ""


def _deactivated_names(res: Any) -> tuple[str, ...]:
    items = getattr(res, "deactivated", None) or ()
    return tuple(getattr(i, "checkpoint_name", None) or str(i) for i in items)


def _vacuum_text(tp: TablePlan) -> str:
    if tp.vacuum == "disabled":
        return "disabled (EnableVacuum = false)"
    if tp.vacuum != "run":
        return f"{tp.vacuum.upper()} - {tp.error}"
    keep = f" keep versions {list(tp.keep_versions)}" if tp.keep_versions else ""
    return f"RETAIN {tp.retention_hours} HOURS{keep} - would delete {len(tp.candidate_files)} file(s), {format_bytes(tp.candidate_bytes)}"


def _protect_text(tp: TablePlan) -> str:
    if tp.vacuum != "run":
        return "VACUUM does not run on this table"
    how = {
        "none": "nothing to protect",
        "keep_versions": "pinned versions kept by VACUUM",
        "retention": "retention covers them",
    }
    return f"{how[tp.protection]}; {tp.protected_files} file(s) the unprotected VACUUM would have deleted"


def _optimize_text(tp: TablePlan) -> str:
    if not tp.optimize:
        return "disabled (EnableOptimize = false)"
    how = f"ZORDER BY ({', '.join(tp.zorder_by)})" if tp.zorder_by else "compaction"
    return how + (" + V-Order (Fabric Spark)" if tp.vorder else "")


def _optimize_reason(cfg: TableConfig, kind: str) -> str:
    if not cfg.enable_optimize:
        return "OPTIMIZE off: EnableOptimize is false"
    if not cfg.zorder_columns:
        return "OPTIMIZE compaction (no Z-ORDER columns configured)"
    return f"OPTIMIZE Z-ORDER from {'its query columns' if kind == 'metadata' else 'OptimizeZOrderColumns'}"


# --------------------------------------------------------------------------- CLI and demo


__all__ = [
    "BASELINE_PREFIX",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "CheckpointRisk",
    "Maintenance",
    "MaintenancePlan",
    "MaintenanceResult",
    "PropertyChange",
    "RetentionChange",
    "TablePlan",
    "TableRun",
    "format_interval",
    "parse_interval_hours",
]
