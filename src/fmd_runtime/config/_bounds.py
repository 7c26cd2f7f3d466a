"""The kinds, per-kind defaults and numeric bounds every setting is checked against.

Separate from the models because the capabilities (checkpoints, maintenance, watermarks, the
command line) check their own parameters against the same bounds and kinds: one definition,
imported by both the settings models and their callers.

Example:
    >>> DEFAULT_RETENTION_DAYS["PrePurge"], MAX_RETENTION_HOURS
    (365, 87600)
"""

from __future__ import annotations

from typing import Literal, get_args

DriftPolicy = Literal["permissive", "additive", "strict"]
CheckpointKind = Literal[
    "Daily", "DailyBatch", "PrePurge", "Manual", "PreMaintenance", "PreRollback", "PostRollback"
]
"""The kinds of checkpoint (``CheckpointType``); still checked at run time, since pipeline
parameters arrive as text."""

CHECKPOINT_KINDS: tuple[str, ...] = get_args(CheckpointKind)
"""The checkpoint kinds as values (the one list: taken from `CheckpointKind`)."""

DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "Daily": 7,
    "DailyBatch": 7,
    "Manual": 30,
    "PrePurge": 365,
    "PostRollback": 30,
    "PreRollback": 30,
    "PreMaintenance": 7,
}
"""Checkpoint retention per kind (operators' decision, reference CR-001)."""

DEFAULT_DRIFT_BY_LAYER: dict[str, DriftPolicy] = {
    "landing": "permissive",
    "bronze": "additive",
    "silver": "strict",
}


MAX_RETENTION_HOURS = 87_600
"""Largest retention accepted anywhere, in hours (10 years): beyond it Delta intervals overflow
Arrow's duration type and retention arithmetic stops meaning anything."""

MAX_RETENTION_DAYS = 3_650
"""Largest checkpoint retention accepted, in days (10 years)."""

MAX_CHANGE_RATIO = 1_000.0
"""Largest ``max_change_ratio`` of the merge circuit breaker (changes vs the usual volume)."""

MAX_WATERMARK_SKEW_HOURS = 8_760
"""Largest future skew a watermark may have, in hours (1 year); see
`RuntimeConfig.watermark_future_skew_hours`."""

MAX_LOAD_WAIT_SECONDS = 86_400
"""The longest a batch checkpoint waits for the batch's loads in flight (1 day)."""

MAX_AUDIT_BUFFER_ROWS = 100_000
"""Largest audit buffer, in rows: a flush is one commit held in memory until then."""

MAX_MARGIN_DAYS = 365
"""Largest ``retention_margin_days`` / ``at_risk_days``, in days."""

MAX_CIRCUIT_FAILURES = 1_000
"""Largest ``circuit_failure_threshold`` (consecutive transient failures that open a source's
breaker)."""

MAX_CIRCUIT_MINUTES = 10_080.0
"""Largest circuit window, cooldown or probe timeout, in minutes (7 days)."""

MIN_CIRCUIT_WINDOW_MINUTES = 0.001
"""Smallest circuit window, in minutes (a window of 0 would never count two failures)."""
