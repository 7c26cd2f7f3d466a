"""The foreign-operation scan's results: `ForeignOperation`, `ForeignScan`, and one table's read.

Separate from the scan (``_foreign``) and its findings (``_foreign_findings``), which both fill
and read them.

Example:
    >>> ForeignScan().harmful
    []
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN, as_utc
from fmd_runtime.checkpoints import RestorabilityStatus
from fmd_runtime.engine import HistoryEntry
from fmd_runtime.health._history import ForeignKind
from fmd_runtime.health._models import HealthFinding
from fmd_runtime.store import utcnow


class ForeignOperation(BaseModel):
    """One operation on a table that the library did not make.

    Attributes:
        table: ``schema.table``.
        version: the commit's version (a VACUUM: its ``VACUUM START``).
        timestamp: the commit time (UTC).
        operation: Delta's operation name (``VACUUM START``, ``OPTIMIZE``, ``WRITE`` ...).
        kind: vacuum, optimize, restore, delete, overwrite or properties.
        parameters: the operation's parameters, as short texts (retention, mode, predicate ...).
        user_name: who, when the history records it (Fabric Spark does; delta-rs does not).
        engine_info: what wrote it (``Apache-Spark/3.5.5 Delta-Lake/3.2.1``, ``delta-rs.py-1.6.6``).
        files_removed: files it removed (a VACUUM: files deleted from storage).
        rows_deleted: rows it deleted, when the commit reports them.
        harmful: it left an active checkpoint AtRisk or Unrestorable.
        affected_checkpoints: the active checkpoints it broke.
        restorability_after: the worst restorability, after it, of the active checkpoints pinning
            the table (None: none pins it, or they were not verified: nothing it did can break one).
        missing_files: files the checkpoints it broke now miss.
    """

    model_config = FROZEN

    table: str
    version: int
    timestamp: datetime
    operation: str
    kind: ForeignKind
    parameters: dict[str, str] = Field(default_factory=dict)
    user_name: str | None = None
    engine_info: str | None = None
    files_removed: int | None = None
    rows_deleted: int | None = None
    harmful: bool = False
    affected_checkpoints: list[str] = Field(default_factory=list)
    restorability_after: RestorabilityStatus | None = None
    missing_files: int = 0

    @property
    def who(self) -> str:
        """ "someone else", with the user and engine when the history names them."""
        known = [f"user {self.user_name}" if self.user_name else None, self.engine_info]
        said = "; ".join(k for k in known if k)
        return f"someone else ({said})" if said else "someone else"

    @property
    def when(self) -> str:
        """The commit time as a report shows it (``2025-01-15 03:12 UTC``)."""
        return f"{as_utc(self.timestamp):%Y-%m-%d %H:%M} UTC"

    @property
    def label(self) -> str:
        """``VACUUM`` for both VACUUM commits, else Delta's operation name."""
        return "VACUUM" if self.kind == "vacuum" else self.operation


class ForeignScan(BaseModel):
    """What a foreign-operation scan found.

    Attributes:
        operations: the foreign operations, oldest first per table.
        findings: one per harmful operation (HIGH), foreign data change (MEDIUM), harmless
            foreign maintenance (INFO), and per table that could not be scanned.
        tables_scanned: the tables whose history was read.
        high_water_marks: ``schema.table`` -> the newest version scanned (the next scan starts
            after it).
        commits_read: history entries read, over all tables.
        library_commits: those the library made (not reported).
        checkpoints_verified: the checkpoints verified again because of a foreign operation.
        failures: ``schema.table`` -> why its history could not be read.
        scanned_at: when the scan ran (UTC).
    """

    model_config = FROZEN

    operations: list[ForeignOperation] = Field(default_factory=list)
    findings: list[HealthFinding] = Field(default_factory=list)
    tables_scanned: list[str] = Field(default_factory=list)
    high_water_marks: dict[str, int] = Field(default_factory=dict)
    commits_read: int = 0
    library_commits: int = 0
    checkpoints_verified: list[str] = Field(default_factory=list)
    failures: dict[str, str] = Field(default_factory=dict)
    scanned_at: datetime = Field(default_factory=utcnow)

    @property
    def harmful(self) -> list[ForeignOperation]:
        """The operations that left an active checkpoint AtRisk or Unrestorable."""
        return [o for o in self.operations if o.harmful]


@dataclass
class TableRead:
    """One table's history read: the entries after its mark, the new mark, what was not read.

    Attributes:
        table: ``schema.table``.
        entries: the commits read (after the mark; a first scan: those of the window).
        last_version: the new high-water mark (-1: the table has no commit).
        last_time: its commit time.
        first_version: the oldest version read (None: nothing new).
        notes: what was not read and why (a bounded first scan, a gap).
        gap: the versions not read (first, last), when more commits came than a scan reads.
    """

    table: str
    entries: list[HistoryEntry]
    last_version: int
    last_time: datetime | None
    first_version: int | None
    notes: list[str] = field(default_factory=list)
    gap: tuple[int, int] | None = None


__all__ = ["ForeignOperation", "ForeignScan", "TableRead"]
