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
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime._text import plural
from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.redaction import redact, scrub
from fmd_runtime.retry import RetryEvent, observe_retries, retryer
from fmd_runtime.store import to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.audit")

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
F = TypeVar("F", bound=Callable[..., Any])

LIFECYCLE = ("Start", "End", "Fail", "Skip")
# run-level operations: never counted per entity (the same list as sql/views.sql)
RUN_LEVEL = ("Summary", "Alert", "ValidationAlert", "AlertNotification")
JSONL_ENV = "FMD_AUDIT_JSONL"


def error_text(exc: BaseException) -> str:
    """An exception's message, never raising (pyspark's ``__str__`` needs a live JVM)."""
    try:
        return str(exc)
    except Exception:
        desc = getattr(exc, "desc", None)
        return str(desc) if desc else " ".join(str(a) for a in getattr(exc, "args", ()))


# -- the envelope --------------------------------------------------------------------------


class AuditEnvelope(BaseModel):
    """One ``SyncAuditLog`` row. Field names are the table's PascalCase columns.

    Run context: EventId, EventTime (UTC), RunId, ParentRunId, PipelineRunId, PipelineName,
    NotebookName, WorkspaceId, TriggeredBy. What happened: Operation (Start, End, Fail, Skip,
    Summary, Alert, or a capability's name such as CheckpointCreated), Status, Severity, DryRun.
    To what: Layer, EntityId, SchemaName, TableName, SourceName, ConnectionType, ActivityName.
    Measures: RowsRead, RowsWritten, DurationMs. Failure: ErrorType, ErrorSummary (one line,
    redacted). Details: a JSON object.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    EventId: str = Field(default_factory=lambda: str(uuid.uuid4()))
    EventTime: datetime = Field(default_factory=utcnow)
    RunId: str
    ParentRunId: str | None = None
    PipelineRunId: str | None = None
    PipelineName: str | None = None
    NotebookName: str | None = None
    WorkspaceId: str | None = None
    Operation: str
    Status: str
    Layer: str | None = None
    EntityId: str | None = None
    SchemaName: str | None = None
    TableName: str | None = None
    SourceName: str | None = None
    ConnectionType: str | None = None
    ActivityName: str | None = None
    RowsRead: int | None = None
    RowsWritten: int | None = None
    DurationMs: int | None = None
    ErrorType: str | None = None
    ErrorSummary: str | None = None
    Severity: Severity = "INFO"
    DryRun: bool | None = None
    TriggeredBy: str | None = None
    Details: dict[str, Any] = Field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """The row as written (Details serialized to JSON, secrets scrubbed)."""
        row = self.model_dump()
        row["Details"] = scrub(to_json(self.Details)) if self.Details else None
        return row

    @property
    def entity_key(self) -> str | None:
        """What the run-status view groups by: EntityId, else ``schema.table``."""
        return entity_key(self.EntityId, self.SchemaName, self.TableName)


def entity_key(entity: str | None, schema: str | None, table: str | None) -> str | None:
    """EntityId, else ``SchemaName.TableName``, else None (the key `vw_RunStatus` groups by)."""
    if entity:
        return entity
    if table:
        return f"{schema}.{table}" if schema else table
    return None


# -- activities ----------------------------------------------------------------------------


class Activity:
    """What a block under `Audit.activity` reports: set counts, status and details before it ends.

    Attributes:
        name: the activity name.
        rows_read / rows_written: counts written on the End event: whole numbers >= 0 (a
            numeric string from a pipeline is parsed), or None. Anything else is refused where
            it is set (`ConfigError` naming the field), so the End/Fail event is always written.
        details: JSON-able details written on the End (or Fail) event; retries are counted here.
        status: End status (``Succeeded``; set ``Warning`` or use `skip`).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._rows_read: int | None = None
        self._rows_written: int | None = None
        self.details: dict[str, Any] = {}
        self.status = "Succeeded"
        self.started: float = time.perf_counter()

    @property
    def rows_read(self) -> int | None:
        """Rows the activity read (RowsRead of its End event)."""
        return self._rows_read

    @rows_read.setter
    def rows_read(self, value: Any) -> None:
        self._rows_read = _row_count(value, "rows_read", self.name)

    @property
    def rows_written(self) -> int | None:
        """Rows the activity wrote (RowsWritten of its End event)."""
        return self._rows_written

    @rows_written.setter
    def rows_written(self, value: Any) -> None:
        self._rows_written = _row_count(value, "rows_written", self.name)

    def skip(self, reason: str | None = None) -> None:
        """End as Skip (Status Skipped) instead of End, e.g. already loaded in this run."""
        self.status = "Skipped"
        if reason:
            self.details["skip_reason"] = reason

    def note_retry(self, event: RetryEvent) -> None:
        """Count a retry of work inside this activity (called by `fmd_runtime.retry`)."""
        self.details["retries"] = int(self.details.get("retries", 0)) + 1
        errors = self.details.setdefault("retry_errors", [])
        if len(errors) < 10:
            errors.append(event.error_type)


_MAX_ROWS = 2**63 - 1  # RowsRead / RowsWritten are bigint


def _row_count(value: Any, field: str, activity: str) -> int | None:
    """A row count as the End event stores it; refused where it is set, naming the field."""
    if value is None:
        return None
    try:
        return int(check_number(value, field, minimum=0, maximum=_MAX_ROWS, integer=True))
    except ConfigError as exc:
        raise ConfigError(f"activity {activity!r}: {exc.message}", hint=exc.hint) from None


_STACK = threading.local()


def _stack() -> list[tuple[Activity, dict[str, Any]]]:
    if not hasattr(_STACK, "items"):
        _STACK.items = []
    items: list[tuple[Activity, dict[str, Any]]] = _STACK.items
    return items


def current_activity() -> Activity | None:
    """The innermost activity open in this thread, or None.

    Example:
        >>> current_activity() is None
        True
    """
    items = _stack()
    return items[-1][0] if items else None


# RunContext attribute of each run-context column, stamped on every event
_CONTEXT = {
    "RunId": "run_id",
    "ParentRunId": "parent_run_id",
    "PipelineRunId": "pipeline_run_id",
    "PipelineName": "pipeline_name",
    "NotebookName": "notebook_name",
    "WorkspaceId": "workspace_id",
    "TriggeredBy": "triggered_by",
}
_TARGET = ("EntityId", "SchemaName", "TableName")
_INHERITED = ("Layer", "SourceName", "ConnectionType", "ActivityName", "DryRun")
# what summarize() needs of each entity event
_MARKED = (
    "EventId",
    "EventTime",
    "Operation",
    "Status",
    *_TARGET,
    "ActivityName",
    "ErrorType",
    "ErrorSummary",
)


def _inherit(fields: dict[str, Any], owner: Audit, *, names_target: bool) -> dict[str, Any]:
    """Fill what the caller left out from the innermost activity of ``owner`` in this thread."""
    outer = next((f for _, f in reversed(_stack()) if f.get("_owner") is owner), None)
    if outer is not None:
        for k in _INHERITED if names_target else _INHERITED + _TARGET:
            if fields.get(k) is None:
                fields[k] = outer.get(k)
    return fields


class ActivityScope:
    """`Audit.activity`'s result: a context manager yielding an `Activity`, and a decorator.

    As a decorator each call of the function is one activity (Start, End/Fail); inside it,
    `current_activity` gives the `Activity` to set counts on.
    """

    def __init__(self, audit: Audit, fields: dict[str, Any], *, names_target: bool) -> None:
        self._audit = audit
        self._fields = fields
        self._names_target = names_target
        self._resolved: dict[str, Any] = fields
        self._act: Activity | None = None

    def __enter__(self) -> Activity:
        self._resolved = fields = _inherit(
            dict(self._fields), self._audit, names_target=self._names_target
        )
        fields["_owner"] = self._audit
        act = self._act = Activity(fields["ActivityName"])
        outermost = self._audit._opened()
        _stack().append((act, fields))
        self._audit._safe_event("Start", "Started", fields)
        if outermost:
            # One commit now: a notebook killed by a timeout (no End, no atexit) still leaves
            # its Start, and vw_RunStatus shows the run as started and never ended. The events
            # inside stay batched until the outermost activity ends.
            self._audit._auto_flush()
        act.started = time.perf_counter()
        return act

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        act = self._act
        assert act is not None
        ms = int((time.perf_counter() - act.started) * 1000)
        kw = dict(rows_read=act.rows_read, rows_written=act.rows_written, duration_ms=ms)
        try:
            if exc is not None:
                op, status, extra = "Fail", "Failed", {"error": exc, "severity": "HIGH"}
            else:
                op = "Skip" if act.status == "Skipped" else "End"
                status, extra = act.status, {}
            if not self._audit._safe_event(
                op, status, self._resolved, **extra, **kw, details=act.details
            ):
                # The activity always ends in the log: without what could not be recorded
                # (an odd status or details), the duration and the error (if any) kept.
                fallback = "Failed" if exc is not None else "Succeeded"
                note = {"audit_note": f"the {op} event's status or details could not be recorded"}
                self._audit._safe_event(
                    op, fallback, self._resolved, **extra, duration_ms=ms, details=note
                )
        finally:
            items = _stack()
            if items and items[-1][0] is act:
                items.pop()
            self._audit._closed()
        return False

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with ActivityScope(self._audit, self._fields, names_target=self._names_target):
                return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]


# -- summaries -----------------------------------------------------------------------------


class EntityResult(BaseModel):
    """The outcome of one entity of a fan-out (what `Audit.summarize` counts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    status: Literal["Succeeded", "Failed", "Skipped", "Running", "Warning", "Info"]
    activity: str | None = None
    error_type: str | None = None
    error_summary: str | None = None


class RunSummary(BaseModel):
    """Totals of a run (or one activity of it) and the first failed entities with their errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    name: str | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    failed_entities: tuple[str, ...] = ()
    top_failed: tuple[EntityResult, ...] = ()
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing is still running."""
        return self.failed == 0 and self.running == 0

    @property
    def status(self) -> str:
        """Failed, Running or Succeeded (the Summary row's Status)."""
        return "Failed" if self.failed else "Running" if self.running else "Succeeded"

    def line(self) -> str:
        """One line for logs and notebook output."""
        entities = plural(self.total, "entity", "entities")
        head = f"{self.name or 'run'} {self.run_id}: {entities}, {self.succeeded} succeeded, "
        head += f"{self.failed} failed, {self.skipped} skipped"
        if self.running:
            head += f", {self.running} running"
        if self.top_failed:
            head += " — " + "; ".join(
                f"{f.entity}: {f.error_type or 'Error'}" for f in self.top_failed
            )
        return head

    def details(self) -> dict[str, Any]:
        """The Summary row's Details."""
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "running": self.running,
            "failed_entities": list(self.failed_entities[:200]),
            "top_failed": [f.model_dump(exclude_none=True) for f in self.top_failed],
            **({"note": self.note} if self.note else {}),
        }


def derive_status(
    *, failures: int, open_activities: int, skips: int, successes: int, warnings: int = 0
) -> str:
    """An entity's status from its events; the same rules as ``vw_RunStatus`` in sql/views.sql.

    Failed if any event failed; Running if an activity started and has not ended; Skipped if it
    was skipped and nothing succeeded; Succeeded if anything ended well; else Warning or Info.

    Example:
        >>> derive_status(failures=0, open_activities=0, skips=0, successes=2)
        'Succeeded'
    """
    if failures:
        return "Failed"
    if open_activities > 0:
        return "Running"
    if skips and not successes:
        return "Skipped"
    if successes:
        return "Succeeded"
    return "Warning" if warnings else "Info"


def _entities_from_events(
    rows: Iterable[Mapping[str, Any]], name: str | None
) -> list[EntityResult]:
    """Group event rows by entity and derive each entity's status (rows in any order)."""
    groups: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["EventTime"], r.get("EventId") or "")):
        key = entity_key(r.get("EntityId"), r.get("SchemaName"), r.get("TableName"))
        op, status = r.get("Operation"), r.get("Status")
        if key is None or op in RUN_LEVEL or name not in (None, r.get("ActivityName")):
            continue
        g = groups.setdefault(
            key, dict.fromkeys(("failures", "starts", "skips", "successes", "warnings"), 0)
        )
        if status == "Failed":
            g["failures"] += 1
            g["last"] = r
        g["starts"] += (op == "Start") - (op in ("End", "Fail", "Skip"))
        g["skips"] += op == "Skip" or status == "Skipped"
        g["successes"] += op == "End" or (op not in LIFECYCLE and status == "Succeeded")
        g["warnings"] += status == "Warning"
    out: list[EntityResult] = []
    order: list[tuple[int, Any]] = []
    for key, g in groups.items():
        last = g.pop("last", None) or {}
        status = derive_status(open_activities=g.pop("starts"), **g)
        out.append(
            EntityResult(
                entity=key,
                status=status,  # type: ignore[arg-type]
                activity=last.get("ActivityName"),
                error_type=last.get("ErrorType"),
                error_summary=last.get("ErrorSummary"),
            )
        )
        order.append((0, last["EventTime"]) if last else (1, len(order)))
    # failed entities in the order they (last) failed, like vw_RunStatus.FailedAt; then the rest
    return [e for _, e in sorted(zip(order, out, strict=True), key=lambda pair: pair[0])]


def entity_results(results: Any) -> list[EntityResult]:
    """Normalize explicit results to `EntityResult`s.

    Args:
        results: `Outcome`s (``rt.map_tables``), `EntityResult`s, or a mapping entity -> None /
            True / "Succeeded" (succeeded), "Skipped", an exception, error text or False (failed).

    Example:
        >>> [r.status for r in entity_results({"a": None, "b": ValueError("x"), "c": "Skipped"})]
        ['Succeeded', 'Failed', 'Skipped']
    """
    return [_entity_result(entity, r) for entity, r in _result_items(results)]


def _result_items(results: Any) -> Iterable[tuple[str | None, Any]]:
    return results.items() if isinstance(results, Mapping) else ((None, r) for r in results)


def _entity_result(entity: str | None, r: Any) -> EntityResult:
    if isinstance(r, EntityResult):
        return r
    error_type = error = None
    if entity is None and hasattr(r, "item"):  # runtime.Outcome
        entity, error_type, error = str(r.item), r.error_type, r.error
        r = False if error is not None else getattr(r, "value", None)
    elif isinstance(r, BaseException):
        error_type, error, r = type(r).__name__, error_text(r), False
    elif isinstance(r, str) and r.lower() not in ("skipped", "succeeded", "ok"):
        error, r = r, False
    name = str(entity)
    if r is False:
        return EntityResult(
            entity=name, status="Failed", error_type=error_type, error_summary=redact(error)
        )
    if (isinstance(r, str) and r.lower() == "skipped") or getattr(r, "skipped", False) is True:
        return EntityResult(entity=name, status="Skipped")
    return EntityResult(entity=name, status="Succeeded")


# -- the capability ------------------------------------------------------------------------


class Audit:
    """The audit capability (``rt.audit``).

    Attributes:
        write_failures: flushes that failed (their rows stay buffered for the next flush).
        max_age_seconds: flush when the oldest buffered event is this old (long jobs stay
            visible); also how long automatic flushes pause after a failed write.
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
        self.write_failures = 0
        self.max_age_seconds = 60.0
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

    def _closed(self) -> None:
        with self._open_lock:
            self._open -= 1
            outermost = self._open <= 0
        if outermost:
            self._auto_flush()

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
            summary = RunSummary(
                run_id=run_id,
                name=name,
                total=len(entities),
                succeeded=sum(e.status == "Succeeded" for e in entities),
                failed=len(failed),
                skipped=sum(e.status == "Skipped" for e in entities),
                running=sum(e.status == "Running" for e in entities),
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
                severity="HIGH" if summary.failed else "INFO",
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


def _note_retry(event: RetryEvent) -> None:
    """Retry observer: the activity open in this thread records the retry (its RetryCount)."""
    act = current_activity()
    if act is not None:
        act.note_retry(event)


observe_retries(_note_retry)


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
    "current_activity",
    "derive_status",
    "entity_key",
    "entity_results",
    "error_text",
    "redact",
]
