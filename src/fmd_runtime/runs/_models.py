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
    txn_app_id: str | None = None
    txn_version: int | None = None
    undone: bool = False
    """True when a later RESTORE went back before it, or a rollback invalidated its run."""
