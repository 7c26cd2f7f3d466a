"""What a checkpoint is and what asking about one answers: the result models, the kinds and names.

`Checkpoint` (the header) with its `CheckpointTable` pins, `VerifyResult` / `TableVerification`
(restorability), `RetentionDecision` / `RetentionResult` (expiry), the `CheckpointKind` literal and
the kinds' default names. Every phase (creating, reading, verifying, expiring, rendering) shares
these definitions, and rollback reads them, so they sit apart from the code that fills them; the
facade re-exports them.

Example:
    >>> default_name("Daily", [TableRef.parse("bronze.account")], date(2025, 1, 15))
    'bronze_backup_2025-01-15'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime._text import plural
from fmd_runtime.config import CheckpointKind
from fmd_runtime.errors import CheckpointError, ConfigError
from fmd_runtime.tables import TableRef

RestorabilityStatus = Literal["Restorable", "AtRisk", "Unrestorable"]
"""Whether a pinned version can still be restored (``RestorabilityStatus``)."""

NAME_WORDS: dict[CheckpointKind, str] = {
    "Daily": "backup",
    "DailyBatch": "batch",
    "PrePurge": "prepurge",
    "Manual": "manual",
    "PreMaintenance": "premaintenance",
    "PreRollback": "prerollback",
    "PostRollback": "postrollback",
}
"""The word of each kind in its default name (``<scope>_<word>_<date>``)."""

SYNC_KINDS: frozenset[CheckpointKind] = frozenset({"Daily", "DailyBatch"})
"""Kinds the daily sync creates: a failure never fails the caller (it returns None)."""

DAY = 86400.0
"""Seconds in a day: retention properties are compared in days."""


class CheckpointTable(BaseModel):
    """One table of a checkpoint: the exact Delta version pinned, its counts and its fingerprints."""

    model_config = FROZEN

    schema_name: str
    table_name: str
    version: int
    version_timestamp: datetime | None
    total_rows: int | None
    active_rows: int | None
    deleted_rows: int | None
    purged_rows: int | None
    count_source: str
    schema_fingerprint: str
    manifest_digest: str
    file_count: int
    total_bytes: int
    validation_status: str
    validation_message: str | None = None
    load_run_id: str | None = None
    load_batch_id: str | None = None
    load_version: int | None = None
    load_time: datetime | None = None

    @property
    def table(self) -> str:
        """``schema.table``."""
        return f"{self.schema_name}.{self.table_name}"

    def load_text(self, batch_id: str | None = None) -> str:
        """Which load the pinned version reflects, e.g. ``bronze.contact v8 = batch B1 (v8,
        2025-01-14 02:41 UTC): not loaded in this batch`` (``batch_id``: the checkpoint's)."""
        head = f"{self.table} v{self.version}"
        if self.load_version is None:
            return f"{head} = no library load"
        who = f"batch {self.load_batch_id}" if self.load_batch_id else f"run {self.load_run_id}"
        when = f", {self.load_time:%Y-%m-%d %H:%M} UTC" if self.load_time else ""
        text = f"{head} = {who} (v{self.load_version}{when})"
        if batch_id and self.load_batch_id != batch_id:
            text += ": not loaded in this batch"
        return text


class Checkpoint(BaseModel):
    """A checkpoint: its header and its tables' pinned versions.

    Only an active, ``Validated`` checkpoint is a rollback target (`is_restore_target`).
    ``problem`` says why a stored checkpoint cannot be one whatever its header says: it pins no
    table, or fewer tables than ``tables_included`` (rows written before such checkpoints were
    refused, or lost); it is then read with validation status ``Invalid`` and restorability
    ``Unrestorable``.
    """

    model_config = FROZEN

    checkpoint_id: str
    checkpoint_name: str
    checkpoint_type: str
    created_date: datetime
    tables: tuple[CheckpointTable, ...]
    tables_included: int
    total_rows: int | None
    validation_status: str
    retention_date: date
    is_active: bool
    pipeline_run_id: str | None = None
    parent_checkpoint_id: str | None = None
    notes: str | None = None
    created_by: str | None = None
    marked_for_deletion: bool = False
    restorability_status: str | None = None
    run_id: str | None = None
    scope: str | None = None
    last_verified_date: datetime | None = None
    deactivated_date: datetime | None = None
    problem: str | None = None
    batch_id: str | None = None
    pin_window_start: datetime | None = None
    pin_window_end: datetime | None = None

    @property
    def is_restore_target(self) -> bool:
        """True when active and validated (a Failed checkpoint is kept but never restored to),
        and it pins its tables (``problem`` is None)."""
        return self.is_active and self.validation_status == "Validated" and self.problem is None

    def table(self, name: str) -> CheckpointTable:
        """The pinned table called ``name`` (``schema.table``, or a table name unique here).

        Raises:
            CheckpointError: the checkpoint does not cover that table.
            ConfigError: ``name`` is not text.
        """
        if not isinstance(name, str):
            raise ConfigError(
                f"parameter 'name' must be a table name, got {type(name).__name__}",
                hint="pass 'schema.table'",
            )
        wanted = name.strip().lower()
        hits = [t for t in self.tables if wanted in (t.table.lower(), t.table_name.lower())]
        if len(hits) == 1:
            return hits[0]
        raise CheckpointError(
            f"checkpoint {self.checkpoint_name!r} does not cover table {name!r}"
            + (" unambiguously" if hits else ""),
            table=name,
            hint=f"it covers {[t.table for t in self.tables]}",
        )


class TableVerification(BaseModel):
    """Whether one pinned table version can still be restored, and why not."""

    model_config = FROZEN

    table: str
    version: int
    status: RestorabilityStatus
    reason: str | None = None
    missing_files: int = 0
    expires_in_days: float | None = None


class VerifyResult(BaseModel):
    """Restorability of a checkpoint: the worst of its tables (``Unrestorable`` with the
    ``reason`` when it pins no table, or fewer than its header says)."""

    model_config = FROZEN

    checkpoint_id: str
    checkpoint_name: str
    status: RestorabilityStatus
    tables: tuple[TableVerification, ...]
    is_active: bool = True
    reason: str | None = None

    def to_text(self) -> str:
        """Readable lines: the checkpoint, then each table that is not Restorable."""
        lines = [f"{self.checkpoint_name}: {self.status} ({plural(len(self.tables), 'table')})"]
        if self.reason:
            lines.append(f"  {self.status:<12} {self.reason}")
        for t in self.tables:
            if t.status != "Restorable":
                lines.append(f"  {t.status:<12} {t.table}@v{t.version}: {t.reason}")
        return "\n".join(lines)


class RetentionDecision(BaseModel):
    """What retention enforcement does to one expired checkpoint, and why."""

    model_config = FROZEN

    checkpoint_id: str
    checkpoint_name: str
    checkpoint_type: str
    retention_date: date
    action: Literal["Deactivate", "Keep"]
    reason: str


class RetentionResult(BaseModel):
    """Checkpoints deactivated (or, in a dry run, that would be) and expired ones kept."""

    model_config = FROZEN

    dry_run: bool
    today: date
    deactivated: tuple[RetentionDecision, ...] = ()
    kept: tuple[RetentionDecision, ...] = ()

    def to_text(self) -> str:
        """One line per decision."""
        verb = "would deactivate" if self.dry_run else "deactivated"
        lines = [
            f"retention on {self.today}: {verb} {len(self.deactivated)}, kept {len(self.kept)}"
        ]
        lines += [f"  {d.action:<10} {d.checkpoint_name}: {d.reason}" for d in self.deactivated]
        lines += [f"  {d.action:<10} {d.checkpoint_name}: {d.reason}" for d in self.kept]
        return "\n".join(lines)


def default_name(kind: CheckpointKind, tables: Sequence[TableRef], day: date) -> str:
    """The default checkpoint name of a kind (see the package docstring for the patterns).

    Example:
        >>> default_name("Daily", [TableRef.parse("bronze.account")], date(2025, 1, 15))
        'bronze_backup_2025-01-15'
    """
    schemas = sorted({t.schema_name.lower() for t in tables})
    scope = schemas[0] if len(schemas) == 1 else "all"
    return f"{scope}_{NAME_WORDS[kind]}_{day.isoformat()}"


def end_of(day: date) -> datetime:
    """The instant a retention date is over (midnight UTC after it)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(days=1)


def pin_window_ms(cp: Checkpoint) -> int | None:
    """Milliseconds from the first to the last table's version read (None when unknown)."""
    if cp.pin_window_start is None or cp.pin_window_end is None:
        return None
    return int((cp.pin_window_end - cp.pin_window_start).total_seconds() * 1000)


__all__ = [
    "DAY",
    "NAME_WORDS",
    "SYNC_KINDS",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointTable",
    "RestorabilityStatus",
    "RetentionDecision",
    "RetentionResult",
    "TableVerification",
    "VerifyResult",
    "default_name",
    "end_of",
    "pin_window_ms",
]
