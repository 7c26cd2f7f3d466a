# Fabric notebook source

# METADATA ********************

# META {
# META   "kernel_info": {
# META     "name": "synapse_pyspark"
# META   },
# META   "dependencies": {}
# META }

# MARKDOWN ********************

# # fmd health: the daily platform health report
#
# Run every morning by the Data Pipeline **Daily Platform Health** (06:00 UTC, after the nightly sync), or by
# hand (see `docs/health-report.md`). Library calls only:
#
# 1. `rt.health.report(...)`: checkpoint freshness and restorability per scope, failed and hung loads of the
#    window, watermark lag, maintenance outcomes, storage per table; each problem a finding with its fix.
# 2. The page (inline SVG charts) is shown below and written under the lakehouse's `Files/fmd/health/`;
#    the findings go to `metadata.HealthFindings` (the Power BI views read it), one alert if Unhealthy.
# 3. The status, the counts and the page's path are the notebook's exit value (JSON), set in the last cell.

# PARAMETERS CELL ********************

# Parameters: a pipeline's base parameters are injected in a cell right after this one.
since_hours = 24  # the window judged: failed and hung loads, maintenance failures (1 to 720 hours)
tables_scope = ""  # "bronze.account,bronze.contact"; empty: every enabled and checkpointed table
verify_restorability = False  # also verify each scope's newest restore target now (slower)
write_findings = True  # write the page under Files/fmd/health/ and the HealthFindings rows
pipeline_run_id = ""  # @pipeline().RunId, stamped on every audit and HealthFindings row
lakehouse = None  # local runs: a lakehouse folder; in Fabric: None (Spark, or /lakehouse/default)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

import fmd_runtime as fmd
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.fabric import display, notebook_exit
from fmd_runtime.health import MAX_SINCE_HOURS

# Pipeline parameters may arrive as strings, and bool("false") is True: parse every parameter
# strictly first, so a bad value stops the run here, before anything is connected or written.
since_hours = check_number(
    since_hours, "since_hours", minimum=1, maximum=MAX_SINCE_HOURS, unit="hours"
)
verify_restorability = strict_bool(verify_restorability, "verify_restorability")
write_findings = strict_bool(write_findings, "write_findings")

rt = fmd.connect(
    lakehouse=lakehouse,
    spark=globals().get("spark") if lakehouse is None else None,
    pipeline_run_id=pipeline_run_id or None,
    pipeline_name="Daily Platform Health" if pipeline_run_id else None,
    notebook_name="fmd_health",
)
rt

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# CELL ********************

report = rt.health.report(
    since_hours=since_hours,
    tables=tables_scope or None,
    verify=verify_restorability,
    write=write_findings,
)
rt.close()
print(report.headline())
display(report)  # the page: findings, charts, every section
exit_text = report.exit_value()

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }

# MARKDOWN ********************

# The exit value is set in the last cell, at the top level: Fabric ignores `notebook.exit` inside
# `try/except`. A pipeline reads it as `@json(activity('Run fmd_health').output.result.exitValue)`.

# CELL ********************

notebook_exit(exit_text)

# METADATA ********************

# META {
# META   "language": "python",
# META   "language_group": "synapse_pyspark"
# META }
