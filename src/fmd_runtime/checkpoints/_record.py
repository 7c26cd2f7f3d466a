"""What a creation leaves behind: the rows under a unique name, then its report (DataValidation
rows, audit events, alerts), or the report of a creation that failed.

Separate from `_create` (which decides what the checkpoint is) because these are the writes and
the messages: the name is settled against concurrent creators here (a clash gets ``_2``, ``_3``
..., the later creator renames itself), and the "third failing day in a row" alert reads the
audit log here.

Example:
    >>> free_name("bronze_batch_2025-01-15", {"bronze_batch_2025-01-15"})
    'bronze_batch_2025-01-15_2'
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime._text import plural
from fmd_runtime.errors import CheckpointError
from fmd_runtime.store import utcnow
from fmd_runtime.validation import ValidationCheck

from ._models import Checkpoint, end_of, pin_window_ms
from ._pin import Pin
from ._rows import history_row, table_row, validation_rows

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

# one logger for the whole capability: operators filter on "fmd_runtime.checkpoints"
log = logging.getLogger("fmd_runtime.checkpoints")

_MAX_RENAMES = 20
"""Renames a checkpoint may take to settle on a unique name under concurrent creators."""


def free_name(wanted: str, taken: Iterable[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3`` ... : the first not in ``taken`` (any case)."""
    taken = set(taken)
    name, n = wanted, 1
    while name.lower() in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name


def write_checkpoint(
    rt: Runtime,
    cp: Checkpoint,
    wanted: str,
    *,
    lock: threading.Lock,
    retry: Callable[..., Any],
) -> Checkpoint:
    """Append the table rows, then the header (a reader never sees a header without them).

    ``lock`` serializes the name choice within this process; ``retry`` runs each append with
    the creation's retries.
    """
    store = rt.store
    with lock:
        taken = {
            r["CheckpointName"].lower()
            for r in store.read("CheckpointHistory", columns=["CheckpointName"])
        }
        name = free_name(wanted, taken)
        cp = cp.model_copy(update={"checkpoint_name": name})
        if cp.tables:
            retry(store.append, "CheckpointTables", [table_row(cp, t) for t in cp.tables])
        retry(store.append, "CheckpointHistory", [history_row(cp)])
    # Another process may have taken the same name in the same instant: the later one renames,
    # and checks again (two renaming processes can pick the same free name too).
    for _ in range(_MAX_RENAMES):
        same = store.read(
            "CheckpointHistory",
            {"CheckpointName": cp.checkpoint_name},
            columns=["CheckpointId", "CreatedDate"],
        )
        first = min(same, key=lambda r: (r["CreatedDate"], r["CheckpointId"]))
        if first["CheckpointId"] == cp.checkpoint_id:
            return cp
        cp = _rename(rt, cp, wanted, lock)
    raise CheckpointError(
        f"checkpoint {cp.checkpoint_id} could not settle on a unique name after "
        f"{_MAX_RENAMES} renames (now {cp.checkpoint_name!r})",
        hint="too many creators of the same name at once: rename it with a distinct name",
    )


def _rename(rt: Runtime, cp: Checkpoint, wanted: str, lock: threading.Lock) -> Checkpoint:
    store = rt.store
    with lock:
        taken = {
            r["CheckpointName"].lower()
            for r in store.read("CheckpointHistory", columns=["CheckpointName"])
        }
        name = free_name(wanted, taken)
        store.update(
            "CheckpointHistory", {"CheckpointId": cp.checkpoint_id}, {"CheckpointName": name}
        )
    return cp.model_copy(update={"checkpoint_name": name})


def record_creation(
    rt: Runtime,
    cp: Checkpoint,
    pins: Sequence[Pin],
    checks: Sequence[ValidationCheck],
    failed: Sequence[str],
    start: float,
) -> None:
    """DataValidation rows (failures and tolerances), audit events, alerts; one flush."""
    reported = [c for c in checks if not c.passed or c.tolerance > 0]
    rows = validation_rows(rt, "CheckpointCreate", reported, cp.checkpoint_id)
    if rows:
        rt.store.append("DataValidation", rows)
    for p in pins:
        if p.raised:
            rt.audit.event(
                "RetentionPropertiesRaised",
                table=p.row.table,
                details={"checkpoint": cp.checkpoint_name, "properties": p.raised},
            )
    for table in failed:
        reasons = [c.message or c.check_name for c in checks if c.table == table and not c.passed]
        rt.audit.event(
            "CheckpointValidation",
            "Failed",
            table=table or None,
            severity="HIGH",
            details={"checkpoint": cp.checkpoint_name, "reasons": reasons},
        )
    at_risk = {p.row.table: p.at_risk for p in pins if p.at_risk}
    rt.audit.event(
        "CheckpointCreated",
        "Succeeded" if cp.validation_status == "Validated" else "Failed",
        rows_read=cp.total_rows,
        duration_ms=int((time.perf_counter() - start) * 1000),
        severity="INFO" if not failed else "HIGH",
        details={
            "scope": f"{cp.checkpoint_type}:{cp.scope}",
            "checkpoint": cp.checkpoint_name,
            "checkpoint_id": cp.checkpoint_id,
            "kind": cp.checkpoint_type,
            "tables": cp.tables_included,
            "validation": cp.validation_status,
            "failed_tables": list(failed),
            "at_risk": at_risk,
            "versions": {t.table: t.version for t in cp.tables},
            "batch_id": cp.batch_id,
            "loads": {t.table: t.load_text(cp.batch_id) for t in cp.tables},
            "pin_window_ms": pin_window_ms(cp),
            "log_checkpoints": sum(p.log_checkpoint for p in pins),
        },
    )
    rt.audit.flush()
    if failed:
        _alert_failed(rt, cp, checks, failed)


def _alert_failed(
    rt: Runtime, cp: Checkpoint, checks: Sequence[ValidationCheck], failed: Sequence[str]
) -> None:
    """The HIGH alert of a checkpoint that failed validation, or pinned loads in flight."""
    errors = {
        t or "(checkpoint)": "; ".join(
            c.message or c.check_name for c in checks if c.table == t and not c.passed
        )
        for t in failed
    }
    in_flight = cp.validation_status == "InFlight"
    if in_flight:
        title = (
            f"Checkpoint {cp.checkpoint_name} pinned batch {cp.batch_id} while "
            f"{plural(len(failed), 'load')} were still in flight: not a restore point"
        )
        steps = [
            "check the runs named above (still running, stalled or crashed?)",
            "when they have finished (or failed), create the batch checkpoint again",
        ]
    else:
        title = (
            f"Checkpoint {cp.checkpoint_name} failed validation ({plural(len(failed), 'table')})"
        )
        steps = [
            "read DataValidation for this CheckpointId",
            "fix the data or PipelineConfig, then create a new checkpoint",
        ]
    rt.alerts.send(
        "HIGH",
        title,
        key=f"checkpoint-{'inflight' if in_flight else 'validation'}:"
        f"{cp.checkpoint_type}:{cp.scope}",
        tables=list(failed),
        errors=errors,
        first_steps=steps,
        details={"checkpoint": cp.checkpoint_name, "batch_id": cp.batch_id},
    )
    if not in_flight:  # a batch still loading is not a failing day
        alert_if_failing_days(rt, cp.checkpoint_type, cp.scope or "")


def creation_failed(rt: Runtime, kind: str, scope: str, exc: BaseException, start: float) -> None:
    """Audit a creation that raised, and alert on the third failing day in a row."""
    try:
        rt.audit.event(
            "CheckpointCreated",
            "Failed",
            error=exc,
            severity="HIGH",
            duration_ms=int((time.perf_counter() - start) * 1000),
            details={"scope": f"{kind}:{scope}", "kind": kind},
        )
        rt.audit.flush()
        alert_if_failing_days(rt, kind, scope, failed_now=True)
    except Exception as report_exc:  # reporting a failure must never replace it
        log.warning("fmd checkpoints: could not report a failed creation: %s", report_exc)


def alert_if_failing_days(rt: Runtime, kind: str, scope: str, *, failed_now: bool = False) -> None:
    """Alert when the scope had failures and no success on each of the last 3 days."""
    key = f"{kind}:{scope}"
    today = utcnow().date()
    events = rt.engine.sql(
        "SELECT EventTime, Status, Details FROM {t} WHERE Operation = :op AND EventTime >= :since",
        {"t": rt.store.ref("SyncAuditLog")},
        {"op": "CheckpointCreated", "since": end_of(today - timedelta(days=3))},
    ).to_pylist()
    days: dict[date, set[str]] = {}
    for e in events:
        if json.loads(e["Details"] or "{}").get("scope") == key:
            days.setdefault(as_utc(e["EventTime"]).date(), set()).add(e["Status"])
    if failed_now:
        days.setdefault(today, set()).add("Failed")
    streak = [today - timedelta(days=i) for i in range(3)]
    if all("Failed" in days.get(d, ()) and "Succeeded" not in days.get(d, ()) for d in streak):
        rt.alerts.send(
            "HIGH",
            f"Checkpoint creation has failed 3 days in a row: {key}",
            key=f"checkpoint-failing-days:{key}",
            first_steps=[
                "read SyncAuditLog where Operation = 'CheckpointCreated' and Status = 'Failed'",
                "there is no valid restore point for these tables since the first failure",
            ],
            details={"scope": key, "days": [d.isoformat() for d in streak]},
        )


__all__ = [
    "alert_if_failing_days",
    "creation_failed",
    "free_name",
    "record_creation",
    "write_checkpoint",
]
