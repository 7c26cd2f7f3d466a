# Fabric notebook source

# METADATA ********************

# META {
# META   "kernel_info": {
# META     "name": "synapse_pyspark"
# META   },
# META   "dependencies": {}
# META }

# MARKDOWN ********************

# # fmd rollback: put tables back to a checkpoint, prove it, record everything
#
# Run by the Data Pipeline **Manual Rollback to Checkpoint** (or by hand; see `docs/rollback.md`).
# Library calls only; every step is audited under one rollback run id.
#
# 0. **Preflight** (`rt.preflight`, read-only): a blocking finding (a table in scope missing or not
#    writable, a placeholder GUID, a missing metadata table ...) stops the notebook before anything is
#    planned.
# 1. **Dry run** (`dry_run=True`, the default): validation (the checkpoint exists, is active, Validated
#    and restorable) and the impact report per table. Nothing changes. The exit value carries the
#    **approval token** of this plan.
# 2. **Execute** (`dry_run=False` with that `approval_token`): PreRollback checkpoint (the undo point),
#    RESTORE of every table to its pinned version, zero-tolerance validation, comparison and validation
#    reports, PostRollback checkpoint. If any table changed since the plan, the token is refused
#    (status `AwaitingApproval` with the new plan's token).
# 3. **Resume** a `PartiallyFailed` rollback: run it again with `rollback_run_id` = its run id; tables
#    already restored are skipped.
#
# The exit value (JSON) is set in the last cell: status `Planned`, `AwaitingApproval`, `Succeeded`,
# `PartiallyFailed` or `Failed`, the run id, the approval token, the tables and the quality score.

# PARAMETERS CELL ********************

# Parameters: a pipeline's base parameters are injected in a cell right after this one.
checkpoint_name = ""  # checkpoint to restore to; empty or "latest": the newest of checkpoint_type
checkpoint_type = ""  # expected type (DailyBatch, PrePurge, Manual ...); empty: any
tables_scope = "All"  # "All" or a comma-separated subset: "bronze.account,bronze.contact"
require_approval = True  # executing needs the approval token of the reviewed plan
approval_token = ""  # the token of the plan you reviewed (a dry run's exit value)
dry_run = True  # True: validation and impact report only; nothing changes
reason = ""  # why, for the audit log and the reports: "INC-123: bad sync flagged accounts deleted"
rollback_run_id = ""  # to resume a PartiallyFailed rollback: its run id (exit value run_id)
pipeline_run_id = ""  # @pipeline().RunId, stamped on every audit row
lakehouse = None  # local runs: a lakehouse folder; in Fabric: None (Spark, or /lakehouse/default)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

import fmd_runtime as fmd
from fmd_runtime.config import strict_bool
from fmd_runtime.fabric import display, notebook_exit

# Pipeline parameters may arrive as strings, and bool("false") is True: parse the flags strictly
# ("true"/"false"/"1"/"0", any case) first, so a bad value stops the run here, before anything
# is connected or written.
require_approval = strict_bool(require_approval, "require_approval")
dry_run = strict_bool(dry_run, "dry_run")

rt = fmd.connect(
    lakehouse=lakehouse,
    spark=globals().get("spark") if lakehouse is None else None,
    run_id=rollback_run_id or None,
    pipeline_run_id=pipeline_run_id or None,
    pipeline_name="Manual Rollback to Checkpoint" if pipeline_run_id else None,
    notebook_name="fmd_rollback",
)
rt

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# MARKDOWN ********************

# Preflight (`docs/preflight.md`), read-only: the metadata tables, the `PipelineConfig` rows (placeholder
# or nil GUIDs, empty required fields), every table in scope (exists, readable, writable by this engine),
# retention against the active checkpoints, engine versions, the alert webhook; one `Preflight` audit event.
# A blocking finding (CRITICAL or HIGH) stops the notebook here with a `PreflightError` naming each
# finding and its fix, as a bad parameter does: no plan is made and nothing is restored, and the pipeline's Notebook activity fails.

# CELL ********************

preflight = rt.preflight(tables=tables_scope)  # "All": every enabled PipelineConfig table
display(preflight)
preflight.assert_ok()

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# MARKDOWN ********************

# Plan (validation + impact report), then, when approved, execute. `run_notebook` never raises for a
# refusal: a refused validation ends `Failed` with the recommended actions, a missing or stale token
# `AwaitingApproval`.

# CELL ********************

run = rt.rollback.run_notebook(
    checkpoint_name=checkpoint_name,
    checkpoint_type=checkpoint_type,
    tables_scope=tables_scope,
    require_approval=require_approval,
    approval_token=approval_token,
    dry_run=dry_run,
    reason=reason,
    progress=print,
)
display(run)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

rt.close()
exit_text = run.exit_value()
exit_text

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# MARKDOWN ********************

# The exit value is set in the last cell, at the top level: Fabric ignores `notebook.exit` inside
# `try/except`. The pipeline reads it as `@json(activity('Run rollback').output.result.exitValue)`.

# CELL ********************

notebook_exit(exit_text)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }
