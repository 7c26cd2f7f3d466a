# Fabric notebook source

# METADATA ********************

# META {
# META   "kernel_info": {
# META     "name": "synapse_pyspark"
# META   },
# META   "dependencies": {}
# META }

# MARKDOWN ********************

# # fmd maintenance: VACUUM / OPTIMIZE that never breaks recovery
#
# Run weekly by the Data Pipeline **Weekly Delta Lake Maintenance** (Sunday 02:00 UTC), or by hand for an
# emergency run (see `docs/maintenance.md`). Library calls only:
#
# 0. `rt.preflight(...)`: read-only checks of the lakehouse; a blocking finding stops the run before
#    anything is planned or changed.
# 1. `rt.maintenance.plan(...)`: per table what runs, with which retention and why; the files of every
#    active checkpoint are proved safe from VACUUM before anything is deleted.
# 2. `rt.maintenance.run(plan, dry_run=...)`: a dry run reports only; otherwise VACUUM then OPTIMIZE per
#    table, checkpoint retention enforced, alerts on failures.
# 3. The summary is the notebook's exit value (JSON), set in the last cell.

# PARAMETERS CELL ********************

# Parameters: a pipeline's base parameters are injected in a cell right after this one.
dry_run = True  # True: report only; False: VACUUM / OPTIMIZE for real
tables_scope = ""  # "bronze.account,bronze.contact"; empty: every enabled PipelineConfig table
include_metadata_tables = True  # also maintain the metadata tables (at least 720 hours retention)
min_retention_hours = 168  # VACUUM keeps at least this many hours; below the floor is refused
pre_maintenance_checkpoint = False  # take a PreMaintenance checkpoint before changing anything
expected_duration_minutes = 120  # alert when the run takes longer
pipeline_run_id = ""  # @pipeline().RunId, stamped on every audit row
lakehouse = None  # local runs: a lakehouse folder; in Fabric: None (Spark, or /lakehouse/default)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

import fmd_runtime as fmd
from fmd_runtime.config import MAX_RETENTION_HOURS, check_number, strict_bool
from fmd_runtime.fabric import display, exit_value, notebook_exit

# Pipeline parameters may arrive as strings, and bool("false") is True: parse every parameter
# strictly first, so a bad value stops the run here, before anything is connected or written.
dry_run = strict_bool(dry_run, "dry_run")
include_metadata_tables = strict_bool(include_metadata_tables, "include_metadata_tables")
pre_maintenance_checkpoint = strict_bool(pre_maintenance_checkpoint, "pre_maintenance_checkpoint")
min_retention_hours = check_number(
    min_retention_hours, "min_retention_hours", minimum=0, maximum=MAX_RETENTION_HOURS,
    unit="hours", integer=True,
)
expected_duration_minutes = check_number(
    expected_duration_minutes, "expected_duration_minutes", minimum=1, unit="minutes"
)

rt = fmd.connect(
    lakehouse=lakehouse,
    spark=globals().get("spark") if lakehouse is None else None,
    pipeline_run_id=pipeline_run_id or None,
    pipeline_name="Weekly Delta Lake Maintenance" if pipeline_run_id else None,
    notebook_name="fmd_maintenance",
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
# finding and its fix, as a bad parameter does: nothing is planned, vacuumed or optimized, and the pipeline's Notebook activity fails.

# CELL ********************

preflight = rt.preflight(tables=tables_scope or None)
display(preflight)
preflight.assert_ok()

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

plan = rt.maintenance.plan(
    tables_scope or None,
    include_metadata_tables=include_metadata_tables,
    min_retention_hours=min_retention_hours or None,
)
display(plan)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

result = rt.maintenance.run(
    plan,
    dry_run=dry_run,
    pre_checkpoint=pre_maintenance_checkpoint,
    expected_duration_minutes=expected_duration_minutes,
)
rt.close()
display(result)
exit_text = exit_value(result)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# MARKDOWN ********************

# The exit value is set in the last cell, at the top level: Fabric ignores `notebook.exit` inside
# `try/except`. A pipeline reads it as `@json(activity('Run fmd_maintenance').output.result.exitValue)`.

# CELL ********************

notebook_exit(exit_text)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }
