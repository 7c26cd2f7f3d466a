"""The metadata tables, defined once: names, columns (type, nullability, comment), Z-ORDER columns.

This module is the single source of truth. ``sql/metadata_tables.sql`` is generated from it
(``python -m fmd_runtime.store.ddl > sql/metadata_tables.sql``) and a test fails when they differ.
Column names are PascalCase because operators already query these tables by those names.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fmd_runtime.engine import Column


class TableSchema(BaseModel):
    """One metadata table: its name, comment, columns and the columns maintenance Z-ORDERs by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    comment: str
    columns: tuple[Column, ...]
    zorder_by: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if absent)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in table order."""
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: str, comment: str, *, required: bool = False) -> Column:
    return Column(name=name, type=type_, nullable=not required, comment=comment)


CHECKPOINT_HISTORY = TableSchema(
    name="CheckpointHistory",
    comment="One row per checkpoint (a named restore point over one or many tables). Never deleted.",
    columns=(
        _c("CheckpointId", "string", "Unique id (UUID)", required=True),
        _c(
            "CheckpointName",
            "string",
            "Unique readable name, e.g. bronze_backup_2025-01-15",
            required=True,
        ),
        _c(
            "CheckpointType",
            "string",
            "Daily, DailyBatch, PrePurge, Manual, PreMaintenance, PreRollback, PostRollback",
            required=True,
        ),
        _c(
            "CreatedDate",
            "timestamp",
            "Synchronized point the checkpoint stands for (UTC)",
            required=True,
        ),
        _c("TablesIncluded", "int", "Number of tables pinned", required=True),
        _c("TotalRows", "bigint", "Sum of the pinned versions' rows"),
        _c(
            "ValidationStatus",
            "string",
            "Pending, Validated, Failed or InFlight (loads of its batch still running)",
            required=True,
        ),
        _c("RetentionDate", "date", "Date after which retention may deactivate it", required=True),
        _c("IsActive", "boolean", "False once expired (soft delete)", required=True),
        _c("PipelineRunId", "string", "Pipeline run that created it"),
        _c(
            "ParentCheckpointId",
            "string",
            "Checkpoint this one derives from (PostRollback -> original)",
        ),
        _c("Notes", "string", "Free text"),
        _c("CreatedBy", "string", "Who or what created it"),
        _c("MarkedForDeletion", "boolean", "Allows retention to deactivate a Manual checkpoint"),
        _c("RunId", "string", "fmd run id of the creating run"),
        _c("Scope", "string", "What it covers (table list, schema.* or PipelineConfig)"),
        _c(
            "RestorabilityStatus",
            "string",
            "Restorable, AtRisk, Unrestorable or Unknown (last verify)",
        ),
        _c("LastVerifiedDate", "timestamp", "When restorability was last verified"),
        _c("DeactivatedDate", "timestamp", "When IsActive became false"),
        _c("BatchId", "string", "Batch whose loads the checkpoint waited for (batch checkpoints)"),
        _c("PinWindowStart", "timestamp", "When the first table's version was read (UTC)"),
        _c("PinWindowEnd", "timestamp", "When the last table's version was read (UTC)"),
    ),
    zorder_by=("CheckpointName",),
)

CHECKPOINT_TABLES = TableSchema(
    name="CheckpointTables",
    comment="One row per table in a checkpoint: the exact Delta version pinned and its counts.",
    columns=(
        _c("CheckpointId", "string", "CheckpointHistory.CheckpointId", required=True),
        _c("SchemaName", "string", "Schema of the table", required=True),
        _c("TableName", "string", "Table name", required=True),
        _c("TableVersion", "bigint", "Pinned Delta version", required=True),
        _c("VersionTimestamp", "timestamp", "Commit timestamp of the pinned version (UTC)"),
        _c("TotalRows", "bigint", "Rows in the pinned version"),
        _c(
            "ActiveRows", "bigint", "Rows neither deleted nor purged (tables with tracking columns)"
        ),
        _c("DeletedRows", "bigint", "Rows flagged deleted"),
        _c("PurgedRows", "bigint", "Rows flagged purged"),
        _c("CountSource", "string", "stats (Delta log) or scan"),
        _c("SchemaFingerprint", "string", "SHA-256 of the schema, partitioning and protocol"),
        _c(
            "ManifestDigest",
            "string",
            "SHA-256 of the sorted (path, deletion vector, size) file list",
        ),
        _c("FileCount", "bigint", "Data files in the pinned version"),
        _c("TotalBytes", "bigint", "Bytes of those files"),
        _c("ValidationStatus", "string", "Validated or Failed"),
        _c("ValidationMessage", "string", "Why validation failed, if it did"),
        _c("CreatedDate", "timestamp", "When the row was written"),
        _c("LoadRunId", "string", "Run of the last library load the pinned version reflects"),
        _c("LoadBatchId", "string", "Batch of that load (null: no library load found)"),
        _c("LoadVersion", "bigint", "Version that load committed"),
        _c("LoadTime", "timestamp", "Commit time of that load (UTC)"),
    ),
    zorder_by=("CheckpointId",),
)

SYNC_AUDIT_LOG = TableSchema(
    name="SyncAuditLog",
    comment="The audit envelope: one row per pipeline, copy, notebook or library event.",
    columns=(
        _c("EventId", "string", "Unique id (UUID)", required=True),
        _c("EventTime", "timestamp", "When it happened (UTC)", required=True),
        _c("RunId", "string", "fmd run id (one per notebook / job run)", required=True),
        _c("ParentRunId", "string", "Parent run (the calling pipeline or notebook run)"),
        _c("PipelineRunId", "string", "@pipeline().RunId of the pipeline that ran it"),
        _c("PipelineName", "string", "Pipeline name"),
        _c("NotebookName", "string", "Notebook name"),
        _c("WorkspaceId", "string", "Fabric workspace id"),
        _c(
            "Operation",
            "string",
            "Start, End, Fail, Skip, Summary, CheckpointCreated, TableRestore, Vacuum ...",
            required=True,
        ),
        _c("Status", "string", "Succeeded, Failed, Skipped, Warning, Info ...", required=True),
        _c("Layer", "string", "landing, bronze, silver ..."),
        _c("EntityId", "string", "Metadata entity id or name"),
        _c("SchemaName", "string", "Target schema"),
        _c("TableName", "string", "Target table"),
        _c("SourceName", "string", "Source system / object"),
        _c("ConnectionType", "string", "Source connection type"),
        _c("ActivityName", "string", "Activity (block) name"),
        _c("RowsRead", "bigint", "Rows read"),
        _c("RowsWritten", "bigint", "Rows written"),
        _c("DurationMs", "bigint", "Duration in milliseconds"),
        _c("ErrorType", "string", "Exception type"),
        _c("ErrorSummary", "string", "One-line error, secrets redacted"),
        _c("Severity", "string", "CRITICAL, HIGH, MEDIUM, LOW, INFO", required=True),
        _c("DryRun", "boolean", "True for dry runs"),
        _c("TriggeredBy", "string", "User, schedule or pipeline that triggered the run"),
        _c("Details", "string", "JSON object with operation-specific details"),
    ),
    zorder_by=("RunId", "TableName"),
)

DATA_VALIDATION = TableSchema(
    name="DataValidation",
    comment="One row per validation check result.",
    columns=(
        _c("ValidationId", "string", "Unique id (UUID)", required=True),
        _c("ValidationTime", "timestamp", "When the check ran (UTC)", required=True),
        _c("RunId", "string", "fmd run id", required=True),
        _c(
            "Context",
            "string",
            "CheckpointCreate, CheckpointVerify, PostRollback ...",
            required=True,
        ),
        _c("CheckpointId", "string", "Checkpoint concerned"),
        _c("SchemaName", "string", "Schema"),
        _c("TableName", "string", "Table"),
        _c("CheckName", "string", "Name of the check", required=True),
        _c("ExpectedValue", "string", "Expected value"),
        _c("ActualValue", "string", "Actual value"),
        _c("Tolerance", "double", "Tolerance applied (0 = zero tolerance)"),
        _c("ValidationPassed", "boolean", "Pass / fail", required=True),
        _c("Severity", "string", "CRITICAL, HIGH, MEDIUM, LOW, INFO"),
        _c("Message", "string", "What the result means"),
        _c("Details", "string", "JSON details"),
    ),
    zorder_by=("RunId", "TableName"),
)

PIPELINE_CONFIG = TableSchema(
    name="PipelineConfig",
    comment="Per-table settings: keys, tracking columns, maintenance, retention, drift policy.",
    columns=(
        _c("SchemaName", "string", "Schema", required=True),
        _c("TableName", "string", "Table", required=True),
        _c("Layer", "string", "landing, bronze, silver (defaults to the schema name)"),
        _c("IsEnabled", "boolean", "Included in batch checkpoints and maintenance", required=True),
        _c("PrimaryKey", "string", "Comma-separated key columns"),
        _c("DeletedFlag", "string", "Boolean column marking soft-deleted rows"),
        _c("PurgedFlag", "string", "Boolean column marking purged rows"),
        _c("RelatedTables", "string", "Comma-separated related tables (schema.table)"),
        _c("ForeignKeys", "string", "JSON: {column: 'schema.table.column'} for referential checks"),
        _c("EnableVacuum", "boolean", "VACUUM in weekly maintenance"),
        _c("VacuumRetentionHours", "int", "VACUUM retention (>= floor, default 168)"),
        _c("EnableOptimize", "boolean", "OPTIMIZE in weekly maintenance"),
        _c("OptimizeZOrderColumns", "string", "Comma-separated Z-ORDER columns"),
        _c("UseVOrder", "boolean", "Apply V-Order on OPTIMIZE (Fabric Spark)"),
        _c("CheckpointRetentionDays", "int", "Overrides the checkpoint kind's retention"),
        _c(
            "ValidationTolerance",
            "double",
            "Allowed relative difference in checkpoint checks (0 = zero tolerance)",
        ),
        _c("DriftPolicy", "string", "permissive, additive or strict (default by layer)"),
        _c("DriftWarnOnly", "boolean", "Record and alert drift but never fail"),
        _c("WatermarkColumn", "string", "Incremental cursor column"),
        _c("WatermarkKind", "string", "datetime, date, int, rowversion, string"),
        _c("CompareColumns", "string", "Comma-separated columns a merge compares (default: all)"),
        _c(
            "MaxDeleteShare",
            "double",
            "Merge circuit breaker: most active rows one merge may soft-delete (default 0.10)",
        ),
        _c(
            "MaxChangeRatio",
            "double",
            "Merge circuit breaker: most changes vs the usual volume (default 3.0)",
        ),
        _c("LastPurgeDate", "timestamp", "Last purge recorded"),
        _c("UpdatedDate", "timestamp", "Last change (UTC)"),
        _c("UpdatedBy", "string", "Who changed it"),
        _c("SourceName", "string", "Source system the table is loaded from (circuit breaker key)"),
    ),
    zorder_by=("TableName",),
)

SOURCE_CIRCUIT = TableSchema(
    name="SourceCircuit",
    comment="Source circuit breaker events (Failure, Success, Opened, Probe, Closed, Reset, "
    "Released, Configured); a source's state and settings are derived from them "
    "(fmd_runtime.runs.derive_state).",
    columns=(
        _c("SourceName", "string", "Source system / connection", required=True),
        _c(
            "Operation",
            "string",
            "Failure, Success, Opened, Probe, Closed, Reset, Released, Configured",
            required=True,
        ),
        _c("EntityId", "string", "Entity whose load the event is about"),
        _c("Layer", "string", "Layer loaded"),
        _c("RunId", "string", "fmd run id", required=True),
        _c("PipelineRunId", "string", "@pipeline().RunId"),
        _c("ErrorType", "string", "Exception type (Failure)"),
        _c("ErrorSummary", "string", "One-line error, secrets redacted (Failure)"),
        _c("OpenUntil", "timestamp", "Opened: when one entity may probe the source (UTC)"),
        _c("ProbeId", "string", "EventId of the Probe this outcome answers"),
        _c("EventTime", "timestamp", "When (UTC)", required=True),
        _c("EventId", "string", "Unique id (UUID)", required=True),
        _c("Details", "string", "JSON details (Reset: the reason; Configured: the settings)"),
    ),
    zorder_by=("SourceName",),
)

WATERMARKS = TableSchema(
    name="Watermarks",
    comment="Watermark events per entity (Commit, Reset, Recover, Migrate, RollbackReset); a load's own commit is on its EntityRuns row.",
    columns=(
        _c("EntityId", "string", "Entity (source object) id", required=True),
        _c("Layer", "string", "Layer loaded"),
        _c("SchemaName", "string", "Target schema"),
        _c("TableName", "string", "Target table"),
        _c("Kind", "string", "datetime, date, int, rowversion, string", required=True),
        _c("Operation", "string", "Begin, Commit, Reset, Recover, Migrate", required=True),
        _c("Value", "string", "Canonical watermark value after the event"),
        _c("PreviousValue", "string", "Value before the event"),
        _c("WindowLow", "string", "Low bound of the copy window (Begin)"),
        _c("RunId", "string", "fmd run id", required=True),
        _c("Reason", "string", "Why (resets, migrations)"),
        _c("TableVersion", "bigint", "Target version the committed data landed in"),
        _c("EventTime", "timestamp", "When (UTC)", required=True),
        _c("Invalidated", "boolean", "True when a rollback undid this advance"),
        _c("EventId", "string", "Unique id of the event (UUID)"),
    ),
    zorder_by=("EntityId",),
)

ENTITY_RUNS = TableSchema(
    name="EntityRuns",
    comment="Run ledger: one row per entity load outcome (and the watermark it committed); drives the re-run guard.",
    columns=(
        _c("RunId", "string", "fmd run id", required=True),
        _c("BatchId", "string", "Caller's batch id (defaults to the pipeline run id)"),
        _c("EntityId", "string", "Entity id", required=True),
        _c("Layer", "string", "Layer", required=True),
        _c("SchemaName", "string", "Target schema"),
        _c("TableName", "string", "Target table"),
        _c(
            "Status",
            "string",
            "Succeeded, Failed (Started: rows of earlier versions)",
            required=True,
        ),
        _c("TableVersion", "bigint", "Version written"),
        _c("TxnAppId", "string", "Delta idempotent-write app id"),
        _c("TxnVersion", "bigint", "Delta idempotent-write version (per-entity sequence)"),
        _c("RowsWritten", "bigint", "Rows written"),
        _c("WatermarkValue", "string", "Watermark the load reached"),
        _c("EventTime", "timestamp", "When (UTC)", required=True),
        _c("Invalidated", "boolean", "True when a rollback undid this load"),
        _c("InvalidatedBy", "string", "Rollback run id that invalidated it"),
        _c("Details", "string", "JSON details"),
        _c("EntryId", "string", "Unique id of the ledger row (UUID)"),
        _c("Part", "string", "Slice of the entity a chunked load wrote (null: the whole entity)"),
        _c(
            "WatermarkEvent",
            "string",
            "Commit or Recover: this completion also advanced the watermark (one commit for both)",
        ),
        _c("WatermarkKind", "string", "Kind of WatermarkValue when WatermarkEvent is set"),
        _c("PreviousWatermark", "string", "Watermark before this load advanced it"),
        _c("WindowLow", "string", "Low bound of the load's copy window"),
    ),
    zorder_by=("EntityId", "RunId"),
)

ROLLBACK_STATE_SNAPSHOTS = TableSchema(
    name="RollbackStateSnapshots",
    comment="Pre- and post-rollback state of each table in scope.",
    columns=(
        _c("SnapshotId", "string", "Unique id", required=True),
        _c("RollbackRunId", "string", "Rollback run id", required=True),
        _c("CheckpointId", "string", "Target checkpoint", required=True),
        _c("SnapshotType", "string", "Pre or Post", required=True),
        _c("SchemaName", "string", "Schema", required=True),
        _c("TableName", "string", "Table", required=True),
        _c("TableVersion", "bigint", "Version at snapshot time"),
        _c("TotalRows", "bigint", "Rows"),
        _c("ActiveRows", "bigint", "Active rows"),
        _c("DeletedRows", "bigint", "Deleted rows"),
        _c("PurgedRows", "bigint", "Purged rows"),
        _c("LatestSyncTime", "timestamp", "Latest commit time of the table"),
        _c("SampleKeys", "string", "JSON sample of primary keys"),
        _c("CreatedDate", "timestamp", "When (UTC)", required=True),
    ),
    zorder_by=("RollbackRunId",),
)

ROLLBACK_COMPARISON_REPORTS = TableSchema(
    name="RollbackComparisonReports",
    comment="Key-level comparison of each table before and after a rollback.",
    columns=(
        _c("ReportId", "string", "Unique id", required=True),
        _c("RollbackRunId", "string", "Rollback run id", required=True),
        _c("CheckpointId", "string", "Target checkpoint", required=True),
        _c("SchemaName", "string", "Schema", required=True),
        _c("TableName", "string", "Table", required=True),
        _c("PreVersion", "bigint", "Version before"),
        _c("PostVersion", "bigint", "Version after"),
        _c("RowsBefore", "bigint", "Rows before"),
        _c("RowsAfter", "bigint", "Rows after"),
        _c("RowsRestored", "bigint", "Keys present after but not before"),
        _c("RowsRemoved", "bigint", "Keys present before but not after"),
        _c("RowsUnchanged", "bigint", "Keys present in both with the same state"),
        _c(
            "StateChanges",
            "string",
            "JSON: counts per transition (Active->Deleted, Deleted->Active, ...)",
        ),
        _c("PctRestored", "double", "RowsRestored / RowsAfter * 100"),
        _c("PctRemoved", "double", "RowsRemoved / RowsBefore * 100"),
        _c("Anomalies", "string", "JSON list of anomalies"),
        _c("CreatedDate", "timestamp", "When (UTC)", required=True),
    ),
    zorder_by=("RollbackRunId",),
)

ROLLBACK_VALIDATION_REPORTS = TableSchema(
    name="RollbackValidationReports",
    comment="One report per rollback run: header, pre/post metrics, delta analysis, quality, recommendations.",
    columns=(
        _c("ReportId", "string", "Unique id", required=True),
        _c("RollbackRunId", "string", "Rollback run id", required=True),
        _c("CheckpointId", "string", "Target checkpoint", required=True),
        _c("CheckpointName", "string", "Target checkpoint name"),
        _c("Status", "string", "Succeeded, PartiallyFailed, Failed", required=True),
        _c("ReportTime", "timestamp", "When (UTC)", required=True),
        _c("TriggeredBy", "string", "Who triggered it"),
        _c("Reason", "string", "Why"),
        _c("PipelineRunId", "string", "Pipeline run id"),
        _c("TablesInScope", "int", "Tables in scope"),
        _c("TablesSucceeded", "int", "Tables restored"),
        _c("TablesFailed", "int", "Tables failed"),
        _c("TablesSkipped", "int", "Tables skipped (already at version / resumed)"),
        _c("QualityScore", "double", "Percent of post-validation checks passed"),
        _c("PreMetrics", "string", "JSON"),
        _c("PostMetrics", "string", "JSON"),
        _c("DeltaAnalysis", "string", "JSON"),
        _c("Recommendations", "string", "JSON list"),
        _c("ReportText", "string", "Rendered text report"),
    ),
    zorder_by=("RollbackRunId",),
)

HEALTH_FINDINGS = TableSchema(
    name="HealthFindings",
    comment="One row per finding of a health report (daily report, preflight ...), plus one "
    "report.summary row per report; a report's rows are written in one commit.",
    columns=(
        _c("ReportId", "string", "Unique id of the report (UUID)", required=True),
        _c(
            "Source",
            "string",
            "What produced it: report, preflight, foreign, anomalies",
            required=True,
        ),
        _c("RunId", "string", "fmd run id of the reporting run", required=True),
        _c("PipelineRunId", "string", "@pipeline().RunId of the pipeline that ran it"),
        _c("GeneratedAt", "timestamp", "When the report was generated (UTC)", required=True),
        _c(
            "ReportStatus",
            "string",
            "Healthy, Warning or Unhealthy (the whole report)",
            required=True,
        ),
        _c(
            "CheckName",
            "string",
            "Dotted check name (report.summary: the report's own row)",
            required=True,
        ),
        _c("Severity", "string", "CRITICAL, HIGH, MEDIUM, LOW, INFO", required=True),
        _c("BlocksRun", "boolean", "True for CRITICAL and HIGH", required=True),
        _c("SchemaName", "string", "Schema of the table concerned"),
        _c("TableName", "string", "Table concerned"),
        _c("EntityId", "string", "Entity concerned"),
        _c("Message", "string", "What was found, with the numbers", required=True),
        _c("Fix", "string", "The first step to take"),
        _c("Numbers", "string", "JSON: the measured values and their baseline"),
        _c("ObservedAt", "timestamp", "When the check observed it (UTC)"),
        _c("WindowStart", "timestamp", "Start of the window the report covers (UTC)"),
        _c("HtmlPath", "string", "Where the report's HTML page was written, if it was"),
    ),
    zorder_by=("GeneratedAt", "TableName"),
)

HEALTH_SCANS = TableSchema(
    name="HealthScans",
    comment="Foreign-operation scan high-water marks: one row per table per scan; the latest row is current.",
    columns=(
        _c("SchemaName", "string", "Schema of the table scanned", required=True),
        _c("TableName", "string", "Table scanned", required=True),
        _c(
            "LastVersion",
            "bigint",
            "Newest table version the scan read (the high-water mark)",
            required=True,
        ),
        _c("LastCommitTime", "timestamp", "Commit time of that version (UTC)"),
        _c("FirstVersion", "bigint", "Oldest version the scan read (null: no new commit)"),
        _c("CommitsRead", "int", "History entries the scan read"),
        _c("ForeignOperations", "int", "Operations the library did not make"),
        _c(
            "HarmfulOperations",
            "int",
            "Foreign operations that left a checkpoint AtRisk or Unrestorable",
        ),
        _c("ScannedAt", "timestamp", "When the scan ran (UTC)", required=True),
        _c("RunId", "string", "fmd run id of the scan", required=True),
        _c("Notes", "string", "What was not read (a bounded first scan, a gap) and why"),
    ),
    zorder_by=("TableName",),
)

ALL_TABLES: tuple[TableSchema, ...] = (
    PIPELINE_CONFIG,
    SYNC_AUDIT_LOG,
    DATA_VALIDATION,
    CHECKPOINT_HISTORY,
    CHECKPOINT_TABLES,
    WATERMARKS,
    ENTITY_RUNS,
    ROLLBACK_STATE_SNAPSHOTS,
    ROLLBACK_COMPARISON_REPORTS,
    ROLLBACK_VALIDATION_REPORTS,
    HEALTH_FINDINGS,
    HEALTH_SCANS,
    SOURCE_CIRCUIT,
)

SCHEMAS: dict[str, TableSchema] = {t.name: t for t in ALL_TABLES}

__all__ = [
    "ALL_TABLES",
    "CHECKPOINT_HISTORY",
    "CHECKPOINT_TABLES",
    "DATA_VALIDATION",
    "ENTITY_RUNS",
    "HEALTH_FINDINGS",
    "HEALTH_SCANS",
    "PIPELINE_CONFIG",
    "ROLLBACK_COMPARISON_REPORTS",
    "ROLLBACK_STATE_SNAPSHOTS",
    "ROLLBACK_VALIDATION_REPORTS",
    "SCHEMAS",
    "SOURCE_CIRCUIT",
    "SYNC_AUDIT_LOG",
    "TableSchema",
    "WATERMARKS",
]
