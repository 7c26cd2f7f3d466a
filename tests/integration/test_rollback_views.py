"""vw_RollbackHistory (sql/views.sql, section 2) and the queries of docs/rollback.md, run by Spark.

A real history on the embedded engine: a dry run, a refused execution, a partially failed one
resumed under its run id, a validation refusal and a successful one. The metadata rows the store
wrote are saved by the local Spark session as parquet tables in a scratch database (the test tier
has no Delta for Spark) and ``metadata.`` is replaced by that database, as an operator would for
another metadata schema; every statement of sql/views.sql runs as shipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlviews
from sqlviews import metadata_database, run_query, statements
from test_rollback_cli import failing_restore
from test_rollback_scenario import (
    ACCOUNT,
    CHECKPOINT,
    CONTACT,
    DONATION,
    build,
    ops_connect,
)

from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import ApprovalError, RollbackError

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ROOT / "sql" / "views.sql"
DOC = ROOT / "docs" / "rollback.md"
TABLES = (
    "SyncAuditLog",
    "RollbackValidationReports",
    "RollbackComparisonReports",
    "DataValidation",
)


def documented_queries() -> dict[str, str]:
    """The named queries of this capability's doc."""
    return sqlviews.documented_queries(DOC)


def query(spark: Any, db: str, name: str, **args: Any) -> list[dict[str, Any]]:
    return run_query(spark, db, documented_queries()[name], **args)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    lakehouse = tmp_path_factory.mktemp("rollback-views") / "lakehouse"
    lakehouse.mkdir()
    engine = DeltaRsEngine(lakehouse)
    build(engine)
    dry = ops_connect(engine, "h-dry")
    dry.rollback.plan(CHECKPOINT, tables=ACCOUNT)
    dry.close()
    refused = ops_connect(engine, "h-refused")
    plan = refused.rollback.plan(CHECKPOINT)
    with pytest.raises(ApprovalError):
        refused.rollback.execute(plan, "rb-wrong", reason="typo")
    refused.close()
    invalid = ops_connect(engine, "h-invalid")
    with pytest.raises(RollbackError):
        invalid.rollback.plan("no_such_checkpoint")
    invalid.close()
    part = ops_connect(failing_restore(lakehouse), "h-part")
    plan = part.rollback.plan(CHECKPOINT)
    assert part.rollback.execute(plan, plan.approval_token, reason="INC-1").status == (
        "PartiallyFailed"
    )
    part.close()
    resumed = ops_connect(engine, "h-part")
    plan = resumed.rollback.plan(CHECKPOINT)
    assert resumed.rollback.execute(plan, plan.approval_token, reason="INC-1").status == (
        "Succeeded"
    )
    resumed.close()
    return {name: resumed.store.read(name) for name in TABLES}


@pytest.fixture(scope="module")
def db(spark: Any, history: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    with metadata_database(spark, history, prefix="fmd_rb_views") as name:
        yield name


def test_views_sql_has_the_rollback_section_after_the_audit_one() -> None:
    text = VIEWS.read_text()
    assert text.index("End of section 1 (Audit).") < text.index("Section 2. Rollback")
    names = [re.search(r"VIEW\s+metadata\.(\w+)", s).group(1) for s in statements(text)]  # type: ignore[union-attr]
    # the rollback view is the last of its section: every audit view comes before it, and the
    # sections after it (health) start only once section 2 has ended
    assert names.index("vw_RollbackHistory") > max(
        names.index(v) for v in names if v.startswith("vw_Run")
    )
    end = text.index("End of section 2 (Rollback).")
    assert text.index("VIEW metadata.vw_RollbackHistory") < end
    assert all(
        text.index(f"VIEW metadata.{v}") > end
        for v in names[names.index("vw_RollbackHistory") + 1 :]
    )


def test_one_row_per_rollback_run_with_its_outcome(spark: Any, db: str) -> None:
    rows = {
        r["RollbackRunId"]: r.asDict()
        for r in spark.sql(f"SELECT * FROM {db}.vw_RollbackHistory").collect()
    }
    assert set(rows) == {"h-dry", "h-refused", "h-invalid", "h-part"}
    assert rows["h-dry"]["RollbackStatus"] == "Planned" and rows["h-dry"]["DryRun"]
    assert rows["h-dry"]["Tables"] == ACCOUNT and rows["h-dry"]["Risk"] == "High"
    assert rows["h-refused"]["RollbackStatus"] == "Refused"
    assert "does not match" in rows["h-refused"]["Message"]
    assert rows["h-invalid"]["RollbackStatus"] == "Failed"
    assert rows["h-invalid"]["CheckpointName"] == "no_such_checkpoint"
    done = rows["h-part"]  # the resumed execution is the run's last word
    assert done["RollbackStatus"] == "Succeeded" and not done["DryRun"]
    assert done["QualityScore"] == 100.0 and done["TablesSucceeded"] == 1
    assert done["TablesSkipped"] == 2 and done["FailedTables"] is None
    assert done["TriggeredBy"] == "ops@example.org" and done["PipelineRunId"] == "pipe-h-part"
    assert done["Reason"] == "INC-1" and done["CheckpointType"] == "DailyBatch"
    assert done["PreRollbackCheckpoint"] and done["PostRollbackCheckpoint"]
    assert done["StartedAt"] < done["FinishedAt"]


def test_documented_queries(spark: Any, db: str) -> None:
    queries = documented_queries()
    assert {"rollbacks_last_30_days", "rollbacks_of_table", "failed_rollbacks"} <= set(queries)
    recent = query(spark, db, "rollbacks_last_30_days")
    assert {r["RollbackRunId"] for r in recent} == {"h-dry", "h-refused", "h-invalid", "h-part"}

    account = {
        r["RollbackRunId"]: r for r in query(spark, db, "rollbacks_of_table", table_name=ACCOUNT)
    }
    assert set(account) == {"h-dry", "h-refused", "h-part"}
    assert account["h-dry"]["TableOutcome"] == "NotExecuted"
    assert account["h-part"]["TableOutcome"] == "Resumed"  # restored by the first attempt
    contact = {
        r["RollbackRunId"]: r for r in query(spark, db, "rollbacks_of_table", table_name=CONTACT)
    }
    assert (
        contact["h-part"]["TableOutcome"] == "Restored" and contact["h-part"]["TableError"] is None
    )
    assert contact["h-part"]["FromVersion"] > contact["h-part"]["ToVersion"]

    failed = {r["RollbackRunId"]: r for r in query(spark, db, "failed_rollbacks")}
    assert set(failed) == {"h-refused", "h-invalid"}
    assert "does not exist" in failed["h-invalid"]["Message"]

    trend = query(spark, db, "rollback_trend")
    assert sum(r["Runs"] for r in trend) == 4 and sum(r["Succeeded"] for r in trend) == 1

    reports = query(spark, db, "validation_reports_30_days")
    assert [(r["RollbackRunId"], r["Status"]) for r in reports] == [
        ("h-part", "Succeeded"),
        ("h-part", "PartiallyFailed"),
    ]
    checks = query(spark, db, "failed_validations")
    assert {(r["RollbackRunId"], r["TableName"], r["CheckName"]) for r in checks} == {
        ("h-part", "contact", "RestoredToCheckpoint")
    }
    comparison = query(spark, db, "comparison_of_run", run_id="h-part")
    by_table = {f"{r['SchemaName']}.{r['TableName']}": r for r in comparison}
    assert set(by_table) == {ACCOUNT, CONTACT, DONATION}
    assert json.loads(by_table[ACCOUNT]["StateChanges"]) == {"Deleted->Active": 24}
