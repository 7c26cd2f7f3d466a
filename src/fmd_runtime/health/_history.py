"""Reading a table's history for the foreign-operation scan: whose commit, and what kind of change.

A commit is the library's when its user metadata carries any ``fmd.*`` key: every commit the
library makes does (``rt.commit_options()`` puts ``fmd.runId`` in maintenance, checkpoint and
rollback commits, the store adds ``fmd.writer``, loads add ``fmd.entity``...; the engine port
passes it into ``VACUUM START`` / ``VACUUM END`` too). A VACUUM logged without metadata
(written by a release before the port carried it) is still the library's when the audit log holds
the library's ``Vacuum`` event for that table at that time (`matches_library_vacuum`).

The scan reports the kinds of change that matter to restore points and to the data: VACUUM,
OPTIMIZE (and REORG), RESTORE, DELETE / TRUNCATE, overwrites and replaces, and table property
changes. Appends, merges, updates and schema changes by other writers are ordinary (Copy
activities and other notebooks write tables too) and are not listed.

Example:
    >>> from datetime import datetime, timezone
    >>> e = HistoryEntry(version=3, timestamp=datetime.now(timezone.utc), operation="VACUUM END")
    >>> is_library_commit(e), operation_kind(e)
    (False, 'vacuum')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from fmd_runtime._base import as_utc
from fmd_runtime.engine import HistoryEntry

ForeignKind = Literal["vacuum", "optimize", "restore", "delete", "overwrite", "properties"]
"""What a foreign operation did: maintenance (vacuum, optimize, properties) or data changes."""

MAINTENANCE_KINDS: frozenset[str] = frozenset({"vacuum", "optimize", "properties"})
"""Kinds that change no row: harmless unless they break a checkpoint."""

VERIFY_KINDS: frozenset[str] = frozenset({"vacuum", "restore", "properties"})
"""Kinds after which the checkpoints pinning the table are verified again: a VACUUM deletes files,
a RESTORE rewinds the retention properties, a property change can shorten them."""

LIBRARY_PREFIX = "fmd."
"""The prefix of the commit metadata keys the library writes."""

AUDIT_MATCH_SLACK = timedelta(minutes=2)
"""How far a VACUUM commit may lie outside the library's audited VACUUM (start to end) and still
be that VACUUM: commit timestamps and the audit clock are both the driver's, but the audit event
is stamped when the call returned."""

_OVERWRITE_OPERATIONS = frozenset(
    {
        "CREATE OR REPLACE TABLE",
        "CREATE OR REPLACE TABLE AS SELECT",
        "REPLACE TABLE",
        "REPLACE TABLE AS SELECT",
    }
)
_MAX_PARAMETER_TEXT = 200


def is_library_commit(entry: HistoryEntry) -> bool:
    """True when the commit's user metadata has an ``fmd.*`` key (the library made it).

    Example:
        >>> from datetime import datetime, timezone
        >>> is_library_commit(HistoryEntry(version=1, timestamp=datetime.now(timezone.utc),
        ...     operation="WRITE", user_metadata={"fmd.runId": "r1"}))
        True
    """
    return any(str(k).startswith(LIBRARY_PREFIX) for k in entry.user_metadata)


def operation_kind(entry: HistoryEntry) -> ForeignKind | None:
    """The kind of change a commit is, or None for the kinds the scan does not list.

    Example:
        >>> from datetime import datetime, timezone
        >>> operation_kind(HistoryEntry(version=1, timestamp=datetime.now(timezone.utc),
        ...     operation="WRITE", parameters={"mode": "Overwrite"}))
        'overwrite'
    """
    op = entry.operation.strip().upper()
    if op.startswith("VACUUM"):
        return "vacuum"
    if op in ("OPTIMIZE", "REORG"):
        return "optimize"
    if op == "RESTORE":
        return "restore"
    if op in ("DELETE", "TRUNCATE"):
        return "delete"
    if op in _OVERWRITE_OPERATIONS:
        return "overwrite"
    if op in ("WRITE", "CREATE TABLE AS SELECT") and (
        str(entry.parameters.get("mode", "")).lower() == "overwrite"
    ):
        return "overwrite"
    if op in ("SET TBLPROPERTIES", "UNSET TBLPROPERTIES"):
        return "properties"
    return None


def parameters_summary(entry: HistoryEntry) -> dict[str, str]:
    """The commit's parameters as short texts (each at most 200 characters), for a report."""
    out: dict[str, str] = {}
    for key, value in sorted(entry.parameters.items()):
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else _compact(value)
        out[str(key)] = text if len(text) <= _MAX_PARAMETER_TEXT else text[:197] + "..."
    return out


def files_removed(entry: HistoryEntry, end: HistoryEntry | None = None) -> int | None:
    """Files the operation removed: a VACUUM's deleted files (from its END commit when given,
    else its START's ``numFilesToDelete``), else the commit's typed ``files_removed``."""
    for e in (end, entry):
        if e is None:
            continue
        for name in ("numDeletedFiles", "num_deleted_files", "numFilesToDelete"):
            value = e.metrics.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return int(value)
    return entry.files_removed


def pair_vacuums(entries: Sequence[HistoryEntry]) -> list[tuple[HistoryEntry, HistoryEntry | None]]:
    """The commits to report, oldest first: a ``VACUUM START`` with its ``VACUUM END`` (the next
    VACUUM END after it) counts once; every other commit stands alone (``None``)."""
    ordered = sorted(entries, key=lambda e: e.version)
    out: list[tuple[HistoryEntry, HistoryEntry | None]] = []
    used: set[int] = set()
    for i, entry in enumerate(ordered):
        if entry.version in used:
            continue
        end = None
        if entry.operation.strip().upper() == "VACUUM START":
            end = next(
                (
                    later
                    for later in ordered[i + 1 :]
                    if later.operation.strip().upper() == "VACUUM END" and later.version not in used
                ),
                None,
            )
            if end is not None:
                used.add(end.version)
        out.append((entry, end))
    return out


def matches_library_vacuum(
    table: str, at: datetime, events: Sequence[Mapping[str, Any]], *, slack: timedelta
) -> bool:
    """True when a library ``Vacuum`` audit event of ``table`` covers the commit time ``at``.

    Args:
        table: ``schema.table`` (compared without case).
        at: the commit's timestamp.
        events: SyncAuditLog rows (SchemaName, TableName, EventTime, DurationMs, DryRun) of
            the library's succeeded VACUUMs.
        slack: how far outside the event's span the commit may lie.

    Example:
        >>> matches_library_vacuum("s.t", datetime(2025, 1, 1, 3, 0), [], slack=AUDIT_MATCH_SLACK)
        False
    """
    when = as_utc(at)
    for ev in events:
        name = f"{ev.get('SchemaName')}.{ev.get('TableName')}".lower()
        if name != table.lower() or ev.get("DryRun") or ev.get("EventTime") is None:
            continue
        end = as_utc(ev["EventTime"])
        start = end - timedelta(milliseconds=int(ev.get("DurationMs") or 0))
        if start - slack <= when <= end + slack:
            return True
    return False


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


__all__ = [
    "AUDIT_MATCH_SLACK",
    "LIBRARY_PREFIX",
    "MAINTENANCE_KINDS",
    "VERIFY_KINDS",
    "ForeignKind",
    "files_removed",
    "is_library_commit",
    "matches_library_vacuum",
    "operation_kind",
    "pair_vacuums",
    "parameters_summary",
]
