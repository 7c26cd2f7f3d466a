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
"""

from __future__ import annotations

import difflib
import hashlib
import html
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime._text import format_bytes, plural
from fmd_runtime.audit import Severity
from fmd_runtime.checkpoints import Checkpoint, CheckpointTable, VerifyResult
from fmd_runtime.config import StrictFlag, TableConfig, strict_bool
from fmd_runtime.engine import CommitOptions, DataFile, HistoryEntry, TableAt
from fmd_runtime.errors import (
    ApprovalError,
    CheckpointError,
    ConfigError,
    FmdError,
    RollbackError,
)
from fmd_runtime.fabric import exit_value as fabric_exit_value
from fmd_runtime.retention import BASELINE_PREFIX, DEFAULT_PROPERTY_DAYS
from fmd_runtime.store import to_json, utcnow
from fmd_runtime.tables import TableRef, parse_tables
from fmd_runtime.validation import (
    TableMeasure,
    ValidationCheck,
    check_measure,
    manifest_digest,
    schema_fingerprint,
)

if TYPE_CHECKING:
    from fmd_runtime.context import Outcome
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Risk = Literal["Low", "Medium", "High"]
Action = Literal["Restore", "NoOp", "Resume"]
TableStatus = Literal["Restored", "Resumed", "NoOp", "Failed"]
RunStatus = Literal["Planned", "AwaitingApproval", "Succeeded", "PartiallyFailed", "Failed"]

RUN_KEY = "fmd.rollbackRunId"
"""Commit metadata key of a rollback's RESTORE commits (its run id)."""
CHECKPOINT_KEY = "fmd.checkpointName"
TARGET_KEY = "fmd.targetVersion"
SAMPLE_KEYS = 100
MAX_COMMITS_LISTED = 100
_RANK: dict[str, int] = {"Low": 0, "Medium": 1, "High": 2}
_STATES = ("Active", "Deleted", "Purged")
_ALL = {"", "all", "*"}
# Writer metrics that count rows touched, as delta-rs (snake_case) and Spark (camelCase) name them.
_TOUCH_KEYS = (
    "num_added_rows",
    "numOutputRows",
    "num_updated_rows",
    "numUpdatedRows",
    "num_deleted_rows",
    "numDeletedRows",
    "num_target_rows_inserted",
    "numTargetRowsInserted",
    "num_target_rows_updated",
    "numTargetRowsUpdated",
    "num_target_rows_deleted",
    "numTargetRowsDeleted",
)


# --------------------------------------------------------------------------------- models


class _PerTable(Protocol):
    @property
    def table(self) -> str: ...


_T = TypeVar("_T", bound=_PerTable)


def _in_scope(tables: Sequence[_T], name: str) -> _T:
    """The entry of ``tables`` for table ``name`` (case-insensitive); KeyError if absent."""
    wanted = name.strip().lower()
    for t in tables:
        if t.table.lower() == wanted:
            return t
    raise KeyError(name)


class Counts(BaseModel):
    """Rows of a table version by state (None where unknown: no tracking columns)."""

    model_config = _FROZEN

    total: int | None = None
    active: int | None = None
    deleted: int | None = None
    purged: int | None = None

    def minus(self, other: Counts) -> Counts:
        """``self - other`` per state (None when either side is unknown).

        Example:
            >>> Counts(total=5, active=4).minus(Counts(total=3, active=1))
            Counts(total=2, active=3, deleted=None, purged=None)
        """

        def d(a: int | None, b: int | None) -> int | None:
            return None if a is None or b is None else a - b

        return Counts(
            total=d(self.total, other.total),
            active=d(self.active, other.active),
            deleted=d(self.deleted, other.deleted),
            purged=d(self.purged, other.purged),
        )


class CommitUndone(BaseModel):
    """A commit after the pinned version: RESTORE undoes its effect."""

    model_config = _FROZEN

    version: int
    timestamp: datetime
    operation: str
    rows_touched: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None


class TableImpact(BaseModel):
    """What rolling back one table changes (the plan's per-table impact analysis).

    ``delta`` is pinned minus current per state: positive rows come back (e.g. ``active +40000``
    after a bad sync flagged them deleted), negative ones go away. ``rows_changed`` is the number of
    rows whose state the counts prove changes; ``rows_touched`` what the undone commits' metrics
    say they wrote (an upper bound that also sees value-only updates). Files compare on path and
    deletion-vector id: ``files_to_add`` / ``files_to_remove`` are RESTORE's own metrics, known
    before anything commits.
    """

    model_config = _FROZEN

    table: str
    action: Action
    reason: str | None = None
    pinned_version: int
    pinned_timestamp: datetime | None = None
    current_version: int
    current_timestamp: datetime | None = None
    tracked: bool = False
    current: Counts
    pinned: Counts
    delta: Counts
    rows_back: int = 0
    rows_gone: int = 0
    rows_changed: int = 0
    rows_touched: int | None = None
    changed_pct: float = 0.0
    risk_pct: float = 0.0
    risk: Risk = "Low"
    time_back_seconds: float | None = None
    checkpoint_age_seconds: float | None = None
    commits_undone: int = 0
    commits: tuple[CommitUndone, ...] = ()
    files_to_add: int = 0
    bytes_to_add: int = 0
    files_to_remove: int = 0
    bytes_to_remove: int = 0
    schema_changed: bool = False
    restorability: str = "Restorable"
    warnings: tuple[str, ...] = ()
    analysis_ms: int = 0
    pinned_load: str | None = None
    """Which load the pinned version reflects (`CheckpointTable.load_text`), e.g. ``bronze.contact
    v8 = batch B1 (v8, ...): not loaded in this batch``."""


class DependencyGap(BaseModel):
    """A related table left at another point in time by the scope of a rollback."""

    model_config = _FROZEN

    table: str
    related: str
    related_in_checkpoint: bool
    message: str


class PlanTotals(BaseModel):
    """The plan's aggregate."""

    model_config = _FROZEN

    tables_in_scope: int
    tables_to_restore: int
    tables_noop: int
    rows_changed: int
    rows_back: int
    rows_gone: int
    net_rows: int
    files_to_add: int
    bytes_to_add: int
    files_to_remove: int
    bytes_to_remove: int
    risk: Risk
    estimated_seconds: float


class RollbackPlan(BaseModel):
    """A validated rollback plan: the impact per table, the totals, and the approval token.

    A plan is bound to the lakehouse it was made on: ``lakehouse`` (where that lakehouse's
    metadata store keeps ``CheckpointHistory``, per the engine's ``location``) and
    ``metadata_schema``. `Rollback.execute` refuses it anywhere else, and refuses it when its
    checkpoint, scope or any version differs from what the store and the tables say.

    JSON-able (``model_dump(mode="json")``), text (`to_text`) and HTML (``_repr_html_``).
    """

    model_config = _FROZEN

    run_id: str
    created_at: datetime
    lakehouse: str
    metadata_schema: str
    checkpoint: Checkpoint
    kind: str | None = None
    scope_text: str
    tables: tuple[TableImpact, ...]
    dependencies: tuple[DependencyGap, ...] = ()
    warnings: tuple[str, ...] = ()
    restorability: str = "Restorable"
    totals: PlanTotals
    approval_token: str
    require_approval: StrictFlag = True
    allow_failed_validation: StrictFlag = False

    @property
    def checkpoint_name(self) -> str:
        """The target checkpoint's name."""
        return self.checkpoint.checkpoint_name

    @property
    def checkpoint_id(self) -> str:
        """The target checkpoint's id."""
        return self.checkpoint.checkpoint_id

    @property
    def scope(self) -> tuple[str, ...]:
        """Tables in scope (``schema.table``)."""
        return tuple(t.table for t in self.tables)

    def table(self, name: str) -> TableImpact:
        """The impact of one table (KeyError if it is not in scope)."""
        return _in_scope(self.tables, name)

    def to_text(self) -> str:
        """The impact report (CLI, notebook output)."""
        return _plan_text(self)

    def _repr_html_(self) -> str:
        return _plan_html(self)

    def to_exit_dict(self) -> dict[str, Any]:
        """Compact JSON-able summary (notebook exit values)."""
        return {
            "status": "Planned",
            "run_id": self.run_id,
            "checkpoint": self.checkpoint_name,
            "approval_token": self.approval_token,
            "risk": self.totals.risk,
            "tables": [_impact_exit(t) for t in self.tables],
        }


class TableOutcome(BaseModel):
    """What happened to one table in an execution."""

    model_config = _FROZEN

    table: str
    status: TableStatus
    pinned_version: int
    version_before: int | None = None
    version_after: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    properties_kept: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    reason: str | None = None
    duration_ms: int = 0


class ComparisonReport(BaseModel):
    """Key-level comparison of one table before and after the rollback."""

    model_config = _FROZEN

    table: str
    pre_version: int
    post_version: int
    key_level: bool
    rows_before: int
    rows_after: int
    restored: int
    removed: int
    unchanged: int | None
    state_changes: dict[str, int] = Field(default_factory=dict)
    pct_restored: float
    pct_removed: float
    pct_unchanged: float | None
    null_keys_after: int | None = None
    anomalies: tuple[str, ...] = ()


class RollbackResult(BaseModel):
    """The outcome of `Rollback.execute` (JSON-able; `to_text` is the validation report)."""

    model_config = _FROZEN

    run_id: str
    status: RunStatus
    dry_run: StrictFlag = False
    checkpoint_id: str
    checkpoint_name: str
    reason: str | None = None
    triggered_by: str | None = None
    pipeline_run_id: str | None = None
    started_at: datetime
    finished_at: datetime
    approval_token: str
    tables: tuple[TableOutcome, ...] = ()
    checks: tuple[ValidationCheck, ...] = ()
    quality_score: float | None = None
    comparisons: tuple[ComparisonReport, ...] = ()
    pre_checkpoint: str | None = None
    post_checkpoint: str | None = None
    invalidated_runs: tuple[dict[str, Any], ...] = ()
    rewound_watermarks: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()
    message: str | None = None

    @property
    def succeeded(self) -> list[str]:
        """Tables restored by this execution."""
        return [t.table for t in self.tables if t.status == "Restored"]

    @property
    def failed(self) -> list[str]:
        """Tables whose restore failed (with the Delta error in `tables`)."""
        return [t.table for t in self.tables if t.status == "Failed"]

    @property
    def skipped(self) -> list[str]:
        """Tables skipped: already at the checkpoint, or already restored by this run (resume)."""
        return [t.table for t in self.tables if t.status in ("NoOp", "Resumed")]

    @property
    def failed_checks(self) -> list[ValidationCheck]:
        """Post-validation checks that failed."""
        return [c for c in self.checks if not c.passed]

    def table(self, name: str) -> TableOutcome:
        """The outcome of one table (KeyError if it is not in scope)."""
        return _in_scope(self.tables, name)

    def to_text(self) -> str:
        """The validation report as text."""
        return _result_text(self)

    def _repr_html_(self) -> str:
        return _result_html(self)

    def to_exit_dict(self) -> dict[str, Any]:
        """Compact JSON-able summary (notebook exit values)."""
        return {
            "status": self.status,
            "run_id": self.run_id,
            "checkpoint": self.checkpoint_name,
            "approval_token": self.approval_token,
            "quality_score": self.quality_score,
            "tables": [
                {
                    "table": t.table,
                    "status": t.status,
                    "pinned_version": t.pinned_version,
                    "version_after": t.version_after,
                    "error": t.error,
                }
                for t in self.tables
            ],
            "failed_checks": [f"{c.table}: {c.check_name}" for c in self.failed_checks],
        }


class RollbackRun(BaseModel):
    """One run of the rollback notebook / pipeline: the plan, the decision and the outcome.

    ``status``: Planned (dry run), AwaitingApproval (no or stale token: re-run with the token
    shown), Succeeded, PartiallyFailed or Failed. `exit_value` is the notebook's exit value.
    """

    model_config = _FROZEN

    status: RunStatus
    run_id: str
    checkpoint_name: str | None = None
    dry_run: StrictFlag = True
    approval_token: str | None = None
    quality_score: float | None = None
    message: str | None = None
    recommended_actions: tuple[str, ...] = ()
    pipeline_run_id: str | None = None
    plan: RollbackPlan | None = None
    result: RollbackResult | None = None

    def to_text(self) -> str:
        """Impact report, decision and (when it ran) the validation report."""
        parts = [self.plan.to_text()] if self.plan else []
        parts.append(f"Status: {self.status}" + (f" - {self.message}" if self.message else ""))
        parts += [f"  what to do: {a}" for a in self.recommended_actions]
        if self.result:
            parts.append(self.result.to_text())
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        body = [f"<h3>Rollback: {html.escape(self.status)}</h3>"]
        if self.message:
            body.append(f"<p>{html.escape(self.message)}</p>")
        if self.recommended_actions:
            items = "".join(f"<li>{html.escape(a)}</li>" for a in self.recommended_actions)
            body.append(f"<ul>{items}</ul>")
        if self.plan:
            body.append(self.plan._repr_html_())
        if self.result:
            body.append(self.result._repr_html_())
        return "\n".join(body)

    def to_exit_dict(self) -> dict[str, Any]:
        """The notebook exit value's fields."""
        tables: list[dict[str, Any]] = []
        if self.result:
            tables = self.result.to_exit_dict()["tables"]
        elif self.plan:
            tables = [_impact_exit(t) for t in self.plan.tables]
        return {
            "status": self.status,
            "run_id": self.run_id,
            "pipeline_run_id": self.pipeline_run_id,
            "checkpoint": self.checkpoint_name,
            "dry_run": self.dry_run,
            "approval_token": self.approval_token,
            "quality_score": self.quality_score,
            "message": self.message,
            "tables": tables,
        }

    def exit_value(self) -> str:
        """The JSON text for ``notebook_exit`` (via `fmd_runtime.fabric.exit_value`)."""
        return fabric_exit_value(self)


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


def risk_level(changed_pct: float, *, high_pct: float, medium_pct: float) -> Risk:
    """High / Medium / Low by the share of rows changed (thresholds in percent).

    Example:
        >>> risk_level(12.0, high_pct=10, medium_pct=1), risk_level(0.5, high_pct=10, medium_pct=1)
        ('High', 'Low')
    """
    if changed_pct >= high_pct:
        return "High"
    return "Medium" if changed_pct >= medium_pct else "Low"


def rows_changed(delta: Counts, *, tracked: bool) -> int:
    """Rows whose state the counts prove changes (a lower bound from net counts).

    For tables with tracking columns: the larger of the states' gains and losses (40 rows
    flagged deleted by a bad sync = active +40, deleted -40 = 40 rows); otherwise the net total.

    Example:
        >>> rows_changed(Counts(total=0, active=40, deleted=-40, purged=0), tracked=True)
        40
    """
    if tracked:
        parts = [v for v in (delta.active, delta.deleted, delta.purged) if v is not None]
        if parts:
            return max(sum(v for v in parts if v > 0), -sum(v for v in parts if v < 0))
    return abs(delta.total or 0)


def rows_touched(metrics: Mapping[str, Any]) -> int | None:
    """Rows a commit wrote by its writer metrics (delta-rs and Spark names); None if unknown.

    Example:
        >>> rows_touched({"num_target_rows_updated": 40, "num_target_rows_copied": 900})
        40
    """
    found = None
    for key in _TOUCH_KEYS:
        value = metrics.get(key)
        if value is None:
            continue
        try:
            found = (found or 0) + int(value)
        except (TypeError, ValueError):
            continue
    return found


def file_effect(
    current: Sequence[DataFile], pinned: Sequence[DataFile]
) -> tuple[list[DataFile], list[DataFile]]:
    """Files RESTORE adds back and removes, compared on (path, deletion-vector id).

    Example:
        >>> a, b = DataFile(path="a", size_bytes=1), DataFile(path="b", size_bytes=2)
        >>> [[f.path for f in side] for side in file_effect([a], [b])]
        [['b'], ['a']]
    """
    cur = {(f.path, f.deletion_vector or ""): f for f in current}
    pin = {(f.path, f.deletion_vector or ""): f for f in pinned}
    add = [pin[k] for k in sorted(pin.keys() - cur.keys())]
    remove = [cur[k] for k in sorted(cur.keys() - pin.keys())]
    return add, remove


def state_sql(quote: Callable[[str], str], deleted: str | None, purged: str | None) -> str:
    """SQL for a row's state: Purged wins over Deleted, else Active (NULL flags are not set).

    Example:
        >>> state_sql(lambda c: f'"{c}"', "D", None)
        'CASE WHEN COALESCE("D", FALSE) THEN \\'Deleted\\' ELSE \\'Active\\' END'
    """
    parts = []
    if purged:
        parts.append(f"WHEN COALESCE({quote(purged)}, FALSE) THEN 'Purged'")
    if deleted:
        parts.append(f"WHEN COALESCE({quote(deleted)}, FALSE) THEN 'Deleted'")
    return f"CASE {' '.join(parts)} ELSE 'Active' END" if parts else "'Active'"


def comparison_sql(
    quote: Callable[[str], str], keys: Sequence[str], deleted: str | None, purged: str | None
) -> str:
    """ONE FULL OUTER JOIN on the key of ``{pre}`` and ``{post}``: restored, removed, unchanged,
    each state transition, the rows each side contributed (duplicate keys show there) and the
    post rows with a NULL key.

    Example:
        >>> "FULL OUTER JOIN" in comparison_sql(lambda c: f'"{c}"', ["Id"], "D", "P")
        True
    """
    state = state_sql(quote, deleted, purged)
    cols = ", ".join(f"{quote(k)} AS k{i}" for i, k in enumerate(keys))
    on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(keys)))
    nulls = " OR ".join(f"b.k{i} IS NULL" for i in range(len(keys)))
    parts = [
        "COUNT(a.s) AS before_rows",
        "COUNT(b.s) AS after_rows",
        "COUNT(*) FILTER (WHERE a.s IS NULL) AS restored",
        "COUNT(*) FILTER (WHERE b.s IS NULL) AS removed",
        "COUNT(*) FILTER (WHERE a.s = b.s) AS unchanged",
        # a post row with a NULL key never matches, so the join holds it exactly once
        f"COUNT(*) FILTER (WHERE b.s IS NOT NULL AND ({nulls})) AS after_null_keys",
    ]
    for x in _STATES:
        for y in _STATES:
            if x != y:
                parts.append(
                    f"COUNT(*) FILTER (WHERE a.s = '{x}' AND b.s = '{y}') AS {x.lower()}_{y.lower()}"
                )
    return (
        f"SELECT {', '.join(parts)} FROM "
        f"(SELECT {cols}, {state} AS s FROM {{pre}}) a FULL OUTER JOIN "
        f"(SELECT {cols}, {state} AS s FROM {{post}}) b ON {on}"
    )


def orphan_sql(quote: Callable[[str], str], column: str, parent_column: str) -> str:
    """Rows of ``{child}`` whose non-null ``column`` has no ``parent_column`` in ``{parent}``.

    Example:
        >>> "LEFT JOIN" in orphan_sql(lambda c: f'"{c}"', "AccountId", "AccountId")
        True
    """
    return (
        f"SELECT COUNT(*) AS orphans FROM {{child}} c LEFT JOIN "
        f"(SELECT DISTINCT {quote(parent_column)} AS k FROM {{parent}}) p "
        f"ON c.{quote(column)} = p.k WHERE c.{quote(column)} IS NOT NULL AND p.k IS NULL"
    )


def quality_score(checks: Sequence[ValidationCheck]) -> float | None:
    """Percent of checks passed (100.0 = every check passed; None when there were none).

    Example:
        >>> quality_score([])
    """
    if not checks:
        return None
    return round(100.0 * sum(c.passed for c in checks) / len(checks), 2)


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    ua, ub = _utc(a), _utc(b)
    return None if ua is None or ub is None else round((ua - ub).total_seconds(), 3)


def _is_all(tables: Any) -> bool:
    if tables is None:
        return True
    if isinstance(tables, str):
        return tables.strip().lower() in _ALL
    return not list(tables)


def _scope_text(tables: Any) -> str:
    if _is_all(tables):
        return "All"
    return tables if isinstance(tables, str) else ",".join(str(t) for t in tables)


def _recommended(exc: BaseException) -> list[str]:
    if isinstance(exc, FmdError):
        acts = exc.details.get("recommended_actions")
        if acts:
            return [str(a) for a in acts]
        return [exc.hint] if exc.hint else []
    return []


# --------------------------------------------------------------------------------- working state
@dataclass
class _Post:
    """What post-validation learned about one table."""

    table: str
    version: int
    measure: TableMeasure | None
    checks: list[ValidationCheck]
    sample: Any
    comparison: ComparisonReport | None = None


@dataclass
class _Execution:
    plan: RollbackPlan
    reason: str | None
    started_at: datetime
    start: float
    pre_pins: dict[str, CheckpointTable] = field(default_factory=dict)
    pre_name: str | None = None
    post_name: str | None = None
    outcomes: list[TableOutcome] = field(default_factory=list)
    posts: list[_Post] = field(default_factory=list)
    checks: list[ValidationCheck] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    watermarks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    configs: dict[str, TableConfig] = field(default_factory=dict)
    post: Checkpoint | None = None
    post_pins: dict[str, CheckpointTable] = field(default_factory=dict)


# --------------------------------------------------------------------------------- capability
class Rollback:
    """``rt.rollback``: plan, approve, execute and report rollbacks to a checkpoint.

    Args:
        runtime: the `Runtime` (engine, store, config, audit, alerts, checkpoints).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # -- plan ------------------------------------------------------------------------------
    def plan(
        self,
        checkpoint: str | None = None,
        tables: str | Sequence[str] | None = "All",
        kind: str | None = None,
        *,
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
        require_approval = strict_bool(require_approval, "require_approval")
        allow_failed_validation = strict_bool(allow_failed_validation, "allow_failed_validation")
        rt = self._rt
        start = time.perf_counter()
        scope_text = _scope_text(tables)
        try:
            cp = self._checkpoint(checkpoint, kind, tables)
            pins = self._scope(cp, tables)
            self._check_target(cp, pins, allow_failed_validation)
            # restorability (verify) and the impact reads overlap: both read every table
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-plan") as pool:
                reading = pool.submit(self._impacts, pins, cp.batch_id)
                try:
                    verify = rt.checkpoints.verify(cp.checkpoint_id)
                finally:
                    configs, outcomes = reading.result()
            self._check_restorable(cp, pins, verify)
        except FmdError as exc:
            err = (
                exc
                if isinstance(exc, RollbackError)
                else RollbackError(
                    exc.message, table=exc.table, hint=exc.hint, details=dict(exc.details)
                )
            )
            self._refused(
                "RollbackValidation", err, checkpoint or "latest", scope_text, start, dry_run=True
            )
            if err is exc:
                raise
            raise err from exc
        rt.audit.event(
            "RollbackValidation",
            "Succeeded",
            dry_run=True,
            duration_ms=_ms(start),
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
            self._refused(
                "RollbackImpactAnalysis", err, cp.checkpoint_name, scope_text, start, True
            )
            raise err
        by_table = {v.table.lower(): v for v in verify.tables}
        impacts = [_with_verification(o.value, by_table.get(o.item.lower())) for o in outcomes]
        gaps = self._dependencies(cp, impacts, configs)
        plan = self._assemble_plan(
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
        self._audit_plan(plan, start)
        return plan

    def _checkpoint(self, name: str | None, kind: str | None, tables: Any) -> Checkpoint:
        """The target checkpoint: by name/id, or the newest restore target of ``kind``."""
        rt = self._rt
        cp: Checkpoint
        if not name or name.strip().lower() in ("latest", "last"):
            wanted = [] if _is_all(tables) else [t.name.lower() for t in self._refs(tables)]
            for cp in rt.checkpoints.list(active_only=True, kind=kind or None):
                names = {t.table.lower() for t in cp.tables}
                if cp.validation_status == "Validated" and all(w in names for w in wanted):
                    return cp
            raise RollbackError(
                f"no active, Validated {kind + ' ' if kind else ''}checkpoint covers "
                f"{_scope_text(tables)}",
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
                f"checkpoint {cp.checkpoint_name!r} is a {cp.checkpoint_type} checkpoint, "
                f"not {kind}",
                hint="pass the checkpoint's own type (or none) as checkpoint_type",
                details={"recommended_actions": [f"use checkpoint_type={cp.checkpoint_type!r}"]},
            )
        return cp

    def _refs(self, tables: Any) -> list[TableRef]:
        return parse_tables(tables, default_schema=self._rt.config.default_schema)

    def _scope(self, cp: Checkpoint, tables: Any) -> list[CheckpointTable]:
        """The pinned tables in scope (a subset must be inside the checkpoint)."""
        if _is_all(tables):
            return sorted(cp.tables, key=lambda t: t.table.lower())
        pinned = {t.table.lower(): t for t in cp.tables}
        refs = self._refs(tables)
        missing = [r.name for r in refs if r.name.lower() not in pinned]
        if missing:
            raise RollbackError(
                f"table(s) {missing} are not in checkpoint {cp.checkpoint_name!r}",
                hint=f"it covers {sorted(pinned_t.table for pinned_t in cp.tables)}; choose "
                "tables among them, or a checkpoint that covers these",
                details={"recommended_actions": ["choose tables the checkpoint covers"]},
            )
        return sorted((pinned[r.name.lower()] for r in refs), key=lambda t: t.table.lower())

    def _check_target(self, cp: Checkpoint, pins: Sequence[CheckpointTable], allow: bool) -> None:
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
            actions.insert(0, self._pick_another(cp, pins))
            raise RollbackError(
                f"cannot roll back to checkpoint {cp.checkpoint_name!r}: " + "; ".join(problems),
                hint="; ".join(actions),
                details={"problems": problems, "recommended_actions": actions},
            )

    def _check_restorable(
        self, cp: Checkpoint, pins: Sequence[CheckpointTable], verify: VerifyResult
    ) -> None:
        """Every table in scope restorable per `Checkpoints.verify`; else a RollbackError."""
        scope = {p.table.lower() for p in pins}
        lost = [v for v in verify.tables if v.table.lower() in scope and v.status == "Unrestorable"]
        if not lost:
            return
        keep = [p.table for p in pins if p.table not in {v.table for v in lost}]
        actions = [self._pick_another(cp, pins)]
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

    def _pick_another(self, cp: Checkpoint, pins: Sequence[CheckpointTable]) -> str:
        others = self._alternatives(cp, pins)
        if others:
            return f"choose another checkpoint ({', '.join(others)})"
        return "take a new checkpoint of the tables once their state is known to be good"

    def _alternatives(self, cp: Checkpoint, pins: Sequence[CheckpointTable]) -> list[str]:
        wanted = {p.table.lower() for p in pins}
        out = []
        for c in self._rt.checkpoints.list(active_only=True):
            names = {t.table.lower() for t in c.tables}
            if c.checkpoint_id != cp.checkpoint_id and c.is_restore_target and wanted <= names:
                out.append(c.checkpoint_name)
        return out[:3]

    def _impacts(
        self, pins: Sequence[CheckpointTable], batch_id: str | None = None
    ) -> tuple[dict[str, TableConfig], list[Outcome[TableImpact]]]:
        """Every table's impact, concurrently, with the PipelineConfig it was read with."""
        rt = self._rt
        configs = {c.table.lower(): c for c in rt.table_configs(enabled_only=False)}
        now = utcnow()
        outcomes = rt.map_tables(
            lambda p: self._impact(p, configs.get(p.table.lower()), now, batch_id),
            pins,
            label="Analysing table",
            key=lambda p: p.table,
        )
        return configs, outcomes

    def _impact(
        self,
        pin: CheckpointTable,
        cfg: TableConfig | None,
        now: datetime,
        checkpoint_batch: str | None = None,
    ) -> TableImpact:
        """Read one table (version, history since the pin, both file lists, counts)."""
        rt, eng = self._rt, self._rt.engine
        start = time.perf_counter()
        ref = TableRef(schema_name=pin.schema_name, table=pin.table_name)
        cfg = cfg or TableConfig(table=ref.name)
        snap = eng.snapshot(ref)
        cur = snap.version
        if cur < pin.version:
            raise RollbackError(
                f"current version {cur} is older than the pinned version {pin.version} "
                "(the table was recreated?)",
                table=ref.name,
                hint="this checkpoint no longer describes the table; take a new checkpoint",
            )
        history = eng.history(ref, cur - pin.version) if cur > pin.version else []
        cur_files = eng.files(ref, cur)
        pin_files = cur_files if cur == pin.version else eng.files(ref, pin.version)
        m = rt.checkpoints.measure(ref, cur, config=cfg)
        same_schema = schema_fingerprint(snap) == pin.schema_fingerprint
        same_files = manifest_digest(cur_files) == pin.manifest_digest
        mine = [
            h.version
            for h in history
            if h.operation.upper() == "RESTORE"
            and str(h.user_metadata.get(RUN_KEY)) == rt.context.run_id
        ]
        action: Action = "Restore"
        reason = None
        if cur == pin.version:
            action, reason = "NoOp", "already at the pinned version"
        elif same_files and same_schema:
            if mine:
                action, reason = "Resume", f"already restored by this run (version {mine[0]})"
            else:
                action = "NoOp"
                reason = "its files and schema already equal the checkpoint's"
        add, remove = file_effect(cur_files, pin_files)
        current = Counts(total=m.total, active=m.active, deleted=m.deleted, purged=m.purged)
        pinned = Counts(
            total=pin.total_rows,
            active=pin.active_rows,
            deleted=pin.deleted_rows,
            purged=pin.purged_rows,
        )
        delta = pinned.minus(current)
        changed = rows_changed(delta, tracked=cfg.has_tracking)
        commits = [_commit(h) for h in history]
        touched_parts = [c.rows_touched for c in commits if c.rows_touched is not None]
        touched = sum(touched_parts) if touched_parts else None
        base = max(current.total or 0, pinned.total or 0)
        pct = _share(changed, base)
        # the risk also sees what the undone commits wrote (value-only updates, rewrites)
        risk_pct = max(pct, _share(min(touched or 0, base), base))
        risk: Risk = "Low"
        if action == "Restore":
            risk = risk_level(
                risk_pct, high_pct=rt.config.risk_high_pct, medium_pct=rt.config.risk_medium_pct
            )
        warnings = self._table_warnings(action, add, same_schema, history)
        return TableImpact(
            table=ref.name,
            action=action,
            reason=reason,
            pinned_version=pin.version,
            pinned_timestamp=_utc(pin.version_timestamp),
            pinned_load=pin.load_text(checkpoint_batch),
            current_version=cur,
            current_timestamp=_utc(snap.timestamp),
            tracked=cfg.has_tracking,
            current=current,
            pinned=pinned,
            delta=delta,
            rows_back=max(0, delta.total or 0),
            rows_gone=max(0, -(delta.total or 0)),
            rows_changed=changed if action == "Restore" else 0,
            rows_touched=touched,
            changed_pct=pct if action == "Restore" else 0.0,
            risk_pct=risk_pct if action == "Restore" else 0.0,
            risk=risk,
            time_back_seconds=_seconds(snap.timestamp, pin.version_timestamp),
            checkpoint_age_seconds=_seconds(now, pin.version_timestamp),
            commits_undone=len(commits) if action == "Restore" else 0,
            commits=tuple(commits[:MAX_COMMITS_LISTED]) if action == "Restore" else (),
            files_to_add=len(add),
            bytes_to_add=sum(f.size_bytes for f in add),
            files_to_remove=len(remove),
            bytes_to_remove=sum(f.size_bytes for f in remove),
            schema_changed=not same_schema,
            warnings=tuple(warnings),
            analysis_ms=_ms(start),
        )

    @staticmethod
    def _table_warnings(
        action: str,
        add: Sequence[DataFile],
        same_schema: bool,
        history: Sequence[HistoryEntry],
    ) -> list[str]:
        out = []
        if action == "Restore" and add:
            out.append(
                f"RESTORE re-adds {len(add)} file(s) as new data (dataChange=true): streaming "
                "readers of this table re-emit those rows downstream; restart them from a new "
                "checkpoint or read with skipChangeCommits"
            )
        if action == "Restore" and any("STREAMING" in h.operation.upper() for h in history):
            out.append(
                "a streaming writer committed to this table since the checkpoint: its own "
                "checkpoint does not rewind and it will not re-write the rows undone"
            )
        if action == "Restore" and not same_schema:
            out.append(
                "the schema changed since the checkpoint: RESTORE brings back the old schema "
                "(columns added since disappear)"
            )
        return out

    def _dependencies(
        self,
        cp: Checkpoint,
        impacts: Sequence[TableImpact],
        configs: Mapping[str, TableConfig],
    ) -> list[DependencyGap]:
        """Related tables (PipelineConfig) that the scope leaves at another point in time."""
        eng = self._rt.engine
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
            ref = self._rt.table(other)
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
        self,
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
        rt = self._rt
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
        lakehouse, schema = self._lakehouse(), rt.config.metadata_schema
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

    def _audit_plan(self, plan: RollbackPlan, start: float) -> None:
        audit = self._rt.audit
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
            duration_ms=_ms(start),
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
        self._summary(
            "Planned",
            plan=plan,
            dry_run=True,
            message=f"plan ready: {plan.totals.tables_to_restore} table(s) to restore",
        )

    # -- execute ---------------------------------------------------------------------------
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
        rt = self._rt
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
        stored = self._approve(plan, approval_token, need, reason, dry_run=dry_run)
        # what runs is what the store says: the checkpoint's own pins (checked equal to the plan's)
        plan = plan.model_copy(update={"checkpoint": stored})
        ex = _Execution(plan=plan, reason=reason, started_at=started_at, start=start)
        if dry_run:
            self._summary("Planned", plan=plan, dry_run=True, reason=reason)
            return self._result(ex, "Planned", dry_run=True, message="dry run: nothing changed")
        work = [t for t in plan.tables if t.action == "Restore"]
        ex.configs = self._configs()
        try:
            self._pre_checkpoint(ex, work)
        except FmdError as exc:
            message = f"nothing was restored: the PreRollback checkpoint failed: {exc}"
            rt.audit.event("PreRollbackCheckpoint", "Failed", error=exc, severity="HIGH")
            result = self._result(ex, "Failed", message=message)
            self._finish(ex, result)
            return result
        # the pre-state is pinned by the PreRollback checkpoint: its snapshot rows (counts from
        # the pins, keys sampled at the pinned versions) are written while the tables restore
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-snapshot") as pool:
            snapping = pool.submit(self._pre_snapshots, ex, work)
            restored = self._restore_all(ex, work, progress)
            try:
                snapping.result()
            except FmdError as exc:  # the undo point exists; a missing report row must not stop it
                ex.warnings.append(f"the pre-state snapshot could not be written: {exc}")
        # the ledger repair touches other metadata than the checks: it runs alongside them
        # the tables are restored now: a failure to check or record must not lose the outcome
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-repair") as pool:
            repairing = pool.submit(self._repair, ex)
            try:
                self._validate_all(ex, restored)
                self._settle_post_checkpoint(ex)
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
        result = self._result(ex, status)
        self._finish(ex, result)
        return result

    def _approve(
        self,
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
        rt = self._rt
        stored, differences, here = self._bind(plan)
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
            hint = (
                "review the impact report, then execute with "
                f"approval_token={plan.approval_token!r}"
            )
        elif not dry_run and need and token != now_token:
            problem = "the approval token does not match this plan"
            hint = (
                self._explain_token(token or "", plan)
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
            self._summary("Refused", plan=plan, dry_run=dry_run, reason=reason, message=str(err))
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

    def _lakehouse(self) -> str:
        """This runtime's lakehouse identity: where its metadata store keeps CheckpointHistory."""
        rt = self._rt
        where = str(rt.engine.location(rt.store.ref("CheckpointHistory")))
        if "://" not in where and not where.startswith("file:"):
            # one folder spelled two ways (relative, through a symlink) is one lakehouse
            where = os.path.realpath(where)
        return where

    def _bind(self, plan: RollbackPlan) -> tuple[Checkpoint | None, list[str], str]:
        """What differs between the plan and this lakehouse's store: each difference names the
        plan's value and the store's. Returns the stored checkpoint (None when it is not there),
        the differences, and this lakehouse's identity."""
        rt = self._rt
        here, schema = self._lakehouse(), rt.config.metadata_schema
        out: list[str] = []
        if plan.lakehouse != here:
            out.append(
                f"lakehouse: the plan was made on the lakehouse whose checkpoints are at "
                f"{plan.lakehouse!r}; this runtime's are at {here!r}"
            )
        if plan.metadata_schema.lower() != schema.lower():
            out.append(
                f"metadata schema: the plan's is {plan.metadata_schema!r}, this runtime's is "
                f"{schema!r}"
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

    def _explain_token(self, token: str, plan: RollbackPlan) -> str:
        """Say which tables changed since ``token`` was issued (read from the audit log)."""
        try:
            rows = self._rt.store.read(
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

    def _pre_checkpoint(self, ex: _Execution, work: Sequence[TableImpact]) -> None:
        """The undo point: a PreRollback checkpoint of the tables to restore (reused on resume)."""
        rt = self._rt
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

    def _pre_snapshots(self, ex: _Execution, work: Sequence[TableImpact]) -> None:
        """``RollbackStateSnapshots`` Pre rows (counts from the PreRollback pins, sampled keys)."""
        rt = self._rt
        done = {
            f"{r['SchemaName']}.{r['TableName']}".lower()
            for r in rt.store.read(
                "RollbackStateSnapshots",
                {"RollbackRunId": rt.context.run_id, "SnapshotType": "Pre"},
                columns=["SchemaName", "TableName"],
            )
        }
        pins = [
            ex.pre_pins[t.table.lower()]
            for t in work
            if t.table.lower() not in done and t.table.lower() in ex.pre_pins
        ]
        configs = ex.configs
        outcomes = rt.map_tables(
            lambda p: self._sample(p.table, p.version, configs.get(p.table.lower())),
            pins,
            label="Snapshotting table",
            key=lambda p: p.table,
            progress=log.debug,
        )
        rows = [
            self._snapshot_row(
                ex,
                "Pre",
                p.table,
                p.version,
                Counts(
                    total=p.total_rows,
                    active=p.active_rows,
                    deleted=p.deleted_rows,
                    purged=p.purged_rows,
                ),
                p.version_timestamp,
                o.value if o.ok else None,
            )
            for p, o in zip(pins, outcomes, strict=True)
        ]
        if rows:
            rt.store.append("RollbackStateSnapshots", rows)

    def _configs(self) -> dict[str, TableConfig]:
        return {c.table.lower(): c for c in self._rt.table_configs(enabled_only=False)}

    def _sample(self, table: str, version: int, cfg: TableConfig | None) -> Any:
        """The first ``SAMPLE_KEYS`` primary keys of a version (None without a key)."""
        if cfg is None or not cfg.primary_key:
            return None
        eng = self._rt.engine
        cols = ", ".join(eng.quote(k) for k in cfg.primary_key)
        rows = eng.sql(
            f"SELECT {cols} FROM {{t}} ORDER BY {cols} LIMIT {SAMPLE_KEYS}",
            {"t": TableAt(table=self._rt.table(table), version=version)},
        ).to_pylist()
        keys = cfg.primary_key
        return [r[keys[0]] if len(keys) == 1 else [r[k] for k in keys] for r in rows]

    def _snapshot_row(
        self,
        ex: _Execution,
        kind: str,
        table: str,
        version: int,
        counts: Counts,
        synced: datetime | None,
        sample: Any,
    ) -> dict[str, Any]:
        ref = self._rt.table(table)
        return {
            "SnapshotId": str(uuid.uuid4()),
            "RollbackRunId": self._rt.context.run_id,
            "CheckpointId": ex.plan.checkpoint_id,
            "SnapshotType": kind,
            "SchemaName": ref.schema_name,
            "TableName": ref.table,
            "TableVersion": version,
            "TotalRows": counts.total,
            "ActiveRows": counts.active,
            "DeletedRows": counts.deleted,
            "PurgedRows": counts.purged,
            "LatestSyncTime": synced,
            "SampleKeys": None if sample is None else to_json(sample),
            "CreatedDate": utcnow(),
        }

    def _restore_all(
        self,
        ex: _Execution,
        work: Sequence[TableImpact],
        progress: Callable[[str], None] | None,
    ) -> list[TableImpact]:
        """RESTORE every table concurrently; audit each; return the tables to validate."""
        rt = self._rt
        outcomes = rt.map_tables(
            lambda t: self._restore_one(ex, t),
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

    def _restore_one(self, ex: _Execution, impact: TableImpact) -> TableOutcome:
        """RESTORE one table by version; put back the retention properties RESTORE rewound."""
        rt, eng = self._rt, self._rt.engine
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
            duration_ms=_ms(start),
        )

    # -- post-validation -------------------------------------------------------------------
    def _validate_all(self, ex: _Execution, tables: Sequence[TableImpact]) -> None:
        """Zero-tolerance checks, snapshots and comparisons; results to the metadata tables."""
        rt = self._rt
        configs = ex.configs
        by_table = {o.table: o for o in ex.outcomes}
        # the key-level reads need no PostRollback pin: they run while it is created
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-post") as pool:
            creating = pool.submit(self._post_checkpoint, ex)
            try:
                reads = rt.map_tables(
                    lambda t: self._post_reads(
                        ex, t.table, by_table[t.table], configs.get(t.table.lower())
                    ),
                    list(tables),
                    label="Comparing table",
                    key=lambda t: t.table,
                    progress=log.debug,
                )
            finally:
                creating.result()
        done = {t.table: r for t, r in zip(tables, reads, strict=True)}
        outcomes = rt.map_tables(
            lambda t: self._post_table(
                ex, t, by_table[t.table], configs.get(t.table.lower()), _value(done[t.table])
            ),
            list(tables),
            label="Validating table",
            key=lambda t: t.table,
            progress=log.debug,
        )
        for t, o in zip(tables, outcomes, strict=True):
            if o.ok:
                ex.posts.append(o.value)
                continue
            check = ValidationCheck(
                table=t.table,
                check_name="PostRollbackValidation",
                expected="validated",
                actual="error",
                passed=False,
                severity="CRITICAL",
                message=f"could not validate: {o.error}",
            )
            ex.posts.append(_Post(t.table, -1, None, [check], None))
        checks = [c for p in ex.posts for c in p.checks]
        checks += self._fk_checks(ex, configs)
        checks += [
            ValidationCheck(
                table=o.table,
                check_name="RestoredToCheckpoint",
                expected=f"version {o.pinned_version} restored",
                actual="restore failed",
                passed=False,
                severity="CRITICAL",
                message=o.error,
            )
            for o in ex.outcomes
            if o.status == "Failed"
        ]
        ex.checks = checks
        rt.checkpoints.record_validations(
            "PostRollback", checks, checkpoint_id=ex.plan.checkpoint_id
        )
        snapshots = [
            self._snapshot_row(
                ex,
                "Post",
                p.table,
                p.version,
                Counts(
                    total=p.measure.total,
                    active=p.measure.active,
                    deleted=p.measure.deleted,
                    purged=p.measure.purged,
                ),
                ex.plan.checkpoint.table(p.table).version_timestamp,
                p.sample,
            )
            for p in ex.posts
            if p.measure is not None
        ]
        if snapshots:
            rt.store.append("RollbackStateSnapshots", snapshots)
        reports = [self._comparison_row(ex, p.comparison) for p in ex.posts if p.comparison]
        if reports:
            rt.store.append("RollbackComparisonReports", reports)
        for p in ex.posts:
            mine = [c for c in checks if c.table == p.table]
            bad = [c for c in mine if not c.passed]
            rt.audit.event(
                "PostRollbackValidation",
                "Failed" if bad else "Succeeded",
                table=p.table,
                rows_read=p.measure.total if p.measure else None,
                severity="CRITICAL" if bad else "INFO",
                details={
                    "checkpoint": ex.plan.checkpoint_name,
                    "version": p.version,
                    "checks": len(mine),
                    "failed": [f"{c.check_name}: {c.message or c.actual}" for c in bad],
                },
            )

    def _post_reads(
        self,
        ex: _Execution,
        table: str,
        outcome: TableOutcome,
        cfg: TableConfig | None,
        version: int | None = None,
    ) -> tuple[int, dict[str, Any] | None, Any]:
        """The restored version's key-level comparison row (restored tables) and key sample."""
        rt = self._rt
        ref = rt.table(table)
        cfg = cfg or TableConfig(table=ref.name)
        if version is None:
            after = outcome.version_after
            version = rt.engine.version(ref) if after is None else after
        pre = ex.pre_pins.get(table.lower())
        row = None
        if outcome.status in ("Restored", "Resumed") and pre is not None and cfg.primary_key:
            eng = rt.engine
            row = eng.sql(
                comparison_sql(eng.quote, cfg.primary_key, cfg.deleted_flag, cfg.purged_flag),
                {
                    "pre": TableAt(table=ref, version=pre.version),
                    "post": TableAt(table=ref, version=version),
                },
            ).to_pylist()[0]
        return version, row, self._sample(table, version, cfg)

    def _post_table(
        self,
        ex: _Execution,
        impact: TableImpact,
        outcome: TableOutcome,
        cfg: TableConfig | None,
        reads: tuple[int, dict[str, Any] | None, Any],
    ) -> _Post:
        """Check one table; the PostRollback checkpoint's pin gives its counts and manifest."""
        rt, eng = self._rt, self._rt.engine
        ref = rt.table(impact.table)
        cfg = cfg or TableConfig(table=ref.name)
        pin = ex.plan.checkpoint.table(impact.table)
        post = ex.post_pins.get(impact.table.lower())
        version = reads[0]
        if post is not None and post.total_rows is not None:
            if post.version != version:  # a commit landed in between: compare what was pinned
                reads = self._post_reads(ex, impact.table, outcome, cfg, post.version)
            version, digest = post.version, post.manifest_digest
            m = TableMeasure(
                table=ref.name,
                version=version,
                total=post.total_rows,
                active=post.active_rows,
                deleted=post.deleted_rows,
                purged=post.purged_rows,
                source=post.count_source,
            )
        else:  # no PostRollback checkpoint: read the restored version here
            digest = manifest_digest(eng.files(ref, version))
            m = rt.checkpoints.measure(ref, version, config=cfg)
        pre = ex.pre_pins.get(impact.table.lower())
        comparison = None
        if outcome.status in ("Restored", "Resumed") and pre is not None:
            comparison = self._compare(ref, pre, version, m.total, cfg, pin, reads[1])
        if cfg.primary_key and m.null_keys is None:
            nulls = comparison.null_keys_after if comparison else None
            if nulls is None:
                nulls = rt.checkpoints.measure(ref, version, config=cfg).null_keys
            m = m.model_copy(update={"null_keys": nulls})
        checks = self._table_checks(pin, m, digest, cfg, ref, version)
        return _Post(impact.table, version, m, checks, reads[2], comparison)

    def _table_checks(
        self,
        pin: CheckpointTable,
        m: TableMeasure,
        digest: str,
        cfg: TableConfig,
        ref: TableRef,
        version: int,
    ) -> list[ValidationCheck]:
        t = pin.table
        same = digest == pin.manifest_digest
        message = None
        if not same:
            eng = self._rt.engine
            missing, extra = file_effect(eng.files(ref, version), eng.files(ref, pin.version))
            message = (
                f"the files of version {version} differ from the checkpoint's version "
                f"{pin.version} ({len(missing)} missing, {len(extra)} extra): the RESTORE did not "
                "take effect (delta-rs has committed no-op restores of deletion-vector tables); "
                "restore the table with Spark (RESTORE TABLE) and validate again"
            )
        checks = [
            ValidationCheck(
                table=t,
                check_name="ManifestMatchesCheckpoint",
                expected=pin.manifest_digest[:16],
                actual=digest[:16],
                passed=same,
                severity="INFO" if same else "CRITICAL",
                message=message,
            )
        ]
        for name, expected, actual in (
            ("TotalRows", pin.total_rows, m.total),
            ("ActiveRows", pin.active_rows, m.active),
            ("DeletedRows", pin.deleted_rows, m.deleted),
            ("PurgedRows", pin.purged_rows, m.purged),
        ):
            if expected is None and actual is None:
                continue
            ok = expected == actual
            diff = (actual or 0) - (expected or 0)
            checks.append(
                ValidationCheck(
                    table=t,
                    check_name=f"{name}MatchCheckpoint",
                    expected=str(expected),
                    actual=str(actual),
                    passed=ok,
                    severity="INFO" if ok else "CRITICAL",
                    message=None
                    if ok
                    else f"{actual} rows, the checkpoint recorded {expected} ({diff:+d})",
                )
            )
        checks += [
            c
            for c in check_measure(
                m, tracked=cfg.has_tracking, keyed=bool(cfg.primary_key), tolerance=0.0
            )
            if c.check_name != "TotalRowsKnown"
        ]
        if cfg.deleted_flag and cfg.purged_flag and m.active is not None:
            both = (m.active or 0) + (m.deleted or 0) + (m.purged or 0) - m.total
            checks.append(
                ValidationCheck(
                    table=t,
                    check_name="TrackingConsistent",
                    expected="0",
                    actual=str(both),
                    passed=both == 0,
                    severity="INFO" if both == 0 else "HIGH",
                    message=None
                    if both == 0
                    else f"{both} row(s) flagged both {cfg.deleted_flag} and {cfg.purged_flag}",
                )
            )
        return checks

    def _compare(
        self,
        ref: TableRef,
        pre: CheckpointTable,
        version: int,
        total: int,
        cfg: TableConfig,
        pin: CheckpointTable,
        row: dict[str, Any] | None,
    ) -> ComparisonReport:
        """The comparison report of the pre-state and restored versions (``row``: the join's)."""
        before, after = int(pre.total_rows or 0), int(total)
        anomalies = []
        if pin.total_rows is not None and after != pin.total_rows:
            anomalies.append(
                f"{after} rows after the rollback, the checkpoint recorded {pin.total_rows} "
                f"({after - pin.total_rows:+d} rows missing or unexpected)"
            )
        if version <= pre.version:
            anomalies.append(f"version {version} is not after the pre-state version {pre.version}")
        if row is None:
            restored, removed = max(0, after - before), max(0, before - after)
            return ComparisonReport(
                table=ref.name,
                pre_version=pre.version,
                post_version=version,
                key_level=False,
                rows_before=before,
                rows_after=after,
                restored=restored,
                removed=removed,
                unchanged=None,
                pct_restored=_pct(restored, after),
                pct_removed=_pct(removed, before),
                pct_unchanged=None,
                anomalies=(
                    "no primary key in PipelineConfig: rows compared by count only",
                    *anomalies,
                ),
            )
        nulls = int(row["after_null_keys"])
        if nulls:
            anomalies.append(f"{nulls} row(s) with a null primary key (counted as restored)")
        for side, rows in (("after", after), ("before", before)):
            if int(row[f"{side}_rows"]) > rows:
                anomalies.append(
                    f"duplicate primary keys {side} the rollback: the key join matched "
                    f"{row[f'{side}_rows']} rows for {rows}"
                )
        changes = {
            f"{x}->{y}": int(row[f"{x.lower()}_{y.lower()}"])
            for x in _STATES
            for y in _STATES
            if x != y
        }
        restored, removed = int(row["restored"]), int(row["removed"])
        unchanged = int(row["unchanged"])
        return ComparisonReport(
            table=ref.name,
            pre_version=pre.version,
            post_version=version,
            key_level=True,
            rows_before=before,
            rows_after=after,
            restored=restored,
            removed=removed,
            unchanged=unchanged,
            state_changes={k: v for k, v in changes.items() if v},
            pct_restored=_pct(restored, after),
            pct_removed=_pct(removed, before),
            pct_unchanged=_pct(unchanged, before),
            null_keys_after=nulls,
            anomalies=tuple(anomalies),
        )

    def _fk_checks(
        self, ex: _Execution, configs: Mapping[str, TableConfig]
    ) -> list[ValidationCheck]:
        """Orphans between configured related tables (``PipelineConfig.foreign_keys``)."""
        rt, eng = self._rt, self._rt.engine
        posted = {p.table.lower(): p for p in ex.posts if p.measure is not None}
        jobs = []
        for p in posted.values():
            cfg = configs.get(p.table.lower())
            for col, target in cfg.foreign_keys.items() if cfg else ():
                schema, table, parent_col = target.split(".")
                jobs.append((p.table, p.version, col, f"{schema}.{table}", parent_col))

        def orphans(job: tuple[str, int, str, str, str]) -> int:
            child, version, col, parent, parent_col = job
            parent_ref = rt.table(parent)
            if not eng.exists(parent_ref):
                raise RollbackError(f"related table {parent} does not exist", table=child)
            at = posted.get(parent.lower())
            res = eng.sql(
                orphan_sql(eng.quote, col, parent_col),
                {
                    "child": TableAt(table=rt.table(child), version=version),
                    "parent": TableAt(table=parent_ref, version=at.version if at else None),
                },
            )
            return int(res.to_pylist()[0]["orphans"])

        outcomes = rt.map_tables(
            orphans,
            jobs,
            label="Checking references of",
            key=lambda j: f"{j[0]}.{j[2]}",
            progress=log.debug,
        )
        checks = []
        for (child, _, col, parent, parent_col), o in zip(jobs, outcomes, strict=True):
            n = o.value if o.ok else None
            ok = n == 0
            checks.append(
                ValidationCheck(
                    table=child,
                    check_name="ReferentialIntegrity",
                    expected=f"0 orphans ({col} -> {parent}.{parent_col})",
                    actual=str(n) if o.ok else "error",
                    passed=ok,
                    severity="INFO" if ok else "HIGH",
                    message=None
                    if ok
                    else (
                        f"{n} row(s) of {child}.{col} have no {parent}.{parent_col}"
                        if o.ok
                        else f"could not check {col} -> {parent}: {o.error}"
                    ),
                )
            )
        return checks

    def _comparison_row(self, ex: _Execution, c: ComparisonReport) -> dict[str, Any]:
        ref = self._rt.table(c.table)
        return {
            "ReportId": str(uuid.uuid4()),
            "RollbackRunId": self._rt.context.run_id,
            "CheckpointId": ex.plan.checkpoint_id,
            "SchemaName": ref.schema_name,
            "TableName": ref.table,
            "PreVersion": c.pre_version,
            "PostVersion": c.post_version,
            "RowsBefore": c.rows_before,
            "RowsAfter": c.rows_after,
            "RowsRestored": c.restored,
            "RowsRemoved": c.removed,
            "RowsUnchanged": c.unchanged,
            "StateChanges": to_json(c.state_changes),
            "PctRestored": c.pct_restored,
            "PctRemoved": c.pct_removed,
            "Anomalies": to_json(list(c.anomalies)),
            "CreatedDate": utcnow(),
        }

    # -- repair, post checkpoint, reports ----------------------------------------------------
    def _repair(self, ex: _Execution) -> None:
        """Invalidate the loads and watermark advances after the checkpoint (re-runs load)."""
        rt = self._rt
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

        outcomes = rt.map_tables(
            repair, tables, label="Repairing table", key=str, progress=log.debug
        )
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

    def _post_checkpoint(self, ex: _Execution) -> None:
        """A PostRollback checkpoint of the tables restored (and those already there), linked to
        the target; its pins are the post-state the validation checks."""
        rt = self._rt
        moved = [o for o in ex.outcomes if o.status in ("Restored", "Resumed")]
        tables = [o.table for o in ex.outcomes if o.status != "Failed"]
        if not moved:
            return
        try:
            cp = rt.checkpoints.create(
                tables,
                kind="PostRollback",
                parent_checkpoint_id=ex.plan.checkpoint_id,
                notes=(
                    f"after rollback run {rt.context.run_id} to checkpoint "
                    f"{ex.plan.checkpoint_name} ({ex.plan.checkpoint_id}); "
                    f"undo point: {ex.pre_name or '-'}"
                ),
            )
        except CheckpointError as exc:
            ex.warnings.append(f"the PostRollback checkpoint could not be created: {exc}")
            rt.audit.event("PostRollbackCheckpoint", "Failed", error=exc, severity="HIGH")
            return
        assert cp is not None  # PostRollback raises on failure, never returns None
        ex.post = cp
        ex.post_name = cp.checkpoint_name
        ex.post_pins = {t.table.lower(): t for t in cp.tables}
        rt.audit.event(
            "PostRollbackCheckpoint",
            "Succeeded",
            details={
                "checkpoint": cp.checkpoint_name,
                "checkpoint_id": cp.checkpoint_id,
                "parent": ex.plan.checkpoint_name,
                "tables": tables,
                "validation": cp.validation_status,
            },
        )

    def _settle_post_checkpoint(self, ex: _Execution) -> None:
        """Deactivate the PostRollback checkpoint when a table it pins failed post-validation."""
        cp = ex.post
        if cp is None:
            return
        bad = sorted(
            {c.table for c in ex.checks if not c.passed and c.table} & {t.table for t in cp.tables}
        )
        if not bad:
            return
        note = f"deactivated: post-validation failed for {', '.join(bad)}"
        self._rt.store.update(
            "CheckpointHistory",
            {"CheckpointId": cp.checkpoint_id},
            {
                "IsActive": False,
                "DeactivatedDate": utcnow(),
                "Notes": f"{cp.notes or ''}; {note}".strip("; "),
            },
        )
        ex.warnings.append(
            f"PostRollback checkpoint {cp.checkpoint_name} {note}: it is not a restore point"
        )
        self._rt.audit.event(
            "PostRollbackCheckpoint",
            "Failed",
            severity="HIGH",
            details={"checkpoint": cp.checkpoint_name, "deactivated": True, "tables": bad},
        )

    def _result(
        self,
        ex: _Execution,
        status: RunStatus,
        *,
        dry_run: bool = False,
        message: str | None = None,
    ) -> RollbackResult:
        rt = self._rt
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

    def _finish(self, ex: _Execution, result: RollbackResult) -> None:
        """Validation report, alerts, the summary event; one flush."""
        rt = self._rt
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
        self._summary(
            result.status,
            plan=ex.plan,
            dry_run=result.dry_run,
            reason=result.reason,
            message=result.message,
            result=result,
            duration_ms=_ms(ex.start),
        )

    def _summary(
        self,
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
                    f"{c.table}: {c.check_name}: {c.message or c.actual}"
                    for c in result.failed_checks
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
        self._rt.audit.event(
            "Rollback",
            audit_status.get(status, "Failed"),
            dry_run=dry_run,
            duration_ms=duration_ms,
            error=message if status in severity else None,
            severity=severity.get(status, "INFO"),
            details=details,
            flush=True,
        )

    def _refused(
        self,
        operation: str,
        err: FmdError,
        checkpoint: str,
        scope: str,
        start: float,
        dry_run: bool,
    ) -> None:
        self._rt.audit.event(
            operation,
            "Failed",
            error=err,
            dry_run=dry_run,
            severity="MEDIUM",
            duration_ms=_ms(start),
            details={
                "checkpoint": checkpoint,
                "scope": scope,
                "recommended_actions": _recommended(err),
            },
        )
        self._summary(
            "Failed", dry_run=dry_run, message=str(err), checkpoint=checkpoint, scope=scope
        )

    # -- notebook --------------------------------------------------------------------------
    def run_notebook(
        self,
        checkpoint_name: str | None = None,
        checkpoint_type: str | None = None,
        tables_scope: str | None = "All",
        require_approval: bool = True,
        approval_token: str | None = None,
        dry_run: bool = True,
        reason: str | None = None,
        *,
        allow_failed_validation: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> RollbackRun:
        """What the rollback notebook does, with its parameters: never raises for a refusal.

        Dry run: the plan (status ``Planned``). Otherwise, without a token when approval is
        required: ``AwaitingApproval`` with the token to approve. With the token: execute
        (``Succeeded`` / ``PartiallyFailed`` / ``Failed``); a stale token is refused and the run
        ends ``AwaitingApproval`` with the current plan's token. A refused validation ends
        ``Failed`` with the recommended actions.

        The flags (``require_approval``, ``dry_run``, ``allow_failed_validation``) take a bool or
        the strings "true"/"false"/"1"/"0" (any case) that pipeline parameters arrive as.

        Returns:
            The `RollbackRun`; ``run.exit_value()`` is the notebook's exit value.

        Raises:
            ConfigError: a flag is not a boolean ("yes", "", 2, None ...): a broken parameter is
                not a refusal; nothing is written.

        Example:
            >>> # run = rt.rollback.run_notebook("bronze_batch_2025-01-15", dry_run=True)
        """
        require_approval = strict_bool(require_approval, "require_approval")
        dry_run = strict_bool(dry_run, "dry_run")
        allow_failed_validation = strict_bool(allow_failed_validation, "allow_failed_validation")
        rt = self._rt
        base: dict[str, Any] = {
            "run_id": rt.context.run_id,
            "pipeline_run_id": rt.context.pipeline_run_id,
            "dry_run": dry_run,
        }
        try:
            plan = self.plan(
                checkpoint_name or None,
                tables_scope or "All",
                checkpoint_type or None,
                require_approval=require_approval,
                allow_failed_validation=allow_failed_validation,
            )
        except FmdError as exc:
            return RollbackRun(
                status="Failed",
                checkpoint_name=checkpoint_name or None,
                message=str(exc),
                recommended_actions=tuple(_recommended(exc)),
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
            self._summary("AwaitingApproval", plan=plan, dry_run=False, reason=reason)
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
            result = self.execute(
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
                recommended_actions=tuple(_recommended(exc)),
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


# --------------------------------------------------------------------------------- small helpers
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
    if _is_all(plan.scope_text) and set(names) != set(pins):
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


def _value(outcome: Outcome[Any]) -> Any:
    """An outcome's value, or a RollbackError carrying the error that stopped it."""
    if not outcome.ok:
        raise RollbackError(f"could not read it: {outcome.error}", table=outcome.item)
    return outcome.value


def _with_verification(impact: TableImpact, verification: Any) -> TableImpact:
    """The impact with the table's restorability (and an AtRisk warning) from verify."""
    if verification is None:
        return impact.model_copy(update={"restorability": "Unknown"})
    warnings = impact.warnings
    if verification.status == "AtRisk":
        warnings += (f"restorability AtRisk: {verification.reason}",)
    return impact.model_copy(update={"restorability": verification.status, "warnings": warnings})


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _share(part: int, whole: int) -> float:
    """Percent of ``whole`` (3 decimals); any change of an empty table is 100%."""
    if not whole:
        return 100.0 if part else 0.0
    return round(100.0 * part / whole, 3)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _counts(m: TableMeasure | None) -> dict[str, Any]:
    if m is None:
        return {}
    return {"total": m.total, "active": m.active, "deleted": m.deleted, "purged": m.purged}


def _pre_metrics(ex: _Execution) -> dict[str, Any]:
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


def _commit(h: HistoryEntry) -> CommitUndone:
    metrics = {
        k: v for k, v in h.metrics.items() if isinstance(v, (int, float, str, bool)) and v != ""
    }
    run = h.user_metadata.get("fmd.runId") or h.user_metadata.get(RUN_KEY)
    return CommitUndone(
        version=h.version,
        timestamp=h.timestamp,
        operation=h.operation,
        rows_touched=rows_touched(h.metrics),
        metrics=metrics,
        run_id=str(run) if run else None,
    )


def _estimate(restores: int, tables: int, plan_seconds: float) -> float:
    """Rough duration of the execution, from the plan's own: the execution reads and writes each
    restored table about two and a half times as much as planning it did (two checkpoints, the
    RESTORE, the validation reads), plus a second of metadata commits (docs/performance.md)."""
    if not restores:
        return 0.0
    return round(1.0 + 2.5 * plan_seconds * restores / max(1, tables), 1)


def _recommendations(r: RollbackResult) -> list[str]:
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


# --------------------------------------------------------------------------------- rendering
def _n(v: int | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+,}" if signed and v else f"{v:,}"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    return f"{h}h {m}m" if h else f"{m}m {s % 60}s"


def _grid(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


_PLAN_HEADER = (
    "TABLE",
    "ACTION",
    "VERSION",
    "ROWS NOW",
    "ROWS THEN",
    "ACTIVE",
    "DELETED",
    "PURGED",
    "CHANGED",
    "WRITTEN",
    "RISK",
    "BACK",
    "FILES +/-",
)


def _plan_row(t: TableImpact) -> tuple[str, ...]:
    return (
        t.table,
        t.action,
        f"{t.current_version} -> {t.pinned_version}",
        _n(t.current.total),
        _n(t.pinned.total),
        _n(t.delta.active, True),
        _n(t.delta.deleted, True),
        _n(t.delta.purged, True),
        f"{t.rows_changed:,} ({t.changed_pct:.3g}%)",
        _n(t.rows_touched) if t.action == "Restore" else "-",
        t.risk,
        _span(t.time_back_seconds),
        f"+{t.files_to_add}/-{t.files_to_remove}",
    )


def _plan_text(p: RollbackPlan) -> str:
    cp, tot = p.checkpoint, p.totals
    lines = [
        f"Rollback plan to checkpoint {cp.checkpoint_name} ({cp.checkpoint_type}, created "
        f"{cp.created_date:%Y-%m-%d %H:%M} UTC, {cp.validation_status}, {p.restorability})",
        f"run {p.run_id}  scope: {p.scope_text} ({plural(tot.tables_in_scope, 'table')})  "
        f"risk: {tot.risk}",
        "",
        *_grid([_PLAN_HEADER, *(_plan_row(t) for t in p.tables)]),
        "",
        "ACTIVE / DELETED / PURGED: rows per state after the rollback minus now (+ come back, "
        "- go away). CHANGED: rows whose state changes (share of the table). WRITTEN: rows the "
        "undone commits wrote. RISK: by the larger share. BACK: current minus pinned commit time.",
        "",
        "Pinned versions (the load each reflects):",
        *(f"  {t.pinned_load}" for t in p.tables if t.pinned_load),
    ]
    for t in p.tables:
        if t.action != "Restore":
            lines.append(f"{t.table}: no-op, {t.reason}")
            continue
        shown = ", ".join(
            f"v{c.version} {c.operation} {c.timestamp:%m-%d %H:%M}"
            + (f" ({c.rows_touched:,} rows)" if c.rows_touched is not None else "")
            for c in t.commits[:5]
        )
        more = f" and {t.commits_undone - 5} more" if t.commits_undone > 5 else ""
        lines.append(
            f"{t.table}: undoes {t.commits_undone} commit(s): {shown}{more}; files "
            f"+{t.files_to_add} ({format_bytes(t.bytes_to_add)}) -{t.files_to_remove} "
            f"({format_bytes(t.bytes_to_remove)})"
        )
    lines += [
        "",
        f"Totals: {tot.tables_to_restore} table(s) to restore, {tot.tables_noop} no-op; "
        f"rows changed {tot.rows_changed:,}, net rows {tot.net_rows:+,}; files +{tot.files_to_add}"
        f" ({format_bytes(tot.bytes_to_add)}) / -{tot.files_to_remove} ({format_bytes(tot.bytes_to_remove)}); "
        f"estimated duration ~{tot.estimated_seconds:g} s",
    ]
    if p.warnings:
        lines += ["", "Warnings:", *(f"  - {w}" for w in p.warnings)]
    if tot.tables_to_restore == 0:
        lines += ["", "Nothing to restore: every table already equals the checkpoint."]
    elif p.require_approval:
        lines += [
            "",
            f"Approval: execute with approval_token={p.approval_token!r} (refused if any table "
            "changes before then).",
        ]
    return "\n".join(lines)


def _html_table(rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plan_html(p: RollbackPlan) -> str:
    tot = p.totals
    parts = [
        f"<h4>Rollback plan to {html.escape(p.checkpoint_name)} "
        f"({html.escape(p.checkpoint.checkpoint_type)}) - risk {tot.risk}</h4>",
        _html_table([_PLAN_HEADER, *(_plan_row(t) for t in p.tables)]),
        f"<p>{tot.tables_to_restore} to restore, {tot.tables_noop} no-op; rows changed "
        f"{tot.rows_changed:,}; estimated ~{tot.estimated_seconds:g} s. Approval token: "
        f"<code>{html.escape(p.approval_token)}</code></p>",
    ]
    if p.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in p.warnings)
        parts.append(f"<p>Warnings:</p><ul>{items}</ul>")
    return "\n".join(parts)


_RESULT_HEADER = (
    "TABLE",
    "STATUS",
    "VERSION",
    "ROWS BEFORE",
    "ROWS AFTER",
    "RESTORED",
    "REMOVED",
    "UNCHANGED",
    "STATE CHANGES",
    "CHECKS",
)


def _result_rows(r: RollbackResult) -> list[tuple[str, ...]]:
    comps = {c.table: c for c in r.comparisons}
    rows: list[tuple[str, ...]] = [_RESULT_HEADER]
    for t in r.tables:
        c = comps.get(t.table)
        mine = [x for x in r.checks if x.table == t.table]
        rows.append(
            (
                t.table,
                t.status,
                f"{t.version_before} -> "
                f"{t.version_after if t.version_after is not None else '-'} (v{t.pinned_version})",
                _n(c.rows_before) if c else "-",
                _n(c.rows_after) if c else "-",
                _n(c.restored) if c else "-",
                _n(c.removed) if c else "-",
                _n(c.unchanged) if c else "-",
                ", ".join(f"{k} {v:,}" for k, v in c.state_changes.items()) if c else "-",
                f"{sum(x.passed for x in mine)}/{len(mine)}",
            )
        )
    return rows


def _result_text(r: RollbackResult) -> str:
    score = "-" if r.quality_score is None else f"{r.quality_score:g}%"
    secs = (r.finished_at - r.started_at).total_seconds()
    lines = [
        f"Rollback {r.run_id} to checkpoint {r.checkpoint_name}: {r.status} "
        f"(quality score {score})",
        f"triggered by {r.triggered_by or '-'}, reason: {r.reason or '-'}, pipeline run "
        f"{r.pipeline_run_id or '-'}, {r.started_at:%Y-%m-%d %H:%M:%S} UTC, {secs:.1f} s"
        + (", DRY RUN" if r.dry_run else ""),
    ]
    if r.message:
        lines.append(r.message)
    if r.pre_checkpoint or r.post_checkpoint:
        lines.append(
            f"PreRollback checkpoint (undo point): {r.pre_checkpoint or '-'}; "
            f"PostRollback checkpoint: {r.post_checkpoint or '-'}"
        )
    if r.tables:
        lines += ["", *_grid(_result_rows(r))]
    for t in r.tables:
        if t.error:
            lines.append(f"FAILED {t.table}: {t.error}")
    for c in r.failed_checks:
        lines.append(
            f"FAILED CHECK {c.table} {c.check_name}: expected {c.expected}, got {c.actual}"
            + (f" - {c.message}" if c.message else "")
        )
    for comp in r.comparisons:
        lines += [f"ANOMALY {comp.table}: {a}" for a in comp.anomalies]
    if r.invalidated_runs or r.rewound_watermarks:
        lines.append(
            f"Idempotency repair: {len(r.invalidated_runs)} load(s) invalidated, "
            f"{len(r.rewound_watermarks)} watermark(s) rewound"
        )
    if r.warnings:
        lines += ["", "Warnings:", *(f"  - {w}" for w in r.warnings)]
    if r.recommendations:
        lines += ["", "Next steps:", *(f"  - {x}" for x in r.recommendations)]
    return "\n".join(lines)


def _result_html(r: RollbackResult) -> str:
    score = "-" if r.quality_score is None else f"{r.quality_score:g}%"
    parts = [
        f"<h4>Rollback {html.escape(r.run_id)} to {html.escape(r.checkpoint_name)}: "
        f"{html.escape(r.status)} (quality score {score})</h4>",
    ]
    if r.tables:
        parts.append(_html_table(_result_rows(r)))
    issues = [f"{t.table}: {t.error}" for t in r.tables if t.error] + [
        f"{c.table} {c.check_name}: {c.message or c.actual}" for c in r.failed_checks
    ]
    for label, items in (("Issues", issues), ("Next steps", list(r.recommendations))):
        if items:
            lis = "".join(f"<li>{html.escape(x)}</li>" for x in items)
            parts.append(f"<p>{label}:</p><ul>{lis}</ul>")
    return "\n".join(parts)


def _impact_exit(t: TableImpact) -> dict[str, Any]:
    return {
        "table": t.table,
        "action": t.action,
        "from_version": t.current_version,
        "to_version": t.pinned_version,
        "rows_changed": t.rows_changed,
        "risk": t.risk,
    }


# --------------------------------------------------------------------------------- CLI, demo
__all__ = [
    "CHECKPOINT_KEY",
    "RUN_KEY",
    "CommitUndone",
    "ComparisonReport",
    "Counts",
    "DependencyGap",
    "PlanTotals",
    "Rollback",
    "RollbackPlan",
    "RollbackResult",
    "RollbackRun",
    "TableImpact",
    "TableOutcome",
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
