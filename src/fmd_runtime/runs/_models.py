"""What the run ledger returns: `WriteResult` (one exactly-once write) and `LandedCommit`.

Separate so that callers and the other runs modules share the result models without the logic.

Example:
    >>> LandedCommit(version=3, timestamp="2025-01-15T02:00:00Z", entity="account").undone
    False
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime.engine import MergeCounts, MergeMode

Status = Literal["Started", "Succeeded", "Failed"]


class WriteResult(BaseModel):
    """What `RunLedger.write` did.

    Attributes:
        applied: False when nothing was written because this load had already landed
            (a retry) or was already completed in this run/batch.
        version: the table version holding the load's data.
        txn_app_id / txn_version: the idempotent-write identity used.
    """

    model_config = FROZEN

    entity: str
    layer: str
    table: str
    version: int | None
    applied: bool
    txn_app_id: str
    txn_version: int | None
    rows_written: int | None = None
    watermark: str | None = None
    run_id: str
    batch_id: str | None = None
    part: str | None = None


class LandedCommit(BaseModel):
    """A commit `RunLedger.write` made, found in a table's history."""

    model_config = FROZEN

    version: int
    timestamp: datetime
    entity: str
    layer: str | None = None
    run_id: str | None = None
    batch_id: str | None = None
    part: str | None = None
    watermark: str | None = None
    watermark_kind: str | None = None
    """The kind of the window the load was copied in (``fmd.watermarkKind``), when known."""
    txn_app_id: str | None = None
    txn_version: int | None = None
    undone: bool = False
    """True when a later RESTORE went back before it, or a rollback invalidated its run."""
    merge: MergeCounts | None = None
    """What the commit did when it is a merge (its ``fmd.merge`` metadata)."""


class BreakerCheck(BaseModel):
    """What the merge circuit breaker measured before a merge committed, and what it decided.

    Attributes:
        active_before: the table's active rows before the merge.
        deleted: rows the merge would newly soft-delete.
        delete_share: ``deleted / active_before`` (0 for an empty table).
        max_delete_share: the table's limit (PipelineConfig ``MaxDeleteShare``).
        changes: rows the merge would change (inserted + updated + deleted + re-activated).
        baseline_changes: the table's usual change volume: the median of its recent merges
            (or of the changes between its recent checkpoints); None without enough history.
        baseline_source: ``merges`` or ``checkpoints`` (None: no baseline).
        baseline_points: how many merges / checkpoint intervals the median is over.
        change_ratio: ``changes / baseline_changes`` (None without a baseline).
        max_change_ratio: the table's limit (PipelineConfig ``MaxChangeRatio``).
        tripped: the rules the merge broke (``delete_share``, ``change_ratio``); empty: passed.
        overridden: True when it broke a rule and was committed on an explicit override.
        override_reason: the reason given with the override.
    """

    model_config = FROZEN

    active_before: int
    deleted: int
    delete_share: float
    max_delete_share: float
    changes: int
    baseline_changes: float | None = None
    baseline_source: Literal["merges", "checkpoints"] | None = None
    baseline_points: int = 0
    change_ratio: float | None = None
    max_change_ratio: float
    tripped: tuple[str, ...] = ()
    overridden: bool = False
    override_reason: str | None = None


class MergeResult(BaseModel):
    """What `RunLedger.merge` did.

    Attributes:
        applied: False when nothing was merged now because this load had already landed (a
            retry) or was already completed in this run / batch.
        committed: True when a data commit was made now (False too for a merge with no change).
        version: the table version holding the load (after the merge).
        counts: what the merge holding this load did (inserted, updated, deleted, re-activated,
            unchanged, purged); for a load that had landed before, as that commit recorded it.
        breaker: the circuit breaker's measurement (None when the merge did not run now).
        rows_written: rows changed (inserted + updated + deleted + re-activated).
    """

    model_config = FROZEN

    entity: str
    layer: str
    table: str
    mode: MergeMode
    version: int | None
    applied: bool
    committed: bool
    txn_app_id: str
    txn_version: int | None
    counts: MergeCounts | None = None
    breaker: BreakerCheck | None = None
    rows_written: int | None = None
    watermark: str | None = None
    run_id: str
    batch_id: str | None = None
    part: str | None = None
