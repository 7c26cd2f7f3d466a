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
-- =================================================================================================


-- =================================================================================================
-- Section 1. Audit (SyncAuditLog)
-- =================================================================================================

-- -------------------------------------------------------------------------------------------------
-- vw_RunStatus: the single pane. One row per run and entity.
--
-- Entity is EntityId, else SchemaName.TableName (events with neither, and Summary / Alert rows,
-- are run-level and not listed here). Status is derived from the entity's events, the same rules
-- as fmd_runtime.audit.derive_status:
--   Failed     any event of the entity failed (Fail, or a capability event with Status Failed)
--   Running    an activity started (Start) and has not closed (End / Fail / Skip)
--   Skipped    skipped (Skip) and nothing succeeded
--   Succeeded  an activity ended (End) or a capability event succeeded
--   Warning    only warnings (e.g. ContractBypass); Info otherwise
-- LastError / LastErrorType / FailedActivity / FailedAt come from the entity's last failed event.
-- DurationMs is the longest activity of the entity (the outermost one); ElapsedMs the span from
-- its first to its last event. RowsRead / RowsWritten add up the entity's End events.
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
        SUM(CASE WHEN Operation IN ('End', 'Fail', 'Skip') THEN 1 ELSE 0 END) AS Closes,
        SUM(CASE WHEN Status = 'Failed' THEN 1 ELSE 0 END) AS Failures,
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
    WHERE Entity IS NOT NULL
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
    DryRun
FROM per_entity;

-- -------------------------------------------------------------------------------------------------
-- vw_RunOverview: one row per run. RunStatus is Failed when an entity failed or a run-level event
-- failed (e.g. a parameter ContractViolation), Running while an entity is running, else
-- Succeeded. Counts come from vw_RunStatus.
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
        COUNT(*) AS Entities,
        SUM(CASE WHEN Status = 'Succeeded' THEN 1 ELSE 0 END) AS Succeeded,
        SUM(CASE WHEN Status = 'Failed' THEN 1 ELSE 0 END) AS Failed,
        SUM(CASE WHEN Status = 'Skipped' THEN 1 ELSE 0 END) AS Skipped,
        SUM(CASE WHEN Status = 'Running' THEN 1 ELSE 0 END) AS Running
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
        WHEN COALESCE(e.Failed, 0) > 0 OR r.FailedEvents > 0 THEN 'Failed'
        WHEN COALESCE(e.Running, 0) > 0 THEN 'Running'
        ELSE 'Succeeded'
    END AS RunStatus,
    COALESCE(e.Entities, 0) AS Entities,
    COALESCE(e.Succeeded, 0) AS Succeeded,
    COALESCE(e.Failed, 0) AS Failed,
    COALESCE(e.Skipped, 0) AS Skipped,
    COALESCE(e.Running, 0) AS Running,
    r.FailedEvents,
    r.DryRun
FROM runs r
LEFT JOIN entities e ON e.RunId = r.RunId;

-- =================================================================================================
-- End of section 1 (Audit).
-- =================================================================================================
