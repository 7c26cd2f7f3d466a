"""The audit envelope: every event carries the run context, the entity and an error summary.

Events are buffered and written to ``SyncAuditLog`` in one commit per flush (a Delta commit costs
seconds on Spark): when the outermost activity starts (its Start at once, so a notebook killed by a
timeout still leaves a trace: ``vw_RunStatus`` shows it started and never ended) and when it ends
(no activity open in any thread), on `Audit.flush`, when the buffer holds
``config.audit_buffer_rows`` events, when the oldest buffered event is older than
`Audit.max_age_seconds`, and at interpreter exit. A failure to write audit rows never hides the
caller's own error: it is logged and counted, and the rows stay buffered.

The run context (RunId, ParentRunId, PipelineRunId, PipelineName, NotebookName, WorkspaceId,
TriggeredBy) comes from ``connect(...)`` / the Fabric runtime context and is stamped on every
event. Events raised inside an activity inherit what the activity knows (entity, table, layer,
source, activity name, dry run) unless they say otherwise.

Local runs can also mirror every event to a JSON-lines file: `Audit.add_jsonl_sink`, or the
environment variable ``FMD_AUDIT_JSONL`` (``{run_id}`` in it is replaced by the run id).

Example:
    >>> import tempfile, fmd_runtime as fmd
    >>> rt = fmd.connect(lakehouse=tempfile.mkdtemp())
    >>> with rt.audit.activity("LoadBronze", layer="bronze", entity="account") as act:
    ...     act.rows_written = 10
    >>> [r["Operation"] for r in rt.store.read("SyncAuditLog", order_by="EventTime")]
    ['Start', 'End']

The work is done in private modules: ``_envelope`` (the row and its column groups),
``_activity`` (`Activity`, `ActivityScope`, the thread's activity stack), ``_summary``
(`RunSummary`, `derive_status`); the `Audit` class below buffers, flushes and mirrors events.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmd_runtime.audit._activity import (
    Activity,
    ActivityScope,
    SourceGate,
    _inherit,
    current_activity,
)
from fmd_runtime.audit._envelope import (
    _CONTEXT,
    _INHERITED,
    _MARKED,
    _TARGET,
    LIFECYCLE,
    RUN_LEVEL,
    AuditEnvelope,
    Severity,
    entity_key,
    error_text,
)
from fmd_runtime.audit._summary import (
    EntityResult,
    RunSummary,
    _entities_from_events,
    derive_status,
    entity_results,
)
from fmd_runtime.redaction import redact, scrub
from fmd_runtime.retry import retryer
from fmd_runtime.store import to_json

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.audit")

JSONL_ENV = "FMD_AUDIT_JSONL"


class Audit:
    """The audit capability (``rt.audit``).

    Attributes:
        write_failures: flushes that failed (their rows stay buffered for the next flush).
        max_age_seconds: flush when the oldest buffered event is this old (long jobs stay
            visible); also how long automatic flushes pause after a failed write.
        source_gate: asked when an activity naming a source (and an entity or table) starts
            and ends: the source circuit breaker, wired in by the `Runtime` (None: no gate).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._buffer = runtime.store.buffer("SyncAuditLog")
        self._open = 0
        self._open_lock = threading.Lock()
        self._oldest: float | None = None
        self._failed_at: float | None = None
        self._sinks: list[Callable[[Mapping[str, Any]], None]] = []
        self._sink_lock = threading.Lock()
        self._marks: dict[str, dict[str, Any]] = {}
        self._marks_lock = threading.Lock()
        self._on_end: list[Callable[[], None]] = []
        self.write_failures = 0
        self.max_age_seconds = 60.0
        self.source_gate: SourceGate | None = None
        env_path = os.environ.get(JSONL_ENV)
        if env_path:
            self.add_jsonl_sink(env_path.replace("{run_id}", runtime.context.run_id))
        _register_exit_flush(self)

    # -- events ----------------------------------------------------------------------------
    def event(
        self,
        operation: str,
        status: str = "Succeeded",
        *,
        table: Any = None,
        entity: str | None = None,
        layer: str | None = None,
        source: str | None = None,
        connection_type: str | None = None,
        activity: str | None = None,
        rows_read: int | None = None,
        rows_written: int | None = None,
        duration_ms: int | None = None,
        error: BaseException | str | None = None,
        severity: Severity = "INFO",
        dry_run: bool | None = None,
        details: Mapping[str, Any] | None = None,
        flush: bool = False,
    ) -> AuditEnvelope:
        """Buffer one event stamped with the run context; return it.

        Inside an activity (same thread) the event inherits the activity's entity/table (when it
        names neither), layer, source, connection type, activity name and dry-run flag.

        Args:
            operation: Start, End, Fail, Skip, Summary, or a capability's operation name.
            status: Succeeded, Failed, Skipped, Warning, Info ...
            table: ``schema.table`` or `TableRef` (split into SchemaName / TableName).
            entity: the metadata entity (EntityId or name).
            error: an exception or message; becomes ErrorType + a redacted one-line ErrorSummary.
            severity: CRITICAL, HIGH, MEDIUM, LOW or INFO.
            dry_run: True for dry runs.
            details: JSON-able operation details (secret-looking values are scrubbed anyway).
            flush: write now (one commit) instead of waiting for the next flush.

        Returns:
            The buffered `AuditEnvelope`.

        Raises:
            InvalidIdentifierError: ``table`` is not a valid table name.
            StoreError: the row does not fit the table (a bug; never raised for write failures).

        Example:
            >>> # rt.audit.event("CheckpointCreated", table="bronze.account", details={"version": 4})
        """
        fields = _inherit(
            self._fields(table, entity, layer, source, connection_type, activity, dry_run),
            self,
            names_target=entity is not None or table is not None,
        )
        return self._emit(
            operation,
            status,
            fields,
            rows_read=rows_read,
            rows_written=rows_written,
            duration_ms=duration_ms,
            error=error,
            severity=severity,
            details=details,
            flush=flush,
        )

    def _fields(self, table: Any, entity: str | None, *inherited: Any) -> dict[str, Any]:
        """Target and context columns; ``inherited`` in the order of ``_INHERITED``."""
        ref = self._rt.table(table) if table is not None else None
        target = (entity, ref.schema_name if ref else None, ref.table if ref else None)
        return {
            **dict(zip(_TARGET, target, strict=True)),
            **dict(zip(_INHERITED, inherited, strict=True)),
        }

    def skip(
        self,
        *,
        entity: str | None = None,
        table: Any = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> AuditEnvelope:
        """Record that an entity was skipped (Operation Skip, Status Skipped), e.g. already loaded.

        Example:
            >>> # rt.audit.skip(entity="account", reason="already loaded in this run")
        """
        details = dict(kwargs.pop("details", None) or {})
        if reason:
            details["skip_reason"] = reason
        return self.event("Skip", "Skipped", entity=entity, table=table, details=details, **kwargs)

    def _emit(
        self,
        operation: str,
        status: str,
        fields: Mapping[str, Any],
        *,
        rows_read: int | None = None,
        rows_written: int | None = None,
        duration_ms: int | None = None,
        error: BaseException | str | None = None,
        severity: Severity = "INFO",
        details: Mapping[str, Any] | None = None,
        flush: bool = False,
    ) -> AuditEnvelope:
        ctx = self._rt.context
        error_type = error_summary = None
        if isinstance(error, BaseException):
            error_type, error_summary = type(error).__name__, redact(error_text(error))
        elif error:
            error_summary = redact(str(error))
        stamped: dict[str, Any] = {column: getattr(ctx, attr) for column, attr in _CONTEXT.items()}
        stamped.update({k: fields.get(k) for k in _TARGET + _INHERITED})
        env = AuditEnvelope(
            **stamped,
            Operation=operation,
            Status=status,
            RowsRead=rows_read,
            RowsWritten=rows_written,
            DurationMs=duration_ms,
            ErrorType=error_type,
            ErrorSummary=error_summary,
            Severity=severity,
            Details=dict(details or {}),
        )
        row = env.to_row()
        self._buffer.add(row, flush_when_full=False)
        self._remember(row)
        self._to_sinks(env)
        if self._oldest is None:
            self._oldest = time.monotonic()
        if flush:
            self.flush()
        elif (
            len(self._buffer) >= self._buffer.max_rows
            or time.monotonic() - self._oldest >= self.max_age_seconds
        ):
            self._auto_flush()
        return env

    def _auto_flush(self) -> None:
        # after a failed write, automatic flushes wait max_age_seconds: a storage outage must not
        # turn every event into a slow, retried commit attempt (explicit flush() always tries)
        if self._failed_at is None or time.monotonic() - self._failed_at >= self.max_age_seconds:
            self.flush()

    def _safe_event(
        self, operation: str, status: str, fields: Mapping[str, Any], **kwargs: Any
    ) -> bool:
        """Emit for an activity (False when it could not); never replaces the block's own error."""
        try:
            self._emit(operation, status, fields, **kwargs)
            return True
        except Exception as exc:
            self.write_failures += 1
            log.warning(
                "fmd audit: could not record %s event: %s", operation, redact(error_text(exc))
            )
            return False

    def _remember(self, row: Mapping[str, Any]) -> None:
        # what summarize() needs of this run's entity events, before they reach the table
        if entity_key(row["EntityId"], row["SchemaName"], row["TableName"]) is None:
            return
        with self._marks_lock:
            if len(self._marks) < 200_000:
                self._marks[row["EventId"]] = {k: row[k] for k in _MARKED}

    def flush(self, *, retry: bool = True) -> int:
        """Write buffered events in one commit; never raises (failures are logged and counted).

        Transient write conflicts are retried under the ``metadata_write`` policy.

        Args:
            retry: retry transient failures (off at interpreter exit).

        Returns:
            Rows written (0 when nothing was buffered or the write failed; rows stay buffered).
        """
        try:
            if retry and len(self._buffer):
                written = int(
                    retryer("metadata_write", operation="audit flush")(self._buffer.flush)
                )
            else:
                written = self._buffer.flush()
            self._oldest = self._failed_at = None
            return written
        except Exception as exc:  # audit must never hide the caller's own error
            self.write_failures += 1
            self._failed_at = time.monotonic()
            log.warning(
                "fmd audit: could not write %d event(s): %s",
                len(self._buffer),
                redact(error_text(exc)),
            )
            return 0

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""
        return len(self._buffer)

    # -- sinks -----------------------------------------------------------------------------
    def add_sink(self, sink: Callable[[Mapping[str, Any]], None]) -> None:
        """Also send every event (as a JSON-able dict) to ``sink``; sink errors are logged only."""
        with self._sink_lock:
            self._sinks.append(sink)

    def add_jsonl_sink(self, path: str | Path) -> Path:
        """Mirror every event to a JSON-lines file (one object per line, appended as it happens).

        Args:
            path: the file (parent folders are created).

        Returns:
            The file's path.

        Example:
            >>> # rt.audit.add_jsonl_sink("./audit.jsonl")   # or FMD_AUDIT_JSONL=./audit.jsonl
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()

        def write(record: Mapping[str, Any]) -> None:
            line = scrub(to_json(record)) + "\n"
            with lock, target.open("a", encoding="utf-8") as fh:
                fh.write(line)

        self.add_sink(write)
        return target

    def _to_sinks(self, env: AuditEnvelope) -> None:
        if not self._sinks:
            return
        record = env.model_dump(mode="json")
        for sink in list(self._sinks):
            try:
                sink(record)
            except Exception as exc:  # a local mirror must never break the job
                log.warning("fmd audit: sink failed: %s", redact(error_text(exc)))

    # -- activities ------------------------------------------------------------------------
    def activity(
        self,
        name: str,
        *,
        layer: str | None = None,
        entity: str | None = None,
        source: str | None = None,
        table: Any = None,
        connection_type: str | None = None,
        dry_run: bool | None = None,
    ) -> ActivityScope:
        """Audit a block or a function: Start, then End (duration, counts) or Fail (re-raised).

        Fail carries ErrorType and a one-line redacted ErrorSummary; the original exception is
        re-raised unchanged even if the audit write fails. The outermost activity (none open in
        any thread) writes its Start at once (one commit) and flushes the buffer when it ends
        (one commit). Set ``act.skip(reason)`` to end as Skip.

        Args:
            name: the activity name (ActivityName).
            layer, entity, source, table, connection_type, dry_run: what the block works on.

        Returns:
            An `ActivityScope`: ``with`` it (yields an `Activity`) or decorate a function with it.

        Raises:
            InvalidIdentifierError: ``table`` is not a valid table name.

        Example:
            >>> # with rt.audit.activity("LoadBronze", layer="bronze", entity="account") as act:
            >>> #     act.rows_written = write(...)
            >>> # @rt.audit.activity("LoadSilver", layer="silver")
            >>> # def load(): current_activity().rows_written = ...
        """
        fields = self._fields(table, entity, layer, source, connection_type, name, dry_run)
        return ActivityScope(self, fields, names_target=entity is not None or table is not None)

    def _opened(self) -> bool:
        """Count an activity opening; True when it is the outermost (none open in any thread)."""
        with self._open_lock:
            self._open += 1
            return self._open == 1

    def _gate_enter(self, fields: Mapping[str, Any]) -> None:
        gate = self.source_gate
        if gate is not None:
            gate.enter(fields)

    def _gate_leave(self, fields: Mapping[str, Any], error: BaseException | None) -> None:
        gate = self.source_gate
        if gate is None:
            return
        try:
            gate.leave(fields, error)
        except Exception as exc:  # the breaker's bookkeeping never replaces the block's outcome
            log.warning("fmd audit: source gate failed: %s", redact(error_text(exc)))

    def _closed(self) -> None:
        with self._open_lock:
            self._open -= 1
            outermost = self._open <= 0
        if outermost:
            for callback in list(self._on_end):
                try:  # e.g. the ledger rows held during the activity: written before its events
                    callback()
                except Exception as exc:  # the activity's own outcome is never replaced
                    log.warning("fmd audit: end-of-activity callback failed: %s", redact(str(exc)))
            self._auto_flush()

    @property
    def open_activities(self) -> int:
        """Activities open now, in every thread of this runtime (0: none).

        Example:
            >>> # with rt.audit.activity("Load"): rt.audit.open_activities  -> 1
        """
        with self._open_lock:
            return max(self._open, 0)

    def on_outermost_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the outermost activity ends, before the audit flush.

        The run ledger registers here to write the rows it held during the activity in one
        commit; a callback that raises is logged and
        skipped (the activity's outcome stands).

        Args:
            callback: a function of no arguments.

        Example:
            >>> # rt.audit.on_outermost_end(lambda: print("fan-out finished"))
        """
        self._on_end.append(callback)

    # -- summaries -------------------------------------------------------------------------
    def summarize(
        self,
        results: Any = None,
        *,
        name: str | None = None,
        top_n: int = 5,
        flush: bool = True,
    ) -> RunSummary:
        """Write one Summary row for a fan-out and return it as a `RunSummary`; never raises.

        Without ``results`` the entities are derived from this run's events (buffered ones and
        those already in ``SyncAuditLog``), with the same rules as ``vw_RunStatus``.

        Args:
            results: explicit outcomes: `Outcome`s from ``rt.map_tables``, `EntityResult`s, or a
                mapping entity -> None / exception / error text / "Skipped".
            name: the activity summarized (only its events count; also the row's ActivityName).
            top_n: how many failed entities to list with their error summaries.
            flush: write the Summary row (and everything buffered) now.

        Returns:
            The `RunSummary` (``failed_entities`` lists every failed entity, ``top_failed`` the
            first ``top_n`` with errors).

        Example:
            >>> # outcomes = rt.map_tables(load, entities); s = rt.audit.summarize(outcomes, name="Load")
            >>> # print(s.line())
        """
        run_id = self._rt.context.run_id
        try:
            if results is not None:
                entities = entity_results(results)
            else:
                entities = _entities_from_events(self._run_events(), name)
            failed = [e for e in entities if e.status == "Failed"]
            refused = [e.entity for e in entities if e.status == "CircuitOpen"]
            summary = RunSummary(
                run_id=run_id,
                name=name,
                total=len(entities),
                succeeded=sum(e.status == "Succeeded" for e in entities),
                failed=len(failed),
                skipped=sum(e.status == "Skipped" for e in entities),
                running=sum(e.status == "Running" for e in entities),
                circuit_open=len(refused),
                circuit_open_entities=tuple(refused),
                failed_entities=tuple(e.entity for e in failed),
                top_failed=tuple(failed[: max(0, top_n)]),
            )
        except Exception as exc:  # a summary must never fail the job it summarizes
            log.warning("fmd audit: summary failed: %s", redact(error_text(exc)))
            summary = RunSummary(
                run_id=run_id, name=name, note=f"summary incomplete: {type(exc).__name__}"
            )
        try:
            self._emit(
                "Summary",
                summary.status,
                {"ActivityName": name},
                severity="HIGH" if summary.failed or summary.circuit_open else "INFO",
                details=summary.details(),
                flush=flush,
            )
        except Exception as exc:
            self.write_failures += 1
            log.warning("fmd audit: could not record the summary: %s", redact(error_text(exc)))
        return summary

    def _run_events(self) -> list[dict[str, Any]]:
        """This run's entity events: the table's rows merged with the ones not yet written."""
        with self._marks_lock:
            events = {k: dict(v) for k, v in self._marks.items()}
        try:
            cols = list(_MARKED)
            for row in self._rt.store.read(
                "SyncAuditLog", {"RunId": self._rt.context.run_id}, columns=cols
            ):
                events.setdefault(row["EventId"], row)
        except Exception as exc:  # the table may be unreachable; what this process saw still counts
            log.warning("fmd audit: could not read the run's events: %s", redact(error_text(exc)))
        return list(events.values())


_LIVE: weakref.WeakSet[Audit] = weakref.WeakSet()
_EXIT_REGISTERED = False


def _register_exit_flush(audit: Audit) -> None:
    global _EXIT_REGISTERED
    _LIVE.add(audit)
    if not _EXIT_REGISTERED:
        atexit.register(_flush_all)
        _EXIT_REGISTERED = True


def _flush_all() -> None:
    for audit in list(_LIVE):
        audit.flush(retry=False)


__all__ = [
    "LIFECYCLE",
    "RUN_LEVEL",
    "Activity",
    "ActivityScope",
    "Audit",
    "AuditEnvelope",
    "EntityResult",
    "RunSummary",
    "Severity",
    "SourceGate",
    "current_activity",
    "derive_status",
    "entity_key",
    "entity_results",
    "error_text",
    "redact",
]
