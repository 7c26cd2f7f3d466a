"""The models of maintenance: the per-table plan, the run summary, a retention change.

They are what `Maintenance.plan`, `Maintenance.run` and `Maintenance.set_retention` return:
frozen and JSON-able (the notebook's exit value), each with the text report people read
(``to_text``). They sit apart from the planning and the running so that both phases, and a
reader, find the shapes in one place; the report wording is a method of each model because the
model is all it reads.

Example:
    >>> from datetime import datetime, timezone
    >>> plan = MaintenancePlan(run_id="r1", created_at=datetime(2025, 1, 15, tzinfo=timezone.utc),
    ...                        engine="delta-rs", floor_hours=168)
    >>> plan.to_text()
    'Maintenance plan r1 at 2025-01-15 00:00 UTC (engine delta-rs, floor 168 h): 0 tables'
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from fmd_runtime._base import FROZEN
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.config import StrictFlag
from fmd_runtime.tables import TableRef

VacuumAction = Literal["run", "skip", "refused", "disabled", "failed"]
TableStatus = Literal["Succeeded", "Failed", "Skipped", "Refused"]
RunStatus = Literal["Succeeded", "PartiallyFailed", "Failed"]
Protection = Literal["none", "keep_versions", "retention"]
TableKind = Literal["data", "metadata"]


class PropertyChange(BaseModel):
    """A retention property the plan sets, and why."""

    model_config = FROZEN

    property: str
    current: str | None
    new: str
    direction: Literal["raise", "lower"]
    reason: str


class CheckpointRisk(BaseModel):
    """An active checkpoint the table's log retention would make unreachable before it expires."""

    model_config = FROZEN

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

    model_config = FROZEN

    table: str
    kind: TableKind = "data"
    vacuum: VacuumAction
    requested_retention_hours: int | None = None
    retention_hours: int | None = None
    enforce_retention: bool = True
    keep_versions: tuple[int, ...] = ()
    pinned_versions: tuple[int, ...] = ()
    proof_versions: tuple[int, ...] = ()
    checkpoints: tuple[str, ...] = ()
    protection: Protection = "none"
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
    # The keep-set the plan proved against, kept for the check after VACUUM (not serialized).
    _keep: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def ref(self) -> TableRef:
        """The table as a `TableRef`."""
        return TableRef.parse(self.table)


class MaintenancePlan(BaseModel):
    """The per-table plan of one maintenance run (JSON-able; `to_text` for people)."""

    model_config = FROZEN

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

    model_config = FROZEN

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

    model_config = FROZEN

    run_id: str
    dry_run: StrictFlag
    status: RunStatus
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

    model_config = FROZEN

    table: str
    dry_run: StrictFlag
    changes: dict[str, str]
    previous: dict[str, str | None]
    notes: tuple[str, ...] = ()


# -- the lines of a plan's report ---------------------------------------------------------------


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


__all__ = [
    "CheckpointRisk",
    "MaintenancePlan",
    "MaintenanceResult",
    "PropertyChange",
    "Protection",
    "RetentionChange",
    "RunStatus",
    "TableKind",
    "TablePlan",
    "TableRun",
    "TableStatus",
    "VacuumAction",
]
