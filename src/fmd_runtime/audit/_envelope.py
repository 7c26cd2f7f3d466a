"""The audit envelope: one ``SyncAuditLog`` row (`AuditEnvelope`), its columns and their groups.

Which columns carry the run context, the target, what an event inherits from its activity, and
what a summary needs (`_CONTEXT`, `_TARGET`, `_INHERITED`, `_MARKED`) are named here once, for
the capability (the facade), the activities (``_activity``) and the summaries (``_summary``).

Example:
    >>> AuditEnvelope(RunId="r1", Operation="Start", Status="Started").entity_key is None
    True
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN
from fmd_runtime.redaction import scrub
from fmd_runtime.store import to_json, utcnow

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]

LIFECYCLE = ("Start", "End", "Fail", "Skip")
# run-level operations: never counted per entity (the same list as sql/views.sql)
RUN_LEVEL = ("Summary", "Alert", "ValidationAlert", "AlertNotification")


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

    model_config = FROZEN

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
