-- =================================================================================================
-- fmd_runtime: views over the metadata tables (Spark SQL)
--
-- Run this file in a Fabric Spark notebook (a %%sql cell per statement, or spark.sql for each
-- statement) after the metadata tables exist. Every view is CREATE OR REPLACE: run the whole file
-- again after an upgrade.
--
-- The metadata schema is written `metadata` (RuntimeConfig.metadata_schema). If yours differs,
-- replace every `metadata.` prefix; the tests do exactly that (tests/integration/test_views.py).
--
-- Statements end with a semicolon at the end of a line; sections are independent of each other
-- except where a view names another view of an earlier section.
--
-- Sections:
--   1. Audit      vw_RunStatus, vw_RunOverview       (docs/audit.md; owner: fmd_runtime.audit)
--   2. Rollback   vw_RollbackHistory                 (docs/rollback.md; appended by the rollback
--                                                      capability below section 1)
--   3. Health     vw_HealthReports, vw_HealthFindingsLatest, vw_HealthDaily
--                                                     (docs/health-report.md; owner: fmd_runtime.health)
-- =================================================================================================


-- =================================================================================================
-- Section 1. Audit (SyncAuditLog)
-- =================================================================================================

-- -------------------------------------------------------------------------------------------------
-- vw_RunStatus: the single pane. One row per run and entity.
--
-- Entity is EntityId, else SchemaName.TableName (events with neither, and Summary / Alert rows,
-- are run-level and not listed here), with one exception: a run whose run-level activity (e.g.
-- the notebook's outermost one) started and never ended gets one more row with Entity NULL,
-- Status Running and StartedNeverEnded true. That is a run still going, or a notebook killed by a
-- timeout (its outermost Start is written at once; LastEventTime says since when nothing came).
-- Status is derived from the entity's events, the same rules as fmd_runtime.audit.derive_status:
--   Failed     any event of the entity failed (Fail, or a capability event with Status Failed),
--              other than an open source circuit's refusal (ErrorType CircuitOpenError)
--   CircuitOpen an open source circuit breaker refused it (its only failures are refusals;
--              CircuitRefusals counts them; docs/circuit-breaker.md)
--   Running    an activity started (Start) and has not closed (End / Fail / Skip)
--   Skipped    skipped (Skip) and nothing succeeded
--   Succeeded  an activity ended (End) or a capability event succeeded
--   Warning    only warnings (e.g. ContractBypass); Info otherwise
-- LastError / LastErrorType / FailedActivity / FailedAt come from the entity's last failed event.
-- DurationMs is the longest activity of the entity (the outermost one); ElapsedMs the span from
-- its first to its last event. RowsRead / RowsWritten add up the entity's End events.
-- StartedNeverEnded: an activity started and has not ended (OpenActivity names the last one).
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_RunStatus AS
WITH events AS (
    SELECT
        a.*,
        COALESCE(
            a.EntityId,
            CASE WHEN a.TableName IS NOT NULL THEN CONCAT_WS('.', a.SchemaName, a.TableName) END
        ) AS Entity
    FROM metadata.SyncAuditLog a
    WHERE a.Operation NOT IN ('Summary', 'Alert', 'ValidationAlert', 'AlertNotification')
),
per_entity AS (
    SELECT
        RunId,
        Entity,
        MAX(PipelineRunId) AS PipelineRunId,
        MAX(ParentRunId) AS ParentRunId,
        MAX(PipelineName) AS PipelineName,
        MAX(NotebookName) AS NotebookName,
        MAX(WorkspaceId) AS WorkspaceId,
        MAX(TriggeredBy) AS TriggeredBy,
        MAX_BY(Layer, CASE WHEN Layer IS NOT NULL THEN EventTime END) AS Layer,
        MAX_BY(SchemaName, CASE WHEN TableName IS NOT NULL THEN EventTime END) AS SchemaName,
        MAX_BY(TableName, CASE WHEN TableName IS NOT NULL THEN EventTime END) AS TableName,
        MAX_BY(SourceName, CASE WHEN SourceName IS NOT NULL THEN EventTime END) AS SourceName,
        SUM(CASE WHEN Operation = 'Start' THEN 1 ELSE 0 END) AS Starts,
        MAX_BY(ActivityName, CASE WHEN Operation = 'Start' THEN EventTime END) AS LastStarted,
        SUM(CASE WHEN Operation IN ('End', 'Fail', 'Skip') THEN 1 ELSE 0 END) AS Closes,
        SUM(
            CASE
                WHEN Status = 'Failed' AND COALESCE(ErrorType, '') <> 'CircuitOpenError' THEN 1
                ELSE 0
            END
        ) AS Failures,
        SUM(
            CASE WHEN Status = 'Failed' AND ErrorType = 'CircuitOpenError' THEN 1 ELSE 0 END
        ) AS CircuitRefusals,
        SUM(CASE WHEN Operation = 'Skip' OR Status = 'Skipped' THEN 1 ELSE 0 END) AS Skips,
        SUM(
            CASE
                WHEN Operation = 'End' THEN 1
                WHEN Operation NOT IN ('Start', 'End', 'Fail', 'Skip') AND Status = 'Succeeded' THEN 1
                ELSE 0
            END
        ) AS Successes,
        SUM(CASE WHEN Status = 'Warning' THEN 1 ELSE 0 END) AS Warnings,
        MAX_BY(ActivityName, CASE WHEN Status = 'Failed' THEN EventTime END) AS FailedActivity,
        MAX_BY(ErrorType, CASE WHEN Status = 'Failed' THEN EventTime END) AS LastErrorType,
        MAX_BY(ErrorSummary, CASE WHEN Status = 'Failed' THEN EventTime END) AS LastError,
        MAX(CASE WHEN Status = 'Failed' THEN EventTime END) AS FailedAt,
        SUM(CASE WHEN Operation = 'End' THEN RowsRead END) AS RowsRead,
        SUM(CASE WHEN Operation = 'End' THEN RowsWritten END) AS RowsWritten,
        MAX(CASE WHEN Operation IN ('End', 'Fail', 'Skip') THEN DurationMs END) AS DurationMs,
        MIN(EventTime) AS FirstEventTime,
        MAX(EventTime) AS LastEventTime,
        BOOL_OR(COALESCE(DryRun, FALSE)) AS DryRun
    FROM events
    -- entity events, and the lifecycle events of run-level activities (grouped as Entity NULL)
    WHERE Entity IS NOT NULL OR Operation IN ('Start', 'End', 'Fail', 'Skip')
    GROUP BY RunId, Entity
)
SELECT
    RunId,
    PipelineRunId,
    ParentRunId,
    PipelineName,
    NotebookName,
    WorkspaceId,
    TriggeredBy,
    Entity,
    Layer,
    SchemaName,
    TableName,
    SourceName,
    CASE
        WHEN Failures > 0 THEN 'Failed'
        WHEN CircuitRefusals > 0 THEN 'CircuitOpen'
        WHEN Starts > Closes THEN 'Running'
        WHEN Skips > 0 AND Successes = 0 THEN 'Skipped'
        WHEN Successes > 0 THEN 'Succeeded'
        WHEN Warnings > 0 THEN 'Warning'
        ELSE 'Info'
    END AS Status,
    FailedActivity,
    LastErrorType,
    LastError,
    FailedAt,
    RowsRead,
    RowsWritten,
    DurationMs,
    UNIX_MILLIS(LastEventTime) - UNIX_MILLIS(FirstEventTime) AS ElapsedMs,
    FirstEventTime,
    LastEventTime,
    Failures,
    CircuitRefusals,
    DryRun,
    Starts > Closes AS StartedNeverEnded,
    CASE WHEN Starts > Closes THEN LastStarted END AS OpenActivity
FROM per_entity
WHERE Entity IS NOT NULL OR Starts > Closes;

-- -------------------------------------------------------------------------------------------------
-- vw_RunOverview: one row per run. RunStatus is Failed when an entity failed or a run-level event
-- failed (e.g. a parameter ContractViolation), Running while an entity or a run-level activity
-- started and has not ended (StartedNeverEnded: still running, or killed), else Succeeded.
-- Counts come from vw_RunStatus (entities only); CircuitOpen counts the entities an open source
-- circuit refused (not in Failed; the run is Failed all the same).
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_RunOverview AS
WITH runs AS (
    SELECT
        RunId,
        MAX(PipelineRunId) AS PipelineRunId,
        MAX(PipelineName) AS PipelineName,
        MAX(NotebookName) AS NotebookName,
        MAX(WorkspaceId) AS WorkspaceId,
        MAX(TriggeredBy) AS TriggeredBy,
        MIN(EventTime) AS StartTime,
        MAX(EventTime) AS LastEventTime,
        SUM(
            CASE
                WHEN Status = 'Failed'
                     AND Operation NOT IN ('Summary', 'Alert', 'ValidationAlert', 'AlertNotification')
                THEN 1 ELSE 0
            END
        ) AS FailedEvents,
        BOOL_OR(COALESCE(DryRun, FALSE)) AS DryRun
    FROM metadata.SyncAuditLog
    GROUP BY RunId
),
entities AS (
    SELECT
        RunId,
        SUM(CASE WHEN Entity IS NOT NULL THEN 1 ELSE 0 END) AS Entities,
        SUM(CASE WHEN Entity IS NOT NULL AND Status = 'Succeeded' THEN 1 ELSE 0 END) AS Succeeded,
        SUM(CASE WHEN Entity IS NOT NULL AND Status = 'Failed' THEN 1 ELSE 0 END) AS Failed,
        SUM(CASE WHEN Entity IS NOT NULL AND Status = 'Skipped' THEN 1 ELSE 0 END) AS Skipped,
        SUM(CASE WHEN Entity IS NOT NULL AND Status = 'Running' THEN 1 ELSE 0 END) AS Running,
        SUM(CASE WHEN Entity IS NOT NULL AND Status = 'CircuitOpen' THEN 1 ELSE 0 END) AS CircuitOpen,
        BOOL_OR(StartedNeverEnded) AS StartedNeverEnded
    FROM metadata.vw_RunStatus
    GROUP BY RunId
)
SELECT
    r.RunId,
    r.PipelineRunId,
    r.PipelineName,
    r.NotebookName,
    r.WorkspaceId,
    r.TriggeredBy,
    r.StartTime,
    r.LastEventTime,
    UNIX_MILLIS(r.LastEventTime) - UNIX_MILLIS(r.StartTime) AS ElapsedMs,
    CASE
        WHEN COALESCE(e.Failed, 0) + COALESCE(e.CircuitOpen, 0) > 0 OR r.FailedEvents > 0
        THEN 'Failed'
        WHEN COALESCE(e.StartedNeverEnded, FALSE) THEN 'Running'
        ELSE 'Succeeded'
    END AS RunStatus,
    COALESCE(e.Entities, 0) AS Entities,
    COALESCE(e.Succeeded, 0) AS Succeeded,
    COALESCE(e.Failed, 0) AS Failed,
    COALESCE(e.Skipped, 0) AS Skipped,
    COALESCE(e.Running, 0) AS Running,
    COALESCE(e.CircuitOpen, 0) AS CircuitOpen,
    r.FailedEvents,
    r.DryRun,
    COALESCE(e.StartedNeverEnded, FALSE) AS StartedNeverEnded
FROM runs r
LEFT JOIN entities e ON e.RunId = r.RunId;

-- =================================================================================================
-- End of section 1 (Audit).
-- =================================================================================================


-- =================================================================================================
-- Section 2. Rollback (SyncAuditLog)
-- =================================================================================================

-- -------------------------------------------------------------------------------------------------
-- vw_RollbackHistory: one row per rollback run, dry runs and refusals included (docs/rollback.md).
--
-- Read from the run's latest `Rollback` event: fmd_runtime.rollback writes one per outcome of a run
-- (a plan, a refusal, an execution; a resumed run's last execution wins). RollbackStatus is:
--   Planned           a dry run: validation and impact report only
--   AwaitingApproval  DryRun = false without an approval token: nothing changed
--   Refused           the approval token was missing, not the plan's, or tables changed since
--   Succeeded         every table restored and every post-validation check passed
--   PartiallyFailed   some tables restored; others failed to restore or failed validation
--   Failed            validation refused the checkpoint, or nothing could be restored
-- Tables is the comma-separated scope; FailedTables / Errors (JSON: table -> Delta error) /
-- Message say what failed; QualityScore is the percent of post-validation checks passed.
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_RollbackHistory AS
WITH summaries AS (
    SELECT
        a.*,
        ROW_NUMBER() OVER (PARTITION BY a.RunId ORDER BY a.EventTime DESC, a.EventId DESC) AS rn
    FROM metadata.SyncAuditLog a
    WHERE a.Operation = 'Rollback'
),
spans AS (
    SELECT RunId, MIN(EventTime) AS StartedAt
    FROM metadata.SyncAuditLog
    WHERE Operation LIKE 'Rollback%' OR Operation IN ('TableRestore', 'PostRollbackValidation')
    GROUP BY RunId
)
SELECT
    s.RunId AS RollbackRunId,
    s.PipelineRunId,
    s.PipelineName,
    s.NotebookName,
    s.TriggeredBy,
    COALESCE(p.StartedAt, s.EventTime) AS StartedAt,
    s.EventTime AS FinishedAt,
    get_json_object(s.Details, '$.status') AS RollbackStatus,
    COALESCE(s.DryRun, FALSE) AS DryRun,
    get_json_object(s.Details, '$.checkpoint') AS CheckpointName,
    get_json_object(s.Details, '$.checkpoint_type') AS CheckpointType,
    get_json_object(s.Details, '$.checkpoint_id') AS CheckpointId,
    get_json_object(s.Details, '$.reason') AS Reason,
    get_json_object(s.Details, '$.scope') AS Scope,
    get_json_object(s.Details, '$.tables') AS Tables,
    CAST(get_json_object(s.Details, '$.tables_in_scope') AS INT) AS TablesInScope,
    CAST(get_json_object(s.Details, '$.tables_to_restore') AS INT) AS TablesToRestore,
    CAST(get_json_object(s.Details, '$.succeeded') AS INT) AS TablesSucceeded,
    CAST(get_json_object(s.Details, '$.failed') AS INT) AS TablesFailed,
    CAST(get_json_object(s.Details, '$.skipped') AS INT) AS TablesSkipped,
    NULLIF(get_json_object(s.Details, '$.failed_tables'), '') AS FailedTables,
    get_json_object(s.Details, '$.errors') AS Errors,
    get_json_object(s.Details, '$.failed_checks') AS FailedChecks,
    CAST(get_json_object(s.Details, '$.quality_score') AS DOUBLE) AS QualityScore,
    get_json_object(s.Details, '$.risk') AS Risk,
    CAST(get_json_object(s.Details, '$.rows_changed') AS BIGINT) AS RowsChanged,
    get_json_object(s.Details, '$.pre_checkpoint') AS PreRollbackCheckpoint,
    get_json_object(s.Details, '$.post_checkpoint') AS PostRollbackCheckpoint,
    COALESCE(get_json_object(s.Details, '$.message'), s.ErrorSummary) AS Message,
    s.Severity
FROM summaries s
LEFT JOIN spans p ON p.RunId = s.RunId
WHERE s.rn = 1;

-- =================================================================================================
-- End of section 2 (Rollback).
-- =================================================================================================


-- =================================================================================================
-- Section 3. Health (HealthFindings)
-- =================================================================================================

-- -------------------------------------------------------------------------------------------------
-- vw_HealthReports: one row per health report (the daily report's Source is 'report').
--
-- Read from each report's own row (CheckName 'report.summary'), which every report writes even
-- when it found nothing. ReportStatus is Healthy, Warning (a MEDIUM or LOW finding) or Unhealthy
-- (a CRITICAL or HIGH one); the counts are its findings per severity; HtmlPath is the page under
-- the lakehouse's Files/fmd/health/ (NULL: not written). ReportDate is GeneratedAt's UTC date.
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_HealthReports AS
SELECT
    h.ReportId,
    h.Source,
    h.RunId,
    h.PipelineRunId,
    h.GeneratedAt,
    CAST(h.GeneratedAt AS DATE) AS ReportDate,
    h.WindowStart,
    h.ReportStatus,
    CAST(COALESCE(get_json_object(h.Numbers, '$.counts.CRITICAL'), '0') AS INT) AS CriticalFindings,
    CAST(COALESCE(get_json_object(h.Numbers, '$.counts.HIGH'), '0') AS INT) AS HighFindings,
    CAST(COALESCE(get_json_object(h.Numbers, '$.counts.MEDIUM'), '0') AS INT) AS MediumFindings,
    CAST(COALESCE(get_json_object(h.Numbers, '$.counts.LOW'), '0') AS INT) AS LowFindings,
    CAST(COALESCE(get_json_object(h.Numbers, '$.counts.INFO'), '0') AS INT) AS InfoFindings,
    CAST(get_json_object(h.Numbers, '$.tables') AS INT) AS TablesScanned,
    h.HtmlPath
FROM metadata.HealthFindings h
WHERE h.CheckName = 'report.summary';

-- -------------------------------------------------------------------------------------------------
-- vw_HealthFindingsLatest: the findings of the newest report of each Source (the page's table).
--
-- One row per finding, most severe first (SeverityRank 0 = CRITICAL ... 4 = INFO); the report's
-- own summary row is left out. Table is SchemaName.TableName when the finding names a table.
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_HealthFindingsLatest AS
WITH latest AS (
    SELECT Source, ReportId
    FROM (
        SELECT
            Source,
            ReportId,
            ROW_NUMBER() OVER (PARTITION BY Source ORDER BY GeneratedAt DESC, ReportId DESC) AS rn
        FROM metadata.HealthFindings
        WHERE CheckName = 'report.summary'
    ) r
    WHERE r.rn = 1
)
SELECT
    h.Source,
    h.ReportId,
    h.RunId,
    h.GeneratedAt,
    h.ReportStatus,
    h.CheckName,
    h.Severity,
    CASE h.Severity
        WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4
    END AS SeverityRank,
    h.BlocksRun,
    CASE WHEN h.TableName IS NOT NULL THEN CONCAT_WS('.', h.SchemaName, h.TableName) END AS `Table`,
    h.EntityId,
    h.Message,
    h.Fix,
    h.Numbers,
    h.HtmlPath
FROM metadata.HealthFindings h
JOIN latest l ON l.ReportId = h.ReportId AND l.Source = h.Source
WHERE h.CheckName <> 'report.summary';

-- -------------------------------------------------------------------------------------------------
-- vw_HealthDaily: the platform's health per UTC day and Source, for a trend chart.
--
-- The day's last report gives Status and its counts; Reports counts the reports of the day;
-- WorstStatus is the worst status any report of the day had.
-- -------------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW metadata.vw_HealthDaily AS
WITH ranked AS (
    SELECT
        r.*,
        ROW_NUMBER() OVER (
            PARTITION BY r.Source, r.ReportDate ORDER BY r.GeneratedAt DESC, r.ReportId DESC
        ) AS rn,
        COUNT(*) OVER (PARTITION BY r.Source, r.ReportDate) AS Reports,
        MAX(
            CASE r.ReportStatus WHEN 'Unhealthy' THEN 2 WHEN 'Warning' THEN 1 ELSE 0 END
        ) OVER (PARTITION BY r.Source, r.ReportDate) AS WorstRank
    FROM metadata.vw_HealthReports r
)
SELECT
    Source,
    ReportDate,
    ReportStatus AS Status,
    CASE WorstRank WHEN 2 THEN 'Unhealthy' WHEN 1 THEN 'Warning' ELSE 'Healthy' END AS WorstStatus,
    Reports,
    CriticalFindings,
    HighFindings,
    MediumFindings,
    LowFindings,
    InfoFindings,
    TablesScanned,
    ReportId AS LastReportId,
    GeneratedAt AS LastGeneratedAt,
    HtmlPath
FROM ranked
WHERE rn = 1;

-- =================================================================================================
-- End of section 3 (Health).
-- =================================================================================================
