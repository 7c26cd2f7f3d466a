"""The parts a rollback's plan and result are made of, and the names its phases share.

Per table: `Counts` (rows by state), `CommitUndone` (a commit RESTORE undoes), `TableImpact` (what
rolling the table back changes: the plan's row), `DependencyGap` (a related table the scope leaves
behind), `TableOutcome` (what execution did to it) and `ComparisonReport` (its rows before and after,
key by key). `PlanTotals` is the plan's aggregate. The documents built from these parts
(`RollbackPlan`, `RollbackResult`, `RollbackRun`) are in `_report`.

Here too: the literal types of actions and statuses, and the commit metadata keys every RESTORE of a
rollback carries (`RUN_KEY` is how a re-run recognises the tables it already restored).

Example:
    >>> Counts(total=5, active=5).minus(Counts(total=8, active=3)).total
    -3
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN

Risk = Literal["Low", "Medium", "High"]
Action = Literal["Restore", "NoOp", "Resume"]
TableStatus = Literal["Restored", "Resumed", "NoOp", "Failed"]
RunStatus = Literal["Planned", "AwaitingApproval", "Succeeded", "PartiallyFailed", "Failed"]

RUN_KEY = "fmd.rollbackRunId"
"""Commit metadata key of a rollback's RESTORE commits (its run id)."""
CHECKPOINT_KEY = "fmd.checkpointName"
"""Commit metadata key of a rollback's RESTORE commits (the target checkpoint's name)."""
TARGET_KEY = "fmd.targetVersion"


class Counts(BaseModel):
    """Rows of a table version by state (None where unknown: no tracking columns)."""

    model_config = FROZEN

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

    model_config = FROZEN

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

    model_config = FROZEN

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

    model_config = FROZEN

    table: str
    related: str
    related_in_checkpoint: bool
    message: str


class PlanTotals(BaseModel):
    """The plan's aggregate."""

    model_config = FROZEN

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


class TableOutcome(BaseModel):
    """What happened to one table in an execution."""

    model_config = FROZEN

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

    model_config = FROZEN

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


def elapsed_ms(start: float) -> int:
    """Milliseconds since ``start`` (a `time.perf_counter` reading): the audit's durations."""
    return int((time.perf_counter() - start) * 1000)
