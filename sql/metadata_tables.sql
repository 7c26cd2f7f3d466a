-- Generated from fmd_runtime.store.schemas by `python -m fmd_runtime.store.ddl`. Do not edit.
-- Metadata tables of fmd_runtime in schema `metadata` (Spark SQL, Delta).

CREATE SCHEMA IF NOT EXISTS `metadata`;

CREATE TABLE IF NOT EXISTS `metadata`.`PipelineConfig` (
    `SchemaName` string NOT NULL COMMENT 'Schema',
    `TableName` string NOT NULL COMMENT 'Table',
    `Layer` string COMMENT 'landing, bronze, silver (defaults to the schema name)',
    `IsEnabled` boolean NOT NULL COMMENT 'Included in batch checkpoints and maintenance',
    `PrimaryKey` string COMMENT 'Comma-separated key columns',
    `DeletedFlag` string COMMENT 'Boolean column marking soft-deleted rows',
    `PurgedFlag` string COMMENT 'Boolean column marking purged rows',
    `RelatedTables` string COMMENT 'Comma-separated related tables (schema.table)',
    `ForeignKeys` string COMMENT 'JSON: {column: \'schema.table.column\'} for referential checks',
    `EnableVacuum` boolean COMMENT 'VACUUM in weekly maintenance',
    `VacuumRetentionHours` int COMMENT 'VACUUM retention (>= floor, default 168)',
    `EnableOptimize` boolean COMMENT 'OPTIMIZE in weekly maintenance',
    `OptimizeZOrderColumns` string COMMENT 'Comma-separated Z-ORDER columns',
    `UseVOrder` boolean COMMENT 'Apply V-Order on OPTIMIZE (Fabric Spark)',
    `CheckpointRetentionDays` int COMMENT 'Overrides the checkpoint kind\'s retention',
    `ValidationTolerance` double COMMENT 'Allowed relative difference in checkpoint checks (0 = zero tolerance)',
    `DriftPolicy` string COMMENT 'permissive, additive or strict (default by layer)',
    `DriftWarnOnly` boolean COMMENT 'Record and alert drift but never fail',
    `WatermarkColumn` string COMMENT 'Incremental cursor column',
    `WatermarkKind` string COMMENT 'datetime, date, int, rowversion, string',
    `CompareColumns` string COMMENT 'Comma-separated columns a merge compares (default: all)',
    `MaxDeleteShare` double COMMENT 'Merge circuit breaker: most active rows one merge may soft-delete (default 0.10)',
    `MaxChangeRatio` double COMMENT 'Merge circuit breaker: most changes vs the usual volume (default 3.0)',
    `LastPurgeDate` timestamp COMMENT 'Last purge recorded',
    `UpdatedDate` timestamp COMMENT 'Last change (UTC)',
    `UpdatedBy` string COMMENT 'Who changed it',
    `SourceName` string COMMENT 'Source system the table is loaded from (circuit breaker key)'
) USING DELTA COMMENT 'Per-table settings: keys, tracking columns, maintenance, retention, drift policy.';

CREATE TABLE IF NOT EXISTS `metadata`.`SyncAuditLog` (
    `EventId` string NOT NULL COMMENT 'Unique id (UUID)',
    `EventTime` timestamp NOT NULL COMMENT 'When it happened (UTC)',
    `RunId` string NOT NULL COMMENT 'fmd run id (one per notebook / job run)',
    `ParentRunId` string COMMENT 'Parent run (the calling pipeline or notebook run)',
    `PipelineRunId` string COMMENT '@pipeline().RunId of the pipeline that ran it',
    `PipelineName` string COMMENT 'Pipeline name',
    `NotebookName` string COMMENT 'Notebook name',
    `WorkspaceId` string COMMENT 'Fabric workspace id',
    `Operation` string NOT NULL COMMENT 'Start, End, Fail, Skip, Summary, CheckpointCreated, TableRestore, Vacuum ...',
    `Status` string NOT NULL COMMENT 'Succeeded, Failed, Skipped, Warning, Info ...',
    `Layer` string COMMENT 'landing, bronze, silver ...',
    `EntityId` string COMMENT 'Metadata entity id or name',
    `SchemaName` string COMMENT 'Target schema',
    `TableName` string COMMENT 'Target table',
    `SourceName` string COMMENT 'Source system / object',
    `ConnectionType` string COMMENT 'Source connection type',
    `ActivityName` string COMMENT 'Activity (block) name',
    `RowsRead` bigint COMMENT 'Rows read',
    `RowsWritten` bigint COMMENT 'Rows written',
    `DurationMs` bigint COMMENT 'Duration in milliseconds',
    `ErrorType` string COMMENT 'Exception type',
    `ErrorSummary` string COMMENT 'One-line error, secrets redacted',
    `Severity` string NOT NULL COMMENT 'CRITICAL, HIGH, MEDIUM, LOW, INFO',
    `DryRun` boolean COMMENT 'True for dry runs',
    `TriggeredBy` string COMMENT 'User, schedule or pipeline that triggered the run',
    `Details` string COMMENT 'JSON object with operation-specific details'
) USING DELTA COMMENT 'The audit envelope: one row per pipeline, copy, notebook or library event.';

CREATE TABLE IF NOT EXISTS `metadata`.`DataValidation` (
    `ValidationId` string NOT NULL COMMENT 'Unique id (UUID)',
    `ValidationTime` timestamp NOT NULL COMMENT 'When the check ran (UTC)',
    `RunId` string NOT NULL COMMENT 'fmd run id',
    `Context` string NOT NULL COMMENT 'CheckpointCreate, CheckpointVerify, PostRollback ...',
    `CheckpointId` string COMMENT 'Checkpoint concerned',
    `SchemaName` string COMMENT 'Schema',
    `TableName` string COMMENT 'Table',
    `CheckName` string NOT NULL COMMENT 'Name of the check',
    `ExpectedValue` string COMMENT 'Expected value',
    `ActualValue` string COMMENT 'Actual value',
    `Tolerance` double COMMENT 'Tolerance applied (0 = zero tolerance)',
    `ValidationPassed` boolean NOT NULL COMMENT 'Pass / fail',
    `Severity` string COMMENT 'CRITICAL, HIGH, MEDIUM, LOW, INFO',
    `Message` string COMMENT 'What the result means',
    `Details` string COMMENT 'JSON details'
) USING DELTA COMMENT 'One row per validation check result.';

CREATE TABLE IF NOT EXISTS `metadata`.`CheckpointHistory` (
    `CheckpointId` string NOT NULL COMMENT 'Unique id (UUID)',
    `CheckpointName` string NOT NULL COMMENT 'Unique readable name, e.g. bronze_backup_2025-01-15',
    `CheckpointType` string NOT NULL COMMENT 'Daily, DailyBatch, PrePurge, Manual, PreMaintenance, PreRollback, PostRollback',
    `CreatedDate` timestamp NOT NULL COMMENT 'Synchronized point the checkpoint stands for (UTC)',
    `TablesIncluded` int NOT NULL COMMENT 'Number of tables pinned',
    `TotalRows` bigint COMMENT 'Sum of the pinned versions\' rows',
    `ValidationStatus` string NOT NULL COMMENT 'Pending, Validated, Failed or InFlight (loads of its batch still running)',
    `RetentionDate` date NOT NULL COMMENT 'Date after which retention may deactivate it',
    `IsActive` boolean NOT NULL COMMENT 'False once expired (soft delete)',
    `PipelineRunId` string COMMENT 'Pipeline run that created it',
    `ParentCheckpointId` string COMMENT 'Checkpoint this one derives from (PostRollback -> original)',
    `Notes` string COMMENT 'Free text',
    `CreatedBy` string COMMENT 'Who or what created it',
    `MarkedForDeletion` boolean COMMENT 'Allows retention to deactivate a Manual checkpoint',
    `RunId` string COMMENT 'fmd run id of the creating run',
    `Scope` string COMMENT 'What it covers (table list, schema.* or PipelineConfig)',
    `RestorabilityStatus` string COMMENT 'Restorable, AtRisk, Unrestorable or Unknown (last verify)',
    `LastVerifiedDate` timestamp COMMENT 'When restorability was last verified',
    `DeactivatedDate` timestamp COMMENT 'When IsActive became false',
    `BatchId` string COMMENT 'Batch whose loads the checkpoint waited for (batch checkpoints)',
    `PinWindowStart` timestamp COMMENT 'When the first table\'s version was read (UTC)',
    `PinWindowEnd` timestamp COMMENT 'When the last table\'s version was read (UTC)'
) USING DELTA COMMENT 'One row per checkpoint (a named restore point over one or many tables). Never deleted.';

CREATE TABLE IF NOT EXISTS `metadata`.`CheckpointTables` (
    `CheckpointId` string NOT NULL COMMENT 'CheckpointHistory.CheckpointId',
    `SchemaName` string NOT NULL COMMENT 'Schema of the table',
    `TableName` string NOT NULL COMMENT 'Table name',
    `TableVersion` bigint NOT NULL COMMENT 'Pinned Delta version',
    `VersionTimestamp` timestamp COMMENT 'Commit timestamp of the pinned version (UTC)',
    `TotalRows` bigint COMMENT 'Rows in the pinned version',
    `ActiveRows` bigint COMMENT 'Rows neither deleted nor purged (tables with tracking columns)',
    `DeletedRows` bigint COMMENT 'Rows flagged deleted',
    `PurgedRows` bigint COMMENT 'Rows flagged purged',
    `CountSource` string COMMENT 'stats (Delta log) or scan',
    `SchemaFingerprint` string COMMENT 'SHA-256 of the schema, partitioning and protocol',
    `ManifestDigest` string COMMENT 'SHA-256 of the sorted (path, deletion vector, size) file list',
    `FileCount` bigint COMMENT 'Data files in the pinned version',
    `TotalBytes` bigint COMMENT 'Bytes of those files',
    `ValidationStatus` string COMMENT 'Validated or Failed',
    `ValidationMessage` string COMMENT 'Why validation failed, if it did',
    `CreatedDate` timestamp COMMENT 'When the row was written',
    `LoadRunId` string COMMENT 'Run of the last library load the pinned version reflects',
    `LoadBatchId` string COMMENT 'Batch of that load (null: no library load found)',
    `LoadVersion` bigint COMMENT 'Version that load committed',
    `LoadTime` timestamp COMMENT 'Commit time of that load (UTC)'
) USING DELTA COMMENT 'One row per table in a checkpoint: the exact Delta version pinned and its counts.';

CREATE TABLE IF NOT EXISTS `metadata`.`Watermarks` (
    `EntityId` string NOT NULL COMMENT 'Entity (source object) id',
    `Layer` string COMMENT 'Layer loaded',
    `SchemaName` string COMMENT 'Target schema',
    `TableName` string COMMENT 'Target table',
    `Kind` string NOT NULL COMMENT 'datetime, date, int, rowversion, string',
    `Operation` string NOT NULL COMMENT 'Begin, Commit, Reset, Recover, Migrate',
    `Value` string COMMENT 'Canonical watermark value after the event',
    `PreviousValue` string COMMENT 'Value before the event',
    `WindowLow` string COMMENT 'Low bound of the copy window (Begin)',
    `RunId` string NOT NULL COMMENT 'fmd run id',
    `Reason` string COMMENT 'Why (resets, migrations)',
    `TableVersion` bigint COMMENT 'Target version the committed data landed in',
    `EventTime` timestamp NOT NULL COMMENT 'When (UTC)',
    `Invalidated` boolean COMMENT 'True when a rollback undid this advance',
    `EventId` string COMMENT 'Unique id of the event (UUID)'
) USING DELTA COMMENT 'Watermark events per entity (Commit, Reset, Recover, Migrate, RollbackReset); a load\'s own commit is on its EntityRuns row.';

CREATE TABLE IF NOT EXISTS `metadata`.`EntityRuns` (
    `RunId` string NOT NULL COMMENT 'fmd run id',
    `BatchId` string COMMENT 'Caller\'s batch id (defaults to the pipeline run id)',
    `EntityId` string NOT NULL COMMENT 'Entity id',
    `Layer` string NOT NULL COMMENT 'Layer',
    `SchemaName` string COMMENT 'Target schema',
    `TableName` string COMMENT 'Target table',
    `Status` string NOT NULL COMMENT 'Succeeded, Failed (Started: rows of earlier versions)',
    `TableVersion` bigint COMMENT 'Version written',
    `TxnAppId` string COMMENT 'Delta idempotent-write app id',
    `TxnVersion` bigint COMMENT 'Delta idempotent-write version (per-entity sequence)',
    `RowsWritten` bigint COMMENT 'Rows written',
    `WatermarkValue` string COMMENT 'Watermark the load reached',
    `EventTime` timestamp NOT NULL COMMENT 'When (UTC)',
    `Invalidated` boolean COMMENT 'True when a rollback undid this load',
    `InvalidatedBy` string COMMENT 'Rollback run id that invalidated it',
    `Details` string COMMENT 'JSON details',
    `EntryId` string COMMENT 'Unique id of the ledger row (UUID)',
    `Part` string COMMENT 'Slice of the entity a chunked load wrote (null: the whole entity)',
    `WatermarkEvent` string COMMENT 'Commit or Recover: this completion also advanced the watermark (one commit for both)',
    `WatermarkKind` string COMMENT 'Kind of WatermarkValue when WatermarkEvent is set',
    `PreviousWatermark` string COMMENT 'Watermark before this load advanced it',
    `WindowLow` string COMMENT 'Low bound of the load\'s copy window'
) USING DELTA COMMENT 'Run ledger: one row per entity load outcome (and the watermark it committed); drives the re-run guard.';

CREATE TABLE IF NOT EXISTS `metadata`.`RollbackStateSnapshots` (
    `SnapshotId` string NOT NULL COMMENT 'Unique id',
    `RollbackRunId` string NOT NULL COMMENT 'Rollback run id',
    `CheckpointId` string NOT NULL COMMENT 'Target checkpoint',
    `SnapshotType` string NOT NULL COMMENT 'Pre or Post',
    `SchemaName` string NOT NULL COMMENT 'Schema',
    `TableName` string NOT NULL COMMENT 'Table',
    `TableVersion` bigint COMMENT 'Version at snapshot time',
    `TotalRows` bigint COMMENT 'Rows',
    `ActiveRows` bigint COMMENT 'Active rows',
    `DeletedRows` bigint COMMENT 'Deleted rows',
    `PurgedRows` bigint COMMENT 'Purged rows',
    `LatestSyncTime` timestamp COMMENT 'Latest commit time of the table',
    `SampleKeys` string COMMENT 'JSON sample of primary keys',
    `CreatedDate` timestamp NOT NULL COMMENT 'When (UTC)'
) USING DELTA COMMENT 'Pre- and post-rollback state of each table in scope.';

CREATE TABLE IF NOT EXISTS `metadata`.`RollbackComparisonReports` (
    `ReportId` string NOT NULL COMMENT 'Unique id',
    `RollbackRunId` string NOT NULL COMMENT 'Rollback run id',
    `CheckpointId` string NOT NULL COMMENT 'Target checkpoint',
    `SchemaName` string NOT NULL COMMENT 'Schema',
    `TableName` string NOT NULL COMMENT 'Table',
    `PreVersion` bigint COMMENT 'Version before',
    `PostVersion` bigint COMMENT 'Version after',
    `RowsBefore` bigint COMMENT 'Rows before',
    `RowsAfter` bigint COMMENT 'Rows after',
    `RowsRestored` bigint COMMENT 'Keys present after but not before',
    `RowsRemoved` bigint COMMENT 'Keys present before but not after',
    `RowsUnchanged` bigint COMMENT 'Keys present in both with the same state',
    `StateChanges` string COMMENT 'JSON: counts per transition (Active->Deleted, Deleted->Active, ...)',
    `PctRestored` double COMMENT 'RowsRestored / RowsAfter * 100',
    `PctRemoved` double COMMENT 'RowsRemoved / RowsBefore * 100',
    `Anomalies` string COMMENT 'JSON list of anomalies',
    `CreatedDate` timestamp NOT NULL COMMENT 'When (UTC)'
) USING DELTA COMMENT 'Key-level comparison of each table before and after a rollback.';

CREATE TABLE IF NOT EXISTS `metadata`.`RollbackValidationReports` (
    `ReportId` string NOT NULL COMMENT 'Unique id',
    `RollbackRunId` string NOT NULL COMMENT 'Rollback run id',
    `CheckpointId` string NOT NULL COMMENT 'Target checkpoint',
    `CheckpointName` string COMMENT 'Target checkpoint name',
    `Status` string NOT NULL COMMENT 'Succeeded, PartiallyFailed, Failed',
    `ReportTime` timestamp NOT NULL COMMENT 'When (UTC)',
    `TriggeredBy` string COMMENT 'Who triggered it',
    `Reason` string COMMENT 'Why',
    `PipelineRunId` string COMMENT 'Pipeline run id',
    `TablesInScope` int COMMENT 'Tables in scope',
    `TablesSucceeded` int COMMENT 'Tables restored',
    `TablesFailed` int COMMENT 'Tables failed',
    `TablesSkipped` int COMMENT 'Tables skipped (already at version / resumed)',
    `QualityScore` double COMMENT 'Percent of post-validation checks passed',
    `PreMetrics` string COMMENT 'JSON',
    `PostMetrics` string COMMENT 'JSON',
    `DeltaAnalysis` string COMMENT 'JSON',
    `Recommendations` string COMMENT 'JSON list',
    `ReportText` string COMMENT 'Rendered text report'
) USING DELTA COMMENT 'One report per rollback run: header, pre/post metrics, delta analysis, quality, recommendations.';

CREATE TABLE IF NOT EXISTS `metadata`.`HealthFindings` (
    `ReportId` string NOT NULL COMMENT 'Unique id of the report (UUID)',
    `Source` string NOT NULL COMMENT 'What produced it: report, preflight, foreign, anomalies',
    `RunId` string NOT NULL COMMENT 'fmd run id of the reporting run',
    `PipelineRunId` string COMMENT '@pipeline().RunId of the pipeline that ran it',
    `GeneratedAt` timestamp NOT NULL COMMENT 'When the report was generated (UTC)',
    `ReportStatus` string NOT NULL COMMENT 'Healthy, Warning or Unhealthy (the whole report)',
    `CheckName` string NOT NULL COMMENT 'Dotted check name (report.summary: the report\'s own row)',
    `Severity` string NOT NULL COMMENT 'CRITICAL, HIGH, MEDIUM, LOW, INFO',
    `BlocksRun` boolean NOT NULL COMMENT 'True for CRITICAL and HIGH',
    `SchemaName` string COMMENT 'Schema of the table concerned',
    `TableName` string COMMENT 'Table concerned',
    `EntityId` string COMMENT 'Entity concerned',
    `Message` string NOT NULL COMMENT 'What was found, with the numbers',
    `Fix` string COMMENT 'The first step to take',
    `Numbers` string COMMENT 'JSON: the measured values and their baseline',
    `ObservedAt` timestamp COMMENT 'When the check observed it (UTC)',
    `WindowStart` timestamp COMMENT 'Start of the window the report covers (UTC)',
    `HtmlPath` string COMMENT 'Where the report\'s HTML page was written, if it was'
) USING DELTA COMMENT 'One row per finding of a health report (daily report, preflight ...), plus one report.summary row per report; a report\'s rows are written in one commit.';

CREATE TABLE IF NOT EXISTS `metadata`.`HealthScans` (
    `SchemaName` string NOT NULL COMMENT 'Schema of the table scanned',
    `TableName` string NOT NULL COMMENT 'Table scanned',
    `LastVersion` bigint NOT NULL COMMENT 'Newest table version the scan read (the high-water mark)',
    `LastCommitTime` timestamp COMMENT 'Commit time of that version (UTC)',
    `FirstVersion` bigint COMMENT 'Oldest version the scan read (null: no new commit)',
    `CommitsRead` int COMMENT 'History entries the scan read',
    `ForeignOperations` int COMMENT 'Operations the library did not make',
    `HarmfulOperations` int COMMENT 'Foreign operations that left a checkpoint AtRisk or Unrestorable',
    `ScannedAt` timestamp NOT NULL COMMENT 'When the scan ran (UTC)',
    `RunId` string NOT NULL COMMENT 'fmd run id of the scan',
    `Notes` string COMMENT 'What was not read (a bounded first scan, a gap) and why'
) USING DELTA COMMENT 'Foreign-operation scan high-water marks: one row per table per scan; the latest row is current.';

CREATE TABLE IF NOT EXISTS `metadata`.`SourceCircuit` (
    `SourceName` string NOT NULL COMMENT 'Source system / connection',
    `Operation` string NOT NULL COMMENT 'Failure, Success, Opened, Probe, Closed, Reset, Released, Configured',
    `EntityId` string COMMENT 'Entity whose load the event is about',
    `Layer` string COMMENT 'Layer loaded',
    `RunId` string NOT NULL COMMENT 'fmd run id',
    `PipelineRunId` string COMMENT '@pipeline().RunId',
    `ErrorType` string COMMENT 'Exception type (Failure)',
    `ErrorSummary` string COMMENT 'One-line error, secrets redacted (Failure)',
    `OpenUntil` timestamp COMMENT 'Opened: when one entity may probe the source (UTC)',
    `ProbeId` string COMMENT 'EventId of the Probe this outcome answers',
    `EventTime` timestamp NOT NULL COMMENT 'When (UTC)',
    `EventId` string NOT NULL COMMENT 'Unique id (UUID)',
    `Details` string COMMENT 'JSON details (Reset: the reason; Configured: the settings)'
) USING DELTA COMMENT 'Source circuit breaker events (Failure, Success, Opened, Probe, Closed, Reset, Released, Configured); a source\'s state and settings are derived from them (fmd_runtime.runs.derive_state).';
