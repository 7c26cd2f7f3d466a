"""The audit envelope: every event carries the run context, the entity and an error summary.

Events are buffered and written to ``SyncAuditLog`` in one commit per flush (a Delta commit costs
seconds on Spark): at the end of the outermost activity, on `Audit.flush`, when the buffer is
full, and at interpreter exit. A failure to write audit rows never hides the original error.

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
import logging
import re
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime.store import to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.audit")

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]

_SECRET_PATTERNS = [
    # key=value pairs in connection strings, URLs (SAS `sig=`) and messages
    re.compile(
        r"(?i)\b((?:password|pwd|secret|token|api[_-]?key|apikey|accountkey|sharedaccesskey"
        r"|client[_-]?secret|access[_-]?key|sig)\s*[=:]\s*)([^;&\s,'\"]+)"
    ),
    # bearer tokens
    re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]+=*)"),
    # credentials embedded in URLs: scheme://user:pass@host
    re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(?=@)"),
]


def redact(text: str | None, *, max_length: int = 1000) -> str | None:
    """Remove secrets (passwords, keys, SAS signatures, tokens, URL credentials) and fold to one line.

    Example:
        >>> redact("login failed: Server=x;User Id=u;Password=hunter2;")
        'login failed: Server=x;User Id=u;Password=***;'
    """
    if text is None:
        return None
    out = " ".join(str(text).split())
    for pattern in _SECRET_PATTERNS:
        out = pattern.sub(lambda m: m.group(1) + "***", out)
    return out[:max_length]


class AuditEnvelope(BaseModel):
    """One ``SyncAuditLog`` row. Field names are the table's PascalCase columns."""

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
        """The row as written (Details serialized to JSON)."""
        row = self.model_dump()
        row["Details"] = to_json(self.Details) if self.Details else None
        return row


class Activity:
    """What a block under `Audit.activity` reports: set counts and details before it ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows_read: int | None = None
        self.rows_written: int | None = None
        self.details: dict[str, Any] = {}
        self.status = "Succeeded"


class Audit:
    """The audit capability (``rt.audit``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._buffer = runtime.store.buffer("SyncAuditLog")
        self._depth = threading.local()
        self.write_failures = 0
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

        Args:
            operation: Start, End, Fail, Skip, Summary, or a capability's operation name.
            status: Succeeded, Failed, Skipped, Warning, Info ...
            table: ``schema.table`` or `TableRef` (split into SchemaName / TableName).
            error: an exception or message; becomes ErrorType + a redacted one-line ErrorSummary.
            details: JSON-able operation details (secrets must not be put here).
            flush: write now (one commit) instead of waiting for the next flush.

        Example:
            >>> # rt.audit.event("CheckpointCreated", table="bronze.account", details={"version": 4})
        """
        ctx = self._rt.context
        schema_name = table_name = None
        if table is not None:
            ref = self._rt.table(table)
            schema_name, table_name = ref.schema_name, ref.table
        error_type = error_summary = None
        if isinstance(error, BaseException):
            error_type, error_summary = type(error).__name__, redact(str(error))
        elif error:
            error_summary = redact(str(error))
        env = AuditEnvelope(
            RunId=ctx.run_id,
            ParentRunId=ctx.parent_run_id,
            PipelineRunId=ctx.pipeline_run_id,
            PipelineName=ctx.pipeline_name,
            NotebookName=ctx.notebook_name,
            WorkspaceId=ctx.workspace_id,
            Operation=operation,
            Status=status,
            Layer=layer,
            EntityId=entity,
            SchemaName=schema_name,
            TableName=table_name,
            SourceName=source,
            ConnectionType=connection_type,
            ActivityName=activity,
            RowsRead=rows_read,
            RowsWritten=rows_written,
            DurationMs=duration_ms,
            ErrorType=error_type,
            ErrorSummary=error_summary,
            Severity=severity,
            DryRun=dry_run,
            TriggeredBy=ctx.triggered_by,
            Details=dict(details or {}),
        )
        self._buffer.add(env.to_row(), flush_when_full=False)
        if flush or len(self._buffer) >= self._buffer.max_rows:
            self.flush()
        return env

    def flush(self) -> int:
        """Write buffered events in one commit; never raises (failures are logged and counted).

        Returns:
            Rows written (0 when nothing was buffered or the write failed; rows stay buffered).
        """
        try:
            return self._buffer.flush()
        except Exception as exc:  # audit must never hide the caller's own error
            self.write_failures += 1
            log.warning("fmd audit: could not write %d event(s): %s", len(self._buffer), redact(str(exc)))
            return 0

    # -- activities ------------------------------------------------------------------------
    @contextmanager
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
    ) -> Iterator[Activity]:
        """Audit a block: Start, then End (duration, counts) or Fail (error, re-raised).

        The outermost activity flushes the buffer when it ends.

        Example:
            >>> # with rt.audit.activity("LoadBronze", layer="bronze", entity="account") as act:
            >>> #     act.rows_written = write(...)
        """
        common = dict(
            table=table, entity=entity, layer=layer, source=source, connection_type=connection_type, activity=name, dry_run=dry_run
        )
        act = Activity(name)
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        start = time.perf_counter()
        self.event("Start", "Started", **common)
        try:
            yield act
        except BaseException as exc:
            self.event(
                "Fail",
                "Failed",
                **common,
                rows_read=act.rows_read,
                rows_written=act.rows_written,
                duration_ms=int((time.perf_counter() - start) * 1000),
                error=exc,
                severity="HIGH",
                details=act.details,
            )
            raise
        else:
            self.event(
                "End",
                act.status,
                **common,
                rows_read=act.rows_read,
                rows_written=act.rows_written,
                duration_ms=int((time.perf_counter() - start) * 1000),
                details=act.details,
            )
        finally:
            self._depth.n = depth
            if depth == 0:
                self.flush()


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
        audit.flush()


__all__ = ["Activity", "Audit", "AuditEnvelope", "Severity", "redact"]
