"""Foreign operations: what others did to the tables since the last scan, and what it broke.

Outside maintenance happens (FABRIC.md): the portal's table maintenance, the pipeline "Lakehouse
Maintenance" activity, the ``TableMaintenance`` REST job, semantic-link-labs, someone's notebook.
`scan_foreign_operations` reads each table's history ONCE, from its high-water mark on, and lists
the VACUUMs, OPTIMIZEs, RESTOREs, DELETEs, overwrites and property changes the library did not
make (no ``fmd.*`` commit metadata; `_history`). After a foreign VACUUM, RESTORE or property
change it verifies the active checkpoints pinning that table again (``rt.checkpoints``' verify,
not a second missing-file check) and names the operation that broke one::

    VACUUM at 2025-01-15 03:12 UTC by someone else removed files checkpoint
    bronze_batch_2025-01-14 needs: Unrestorable (2 file(s) missing)

That is a HIGH finding and one HIGH alert; harmless foreign maintenance is listed as INFO, foreign
data changes (DELETE, overwrite, RESTORE) that broke nothing as MEDIUM.

Reads: ``HealthScans`` once (the marks), the active checkpoints once (unless passed in),
``PipelineConfig`` once (when no tables are named), each table's history once (``since_version``:
only the commits after its mark; a first scan reads at most `FIRST_SCAN_COMMITS` commits of the
last ``first_scan_days``), and the audit log's ``Vacuum`` events once, only when an untagged
VACUUM needs them. Writes (``record``): one ``HealthScans`` commit (a row per table scanned), one
audit commit, the alerts.

Example:
    >>> # scan = scan_foreign_operations(rt)
    >>> # [o.operation for o in scan.operations if o.harmful]   # ['VACUUM START']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.checkpoints import Checkpoint, VerifyResult
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.engine import HistoryEntry
from fmd_runtime.errors import ConfigError, TableNotFoundError
from fmd_runtime.health._foreign_findings import (
    operation_finding,
    read_findings,
    record_scan,
    unexplained_finding,
)
from fmd_runtime.health._foreign_models import ForeignOperation, ForeignScan, TableRead
from fmd_runtime.health._history import (
    AUDIT_MATCH_SLACK,
    VERIFY_KINDS,
    files_removed,
    is_library_commit,
    matches_library_vacuum,
    operation_kind,
    pair_vacuums,
    parameters_summary,
)
from fmd_runtime.health._models import HealthFinding
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

FIRST_SCAN_COMMITS = 500
"""A table's first scan reads at most this many of its newest commits ..."""

FIRST_SCAN_DAYS = 30
"""... and lists only those of the last this many days (the default ``first_scan_days``; Delta
keeps 30 days of log by default, so older commits are mostly gone anyway)."""

MAX_COMMITS = 1000
"""The default ``max_commits``: a scan reads at most this many commits of a table after its mark
(more means the scan ran too rarely: the gap is reported)."""

_RANK = {"Restorable": 0, "AtRisk": 1, "Unrestorable": 2}


def scan_foreign_operations(
    rt: Runtime,
    tables: Sequence[str | TableRef] | None = None,
    *,
    record: bool = True,
    checkpoints: Sequence[Checkpoint] | None = None,
    max_commits: int = MAX_COMMITS,
    first_scan_days: int = FIRST_SCAN_DAYS,
) -> ForeignScan:
    """Scan the tables' history since the last scan for operations the library did not make.

    Args:
        rt: the runtime.
        tables: the tables to scan (default: the enabled tables of ``PipelineConfig`` and every
            table an active checkpoint pins; metadata tables only when named).
        record: write the new high-water marks (``HealthScans``, one commit), the audit events
            (``ForeignOperation``, ``ForeignScan``) and the alerts; False: look only (the next
            scan reads the same commits again). Checkpoint verification records its results
            either way (they are the checkpoints' state).
        checkpoints: the checkpoints already read (e.g. by the daily report); the active ones
            are used (default: read them once).
        max_commits: at most this many commits per table after its mark (1 to 100,000).
        first_scan_days: a table's first scan lists the commits of this many days (1 to 3,650;
            and at most `FIRST_SCAN_COMMITS` commits).

    Returns:
        The `ForeignScan`.

    Raises:
        ConfigError: an argument of the wrong type or out of bounds (nothing is read or written).
        InvalidIdentifierError: a name in ``tables`` is not a table of the connected lakehouse.

    Example:
        >>> # scan = scan_foreign_operations(rt); print([f.message for f in scan.findings])
    """
    record = strict_bool(record, "record")
    max_commits = check_number(max_commits, "max_commits", minimum=1, maximum=100_000, integer=True)
    first_scan_days = check_number(
        first_scan_days, "first_scan_days", minimum=1, maximum=3650, unit="days", integer=True
    )
    named = _named_tables(rt, tables)
    now = utcnow()
    active = [
        c
        for c in (rt.checkpoints.list(active_only=True) if checkpoints is None else checkpoints)
        if c.is_active
    ]
    refs = named if named is not None else _default_tables(rt, active)
    marks = _high_water_marks(rt)
    since = now - timedelta(days=first_scan_days)
    outcomes = rt.map_tables(
        lambda ref: _read_history(rt, ref, marks.get(ref.name.lower()), since, max_commits),
        refs,
        label="Scanning the history of",
        key=lambda ref: ref.name,
    )
    reads: list[TableRead] = []
    failures: dict[str, str] = {}
    missing: set[str] = set()
    for ref, o in zip(refs, outcomes, strict=True):
        if o.ok and o.value is not None:
            reads.append(o.value)
        else:
            failures[ref.name] = o.error or "failed"
            if o.error_type == TableNotFoundError.__name__:
                missing.add(ref.name.lower())
    foreign, library = _foreign_entries(rt, reads)
    ops = [_operation(r.table, e, end) for r in reads for e, end in pair_vacuums(foreign[r.table])]
    touched = {o.table.lower() for o in ops if o.kind in VERIFY_KINDS} | missing
    to_verify = [c for c in active if any(t.table.lower() in touched for t in c.tables)]
    results = rt.checkpoints.verify_many(to_verify, alert=False) if to_verify else []
    ops, unexplained = _attribute(ops, results, missing, {c.checkpoint_name: c for c in to_verify})
    findings = [operation_finding(o) for o in ops] + unexplained
    findings += read_findings(reads, failures, missing, active)
    scan = ForeignScan(
        operations=ops,
        findings=findings,
        tables_scanned=[r.table for r in reads],
        high_water_marks={r.table: r.last_version for r in reads},
        commits_read=sum(len(r.entries) for r in reads),
        library_commits=library,
        checkpoints_verified=[r.checkpoint_name for r in results],
        failures=failures,
        scanned_at=now,
    )
    if record:
        record_scan(rt, scan, reads)
    return scan


# -- which tables, from which version ------------------------------------------------------------
def _named_tables(rt: Runtime, tables: Sequence[str | TableRef] | None) -> list[TableRef] | None:
    if tables is None:
        return None
    if isinstance(tables, str | bytes) or not isinstance(tables, Sequence):
        raise ConfigError(
            f"parameter 'tables' must be a list of table names, got {type(tables).__name__}",
            hint='pass tables=["bronze.account", ...] or leave it out for every configured table',
        )
    return _unique([rt.table(t, parameter="tables") for t in tables])


def _default_tables(rt: Runtime, active: Sequence[Checkpoint]) -> list[TableRef]:
    """Enabled PipelineConfig tables and every table an active checkpoint pins (not metadata)."""
    refs = [rt.table(c.table) for c in rt.table_configs(enabled_only=True)]
    refs += [
        TableRef(schema_name=t.schema_name, table=t.table_name) for c in active for t in c.tables
    ]
    schema = rt.config.metadata_schema.lower()
    return _unique([r for r in refs if r.schema_name.lower() != schema])


def _unique(refs: Sequence[TableRef]) -> list[TableRef]:
    seen: dict[str, TableRef] = {}
    for r in refs:
        seen.setdefault(r.name.lower(), r)
    return sorted(seen.values(), key=lambda r: r.name.lower())


@dataclass(frozen=True)
class _Mark:
    """A table's high-water mark: the newest version scanned and its commit time."""

    version: int
    time: datetime | None


def _high_water_marks(rt: Runtime) -> dict[str, _Mark]:
    """``schema.table`` (lower case) -> the mark of its latest HealthScans row."""
    latest: dict[str, tuple[datetime, int, datetime | None]] = {}
    columns = ["SchemaName", "TableName", "LastVersion", "LastCommitTime", "ScannedAt"]
    for row in rt.store.read("HealthScans", columns=columns):
        key = f"{row['SchemaName']}.{row['TableName']}".lower()
        when = as_utc(row["LastCommitTime"]) if row["LastCommitTime"] else None
        stamp = (as_utc(row["ScannedAt"]), int(row["LastVersion"]), when)
        if key not in latest or stamp[:2] > latest[key][:2]:
            latest[key] = stamp
    return {k: _Mark(v[1], v[2]) for k, v in latest.items()}


def _read_history(
    rt: Runtime, ref: TableRef, mark: _Mark | None, since: datetime, max_commits: int
) -> TableRead:
    """The table's commits after ``mark`` (one history read), or a bounded first read."""
    if mark is None:
        entries = rt.engine.history(ref, limit=FIRST_SCAN_COMMITS)
        newest = max(entries, key=lambda e: e.version) if entries else None
        kept = [e for e in entries if as_utc(e.timestamp) >= since]
        notes = [
            f"first scan: commits since {since:%Y-%m-%d %H:%M} UTC "
            f"(at most {FIRST_SCAN_COMMITS} commits)"
        ]
        if newest is None:
            return TableRead(ref.name, [], -1, None, None, notes)
        first = min((e.version for e in kept), default=None)
        return TableRead(ref.name, kept, newest.version, newest.timestamp, first, notes)
    entries = rt.engine.history(ref, limit=max_commits, since_version=mark.version)
    if not entries:
        return TableRead(ref.name, [], mark.version, mark.time, None)
    newest = max(entries, key=lambda e: e.version)
    first = min(e.version for e in entries)
    read = TableRead(ref.name, entries, newest.version, newest.timestamp, first)
    if first > mark.version + 1:
        read.gap = (mark.version + 1, first - 1)
        read.notes.append(
            f"versions {mark.version + 1} to {first - 1} not scanned: more than {max_commits} "
            "commits since the last scan"
        )
    return read


# -- whose commits -------------------------------------------------------------------------------
def _foreign_entries(
    rt: Runtime, reads: Sequence[TableRead]
) -> tuple[dict[str, list[HistoryEntry]], int]:
    """Per table, the listed kinds of commit the library did not make; and the library's count."""
    out: dict[str, list[HistoryEntry]] = {}
    library = 0
    untagged_vacuum = False
    for r in reads:
        mine = [e for e in r.entries if is_library_commit(e)]
        library += len(mine)
        out[r.table] = [e for e in r.entries if not is_library_commit(e) and operation_kind(e)]
        untagged_vacuum |= any(operation_kind(e) == "vacuum" for e in out[r.table])
    if not untagged_vacuum:
        return out, library
    # VACUUMs logged without metadata (an older release): the library's audited ones are ours
    events = rt.store.read(
        "SyncAuditLog",
        {"Operation": "Vacuum", "Status": "Succeeded"},
        columns=["SchemaName", "TableName", "EventTime", "DurationMs", "DryRun"],
    )
    for table, entries in out.items():
        kept = []
        for e in entries:
            if operation_kind(e) == "vacuum" and matches_library_vacuum(
                table, e.timestamp, events, slack=AUDIT_MATCH_SLACK
            ):
                library += 1
            else:
                kept.append(e)
        out[table] = kept
    return out, library


def _operation(table: str, entry: HistoryEntry, end: HistoryEntry | None) -> ForeignOperation:
    kind = operation_kind(entry)
    assert kind is not None  # only listed kinds reach here
    return ForeignOperation(
        table=table,
        version=entry.version,
        timestamp=as_utc(entry.timestamp),
        operation=entry.operation,
        kind=kind,
        parameters=parameters_summary(entry),
        user_name=entry.user_name or (end.user_name if end else None),
        engine_info=entry.engine_info or (end.engine_info if end else None),
        files_removed=files_removed(entry, end),
        rows_deleted=entry.rows_deleted,
    )


# -- what they broke -------------------------------------------------------------------------------
def _attribute(
    ops: list[ForeignOperation],
    results: Sequence[VerifyResult],
    missing: set[str],
    before: dict[str, Checkpoint],
) -> tuple[list[ForeignOperation], list[HealthFinding]]:
    """Each broken checkpoint table to the foreign operation that explains it.

    Missing files: the table's latest foreign VACUUM. A retention too short: its latest foreign
    property change or RESTORE (RESTORE rewinds properties). A checkpoint already that broken
    at its last verification is not blamed on an operation after it (it was broken before).
    Unexplained ones become findings of their own (the checkpoint is broken all the same).
    """
    by_table: dict[str, list[int]] = {}
    for i, o in enumerate(ops):
        by_table.setdefault(o.table.lower(), []).append(i)
    worst: dict[str, str] = {}
    broken: dict[int, dict[str, Any]] = {}
    unexplained: list[HealthFinding] = []
    for res in results:
        for tv in res.tables:
            key = tv.table.lower()
            if key not in worst or _RANK[tv.status] > _RANK[worst[key]]:
                worst[key] = tv.status
            if tv.status == "Restorable":
                continue
            verified = _already(before.get(res.checkpoint_name), tv.status)
            culprit = _culprit(ops, by_table.get(key, []), tv.missing_files > 0, verified)
            if culprit is None:
                reason = tv.reason or tv.status
                if verified is not None:
                    reason += (
                        f"; already {tv.status} when verified at {verified:%Y-%m-%d %H:%M} UTC"
                    )
                unexplained.append(
                    unexplained_finding(res, tv.table, tv.status, reason, key in missing)
                )
                continue
            hit = broken.setdefault(
                culprit, {"checkpoints": [], "status": "Restorable", "files": 0}
            )
            hit["checkpoints"].append(res.checkpoint_name)
            if _RANK[tv.status] > _RANK[hit["status"]]:
                hit["status"] = tv.status
            hit["files"] = max(hit["files"], tv.missing_files)
    out = []
    for i, o in enumerate(ops):
        after = worst.get(o.table.lower())
        if i in broken:
            hit = broken[i]
            o = o.model_copy(
                update={
                    "harmful": True,
                    "affected_checkpoints": sorted(set(hit["checkpoints"])),
                    "restorability_after": after,
                    "missing_files": hit["files"],
                }
            )
        elif after is not None:
            o = o.model_copy(update={"restorability_after": after})
        out.append(o)
    return out, unexplained


def _already(cp: Checkpoint | None, status: str) -> datetime | None:
    """When the checkpoint was last verified as broken as ``status`` or worse (else None)."""
    if cp is None or cp.last_verified_date is None or cp.restorability_status not in _RANK:
        return None
    if _RANK[cp.restorability_status] < _RANK[status]:
        return None
    return as_utc(cp.last_verified_date)


def _culprit(
    ops: Sequence[ForeignOperation],
    indexes: Sequence[int],
    files: bool,
    broken_since: datetime | None,
) -> int | None:
    """The latest foreign operation of the table that explains a broken pin (None: none does;
    ``broken_since``: the pin was already broken then, so nothing later explains it)."""
    kinds = ("vacuum",) if files else ("properties", "restore")
    found = [
        i
        for i in indexes
        if ops[i].kind in kinds and (broken_since is None or ops[i].timestamp <= broken_since)
    ]
    return max(found, key=lambda i: ops[i].version) if found else None


__all__ = [
    "FIRST_SCAN_COMMITS",
    "FIRST_SCAN_DAYS",
    "MAX_COMMITS",
    "ForeignOperation",
    "ForeignScan",
    "scan_foreign_operations",
]
