"""Creating a checkpoint: from the checked arguments to the written, reported restore point.

`create_checkpoint` is what `Checkpoints.create` and `create_table` run. In order: the remaining
argument checks (refused for every kind), the scope resolved against ``PipelineConfig``, the
retention of the kind, a batch checkpoint's wait for its loads in flight (run ledger), then every
table's version read in one short burst (the pin window) and only then each table pinned in the
bounded pool (`_pin.pin_table`), the checkpoint's status decided from the checks, and the rows
written and reported (`_record`). A failure of a Daily kind is audited and returns None; other
kinds raise.

Example:
    >>> # create_checkpoint(rt, "bronze.*", kind="DailyBatch", ...)  # what rt.checkpoints.create runs
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime._text import plural
from fmd_runtime.config import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    TableConfig,
    check_number,
)
from fmd_runtime.errors import CheckpointError, FmdError
from fmd_runtime.retry import retryer
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import ValidationCheck

from ._inputs import check_kind, check_name, check_text, scope_items, scope_text
from ._models import SYNC_KINDS, Checkpoint, CheckpointKind, default_name, end_of
from ._pin import Pin, pin_table
from ._record import creation_failed, record_creation, write_checkpoint

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

# one logger for the whole capability: operators filter on "fmd_runtime.checkpoints"
log = logging.getLogger("fmd_runtime.checkpoints")


def create_checkpoint(
    rt: Runtime,
    tables: Any,
    *,
    kind: Any,
    name: str | None,
    notes: str | None,
    retention_days: int | None,
    parent: str | None,
    protect: bool,
    raise_on_failure: bool | None,
    batch: tuple[str | None, float] = (None, 0.0),
    lock: threading.Lock,
    retry_wait_seconds: float | None,
) -> Checkpoint | None:
    """Check the arguments, create the checkpoint, and apply the kind's failure policy.

    ``batch``: the batch id given (or None) and how long to wait for its loads in flight.
    ``lock`` serializes name choices in this process; ``retry_wait_seconds`` is the first
    backoff of the retries (None: the ``table_operation`` policy's).
    """
    # Invalid arguments are the caller's bug, not a runtime failure: refused for EVERY kind,
    # before anything is read or written. "Never fail the caller" (Daily, DailyBatch) is for
    # engine and store failures only.
    kind = check_kind(kind)
    if retention_days is not None:
        retention_days = check_number(
            retention_days,
            "retention_days",
            minimum=1,
            maximum=MAX_RETENTION_DAYS,
            unit="days",
            integer=True,
        )
    check_name(name)
    check_text(notes, "notes", 4000)
    check_text(parent, "parent_checkpoint_id", 128)
    items = scope_items(rt, tables)
    raises = kind not in SYNC_KINDS if raise_on_failure is None else raise_on_failure
    scope = scope_text(tables)
    retry = partial(retry_step, wait_seconds=retry_wait_seconds)
    start = time.perf_counter()
    try:
        return _create_once(
            rt,
            items,
            kind,
            scope,
            name,
            notes,
            retention_days,
            parent,
            protect,
            start,
            batch,
            lock=lock,
            retry=retry,
        )
    except Exception as exc:
        if isinstance(exc, FmdError) and exc.details.get("invalid_argument"):
            raise  # e.g. "schema.*" matches no configured table: the caller's to fix
        creation_failed(rt, kind, scope, exc, start)
        if not raises:
            # returned, not raised, but never silent: a line on screen (stderr / the log)
            log.warning(
                "fmd checkpoints: the %s checkpoint of %s was NOT created: %s (a %s "
                "checkpoint never fails the caller; audited in SyncAuditLog as "
                "CheckpointCreated Failed)",
                kind,
                scope,
                exc,
                kind,
            )
            return None
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(
            f"{kind} checkpoint of {scope} failed: {exc}",
            hint="fix the cause above and create it again",
        ) from exc


def _create_once(
    rt: Runtime,
    items: Sequence[TableRef | str | None],
    kind: CheckpointKind,
    scope: str,
    name: str | None,
    notes: str | None,
    retention_days: int | None,
    parent: str | None,
    protect: bool,
    start: float,
    batch: tuple[str | None, float],
    *,
    lock: threading.Lock,
    retry: Callable[..., Any],
) -> Checkpoint:
    refs, configs = resolve_scope(rt, items)
    days = retention_days_of(rt, kind, [configs[r.name.lower()] for r in refs], retention_days)
    end = end_of(utcnow().date() + timedelta(days=days))
    batch_id = batch[0] or (rt.context.pipeline_run_id if kind == "DailyBatch" else None)
    in_flight = wait_for_loads(rt, batch_id, refs, batch[1]) if batch_id else []
    loaded: set[str] = rt.runs.loaded_tables([r.name for r in refs])
    # Every version is read first, in one short burst (the pin window), and only then
    # counted, listed and protected: with 50 tables and 8 workers, a table's version is
    # not read only after the slow work on 40 others.
    reads = rt.map_tables(
        lambda ref: (retry(rt.engine.snapshot, ref), utcnow()),
        refs,
        label="Reading version of",
        key=lambda ref: ref.name,
    )
    read = {o.item: o.value for o in reads if o.ok}
    outcomes = rt.map_tables(
        lambda ref: retry(
            pin_table,
            rt,
            ref,
            configs[ref.name.lower()],
            end,
            protect,
            ref.name.lower() in loaded,
            read.get(ref.name),
        ),
        refs,
        label="Checkpointing table",
        key=lambda ref: ref.name,
    )
    created = utcnow()
    pins: list[Pin] = [o.value for o in outcomes if o.ok]
    if not pins:
        # a checkpoint of no table restores nothing: never record one (it would list as a
        # restore point)
        errors = "; ".join(f"{o.item}: {o.error}" for o in outcomes if not o.ok)
        raise CheckpointError(
            f"no table of {scope} could be read, so there is nothing to checkpoint: {errors}",
            hint="fix the tables named above (do they exist in this lakehouse?) and create "
            "the checkpoint again",
        )
    checks = [c for p in pins for c in p.checks]
    checks += [
        ValidationCheck(
            table=o.item,
            check_name="TableReadable",
            expected="readable",
            actual="error",
            passed=False,
            severity="HIGH",
            message=o.error,
        )
        for o in outcomes
        if not o.ok
    ]
    if batch_id:
        checks += batch_checks(rt, batch_id, pins, in_flight)
    failed = sorted({c.table or "" for c in checks if not c.passed})
    only_in_flight = all(c.passed or c.check_name == "LoadsCompleted" for c in checks) and any(
        c.check_name == "LoadsCompleted" and not c.passed for c in checks
    )
    status = "InFlight" if only_in_flight else "Failed" if failed else "Validated"
    rows = [p.row for p in pins]
    stamps = [p.pinned_at for p in pins]
    totals = [t.total_rows for t in rows]
    cp = Checkpoint(
        checkpoint_id=str(uuid.uuid4()),
        checkpoint_name=name or "",
        checkpoint_type=kind,
        created_date=created,
        tables=tuple(rows),
        tables_included=len(rows),
        total_rows=None if None in totals else sum(t or 0 for t in totals),
        validation_status=status,
        retention_date=created.date() + timedelta(days=days),
        is_active=True,
        pipeline_run_id=rt.context.pipeline_run_id,
        parent_checkpoint_id=parent,
        notes=notes,
        created_by=rt.context.triggered_by or rt.context.run_id,
        restorability_status="AtRisk" if any(p.at_risk for p in pins) else "Restorable",
        run_id=rt.context.run_id,
        scope=scope,
        batch_id=batch_id,
        pin_window_start=min(stamps),
        pin_window_end=max(stamps),
    )
    wanted = name or default_name(kind, refs, created.date())
    cp = write_checkpoint(rt, cp, wanted, lock=lock, retry=retry)
    try:
        record_creation(rt, cp, pins, checks, failed, start)
    except Exception as exc:  # the checkpoint is written; its reasons are in CheckpointTables
        log.warning(
            "fmd checkpoints: %s was created but its report failed: %s", cp.checkpoint_name, exc
        )
    return cp


def resolve_scope(
    rt: Runtime, items: Sequence[TableRef | str | None]
) -> tuple[list[TableRef], dict[str, TableConfig]]:
    """Table refs of the scope and their configs (one PipelineConfig read)."""
    configs = {c.table.lower(): c for c in rt.table_configs(enabled_only=False)}
    refs: dict[str, TableRef] = {}
    for item in items:
        if isinstance(item, TableRef):
            hits = [item]
        else:
            hits = [
                c.ref
                for c in configs.values()
                if c.enabled
                and (item is None or item in (c.ref.schema_name.lower(), c.effective_layer))
            ]
            if not hits:
                text = "the pipeline" if item is None else f"{item}.*"
                raise CheckpointError(
                    f"no enabled table in PipelineConfig matches {text!r}",
                    hint="configure the tables (rt.configure_table) or name them explicitly",
                    details={"invalid_argument": "tables"},
                )
        for ref in hits:
            refs.setdefault(ref.name.lower(), ref)
    for key, ref in refs.items():
        configs.setdefault(key, TableConfig(table=ref.name))
    return sorted(refs.values(), key=lambda r: r.name.lower()), configs


def retention_days_of(
    rt: Runtime, kind: CheckpointKind, configs: Sequence[TableConfig], override: int | None
) -> int:
    """Per call, else the tables' PipelineConfig (max), else the kind's policy.

    A table's setting replaces the policy of the sync kinds (Daily, DailyBatch); other kinds
    never go below their policy (a PrePurge promise of 365 days is not shortened by it).
    """
    if override is not None:
        return override
    policy = rt.config.checkpoint_retention_days.get(kind, DEFAULT_RETENTION_DAYS[kind])
    days = max((c.checkpoint_retention_days or policy for c in configs), default=policy)
    return days if kind in SYNC_KINDS else max(days, policy)


def retry_step(fn: Callable[..., Any], *args: Any, wait_seconds: float | None) -> Any:
    """Run one step, retrying transient errors twice (``table_operation`` policy)."""
    r = retryer(
        "table_operation",
        wait_seconds=wait_seconds,
        operation=f"checkpoint {getattr(fn, '__name__', 'step')}",
    )
    return r(fn, *args)


def wait_for_loads(
    rt: Runtime, batch: str, refs: Sequence[TableRef], limit: float
) -> list[dict[str, Any]]:
    """Wait up to ``limit`` seconds for the batch's loads in flight into ``refs``; the
    ledger rows of those still in flight at the end (none: every load has finished)."""
    names = [r.name for r in refs]
    deadline = time.monotonic() + limit
    while True:
        waiting: list[dict[str, Any]] = rt.runs.in_flight(batch, names)
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            return waiting
        shown = ", ".join(
            f"{r['SchemaName']}.{r['TableName']} (run {r['RunId']}, started "
            f"{as_utc(r['EventTime']):%H:%M})"
            for r in waiting[:5]
        )
        more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
        log.info(
            "fmd checkpoints: waiting for %s of batch %s: %s%s (%.0f s left)",
            plural(len(waiting), "load"),
            batch,
            shown,
            more,
            left,
        )
        time.sleep(min(rt.config.checkpoint_load_poll_seconds, left))


def batch_checks(
    rt: Runtime, batch: str, pins: Sequence[Pin], in_flight: Sequence[dict[str, Any]]
) -> list[ValidationCheck]:
    """A batch checkpoint's own checks: no load of the batch in flight, and every table
    pinned at or after its own (completed) load of the batch."""
    checks = [
        ValidationCheck(
            table=f"{r['SchemaName']}.{r['TableName']}",
            check_name="LoadsCompleted",
            expected="no load of the batch in flight",
            actual=f"run {r['RunId']} started {as_utc(r['EventTime']):%Y-%m-%d %H:%M} UTC",
            passed=False,
            severity="HIGH",
            message=(
                f"InFlight: {r['SchemaName']}.{r['TableName']} was still being loaded by run "
                f"{r['RunId']} (entity {r['EntityId']}, started "
                f"{as_utc(r['EventTime']):%H:%M} UTC) when the checkpoint pinned it"
            ),
        )
        for r in in_flight
    ]
    done: dict[str, int] = rt.runs.batch_loads(batch, [p.row.table for p in pins])
    for p in pins:
        load = done.get(p.row.table.lower())
        if load is None:
            continue
        ok = p.row.version >= load
        checks.append(
            ValidationCheck(
                table=p.row.table,
                check_name="PinnedAfterBatchLoad",
                expected=f">= v{load}",
                actual=f"v{p.row.version}",
                passed=ok,
                severity="INFO" if ok else "HIGH",
                message=None
                if ok
                else (
                    f"{p.row.table} is pinned at v{p.row.version}, before its own load of "
                    f"batch {batch} (v{load})"
                ),
            )
        )
    return checks


__all__ = [
    "batch_checks",
    "create_checkpoint",
    "resolve_scope",
    "retention_days_of",
    "retry_step",
    "wait_for_loads",
]
