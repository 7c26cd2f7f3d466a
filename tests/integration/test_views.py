"""sql/views.sql and the queries documented in docs/audit.md, executed by the local Spark session.

The test tier has no Delta for Spark, so the audit rows written by the real (delta-rs) store are
saved by Spark as a parquet table ``SyncAuditLog`` in a scratch database, and the ``metadata.``
prefix of the SQL is replaced by that database (the same substitution an operator makes for a
metadata schema other than ``metadata``). Everything else is the SQL text as shipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlviews
from pydantic import BaseModel
from sqlviews import metadata_database, run_query, statements
from test_audit_scenario import ENTITIES, FAILING, SECRET, run_scenario

import fmd_runtime as fmd
from fmd_runtime.audit import _entities_from_events
from fmd_runtime.errors import ContractViolation

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ROOT / "sql" / "views.sql"
DOC = ROOT / "docs" / "audit.md"


class Params(BaseModel):
    entity_id: int
    lakehouse_id: str


def documented_queries() -> dict[str, str]:
    """The named queries of this capability's doc."""
    return sqlviews.documented_queries(DOC)


def query(spark: Any, db: str, name: str, **args: Any) -> list[dict[str, Any]]:
    return run_query(spark, db, documented_queries()[name], **args)


@pytest.fixture(scope="module")
def audit_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from fmd_runtime.engine.deltars import DeltaRsEngine

    lakehouse = tmp_path_factory.mktemp("views") / "lakehouse"
    lakehouse.mkdir()
    run_scenario(DeltaRsEngine(lakehouse))  # scenario-run: 20 entities, 3 failed
    # run-b: one entity still running, one skipped, one succeeded
    b = fmd.connect(lakehouse=lakehouse, run_id="run-b", pipeline_name="Hourly Sync")
    b.audit.event("Start", "Started", entity="x_running", activity="LoadBronze")
    with b.audit.activity("LoadBronze", entity="y_skipped") as act:
        act.skip("already loaded")
    with b.audit.activity("LoadBronze", entity="z_done") as act:
        act.rows_written = 3
    # run-c: refused at the first second by a parameter guard (a run-level failure, no entity)
    c = fmd.connect(lakehouse=lakehouse, run_id="run-c", pipeline_name="Daily Sync")
    with pytest.raises(ContractViolation):
        fmd.guard({"lakehouse_id": "x"}, Params, audit=c)
    # old-run: succeeded ten days ago (shifted below; the envelope always stamps "now")
    old = fmd.connect(lakehouse=lakehouse, run_id="old-run", pipeline_name="Daily Sync")
    with old.audit.activity("LoadBronze", entity="entity_01"):
        pass
    # run-d: a source down: one entity failed, the open circuit refused the next
    d = fmd.connect(lakehouse=lakehouse, run_id="run-d", config={"circuit_failure_threshold": 1})
    d.alerts.notifier = None
    for entity in ("d_failed", "d_refused"):
        with pytest.raises((ConnectionError, fmd.CircuitOpenError)):
            with d.audit.activity("LoadBronze", entity=entity, source="erp_d"):
                raise ConnectionError("connection refused")
    d.close()
    rows = b.store.read("SyncAuditLog")
    for row in rows:
        if row["RunId"] == "old-run":
            row["EventTime"] -= timedelta(days=10)
    return rows


@pytest.fixture(scope="module")
def db(spark: Any, audit_rows: list[dict[str, Any]]) -> Iterator[str]:
    with metadata_database(spark, {"SyncAuditLog": audit_rows}, prefix="fmd_views") as name:
        yield name


def test_views_sql_has_the_audit_section_and_its_views() -> None:
    text = VIEWS.read_text()
    # later sections (rollback) are appended after the audit section's end marker
    assert text.index("Section 1. Audit (SyncAuditLog)") < text.index("End of section 1 (Audit).")
    names = [re.search(r"VIEW\s+metadata\.(\w+)", s).group(1) for s in statements(text)]  # type: ignore[union-attr]
    assert names[:2] == ["vw_RunStatus", "vw_RunOverview"]


def test_docs_list_the_four_questions() -> None:
    assert {"what_failed", "run_failures", "trace_entity", "runs_by_status", "recent_runs"} <= set(
        documented_queries()
    )


def test_what_failed_and_why_in_one_query(spark: Any, db: str) -> None:
    rows = query(spark, db, "what_failed", run_id="scenario-run")
    assert sorted(r["Entity"] for r in rows) == sorted(FAILING)
    by_entity = {r["Entity"]: r for r in rows}
    assert by_entity["entity_04"]["LastErrorType"] == "ConnectionError"
    assert by_entity["entity_04"]["LastError"].endswith("Password=***;")
    assert by_entity["entity_11"]["LastErrorType"] == "ValueError"
    assert by_entity["entity_17"]["LastError"] == "source query timed out after 600s"
    assert {r["FailedActivity"] for r in rows} == {"LoadBronze"}
    assert all(SECRET not in str(r) for r in rows)


def test_run_status_has_one_row_per_entity_with_context(
    spark: Any, db: str, audit_rows: list[dict[str, Any]]
) -> None:
    rows = [
        r.asDict()
        for r in spark.sql(
            f"SELECT * FROM {db}.vw_RunStatus WHERE RunId = 'scenario-run'"
        ).collect()
    ]
    assert sorted(r["Entity"] for r in rows) == sorted(ENTITIES)
    statuses = {r["Entity"]: r["Status"] for r in rows}
    assert sum(s == "Succeeded" for s in statuses.values()) == 17
    assert {e for e, s in statuses.items() if s == "Failed"} == set(FAILING)
    for r in rows:
        for column in (
            "PipelineRunId",
            "ParentRunId",
            "PipelineName",
            "NotebookName",
            "WorkspaceId",
            "TriggeredBy",
        ):
            assert r[column] is not None
        assert r["Layer"] == "bronze" and r["TableName"] == r["Entity"] and r["SourceName"] == "crm"
        assert r["DurationMs"] is not None and r["ElapsedMs"] >= 0
        assert r["FirstEventTime"] <= r["LastEventTime"]
    done = next(r for r in rows if r["Entity"] == "entity_01")
    assert (done["RowsWritten"], done["LastError"]) == (10, None)
    # the view and rt.audit.summarize derive status with the same rules
    python = {
        e.entity: e.status
        for e in _entities_from_events(
            [r for r in audit_rows if r["RunId"] == "scenario-run"], None
        )
    }
    assert python == statuses


def test_running_and_skipped_entities(spark: Any, db: str) -> None:
    rows = spark.sql(
        f"SELECT Entity, Status, RowsWritten FROM {db}.vw_RunStatus WHERE RunId = 'run-b'"
    ).collect()
    assert {r["Entity"]: r["Status"] for r in rows} == {
        "x_running": "Running",
        "y_skipped": "Skipped",
        "z_done": "Succeeded",
    }


def test_entities_an_open_source_circuit_refused_are_counted_apart(
    spark: Any, db: str, audit_rows: list[dict[str, Any]]
) -> None:
    rows = spark.sql(
        f"SELECT Entity, Status, CircuitRefusals FROM {db}.vw_RunStatus WHERE RunId = 'run-d'"
    ).collect()
    found = {r["Entity"]: (r["Status"], r["CircuitRefusals"]) for r in rows}
    assert found == {"d_failed": ("Failed", 0), "d_refused": ("CircuitOpen", 1)}
    python = _entities_from_events([r for r in audit_rows if r["RunId"] == "run-d"], None)
    assert {e.entity: e.status for e in python} == {k: v[0] for k, v in found.items()}
    (run,) = spark.sql(f"SELECT * FROM {db}.vw_RunOverview WHERE RunId = 'run-d'").collect()
    assert (run["RunStatus"], run["Failed"], run["CircuitOpen"]) == ("Failed", 1, 1)


def test_all_failures_of_a_run(spark: Any, db: str) -> None:
    rows = query(spark, db, "run_failures", run_id="scenario-run")
    assert sorted(r["Entity"] for r in rows) == sorted(FAILING)
    assert {r["Operation"] for r in rows} == {"Fail"}
    refused = query(spark, db, "run_failures", run_id="run-c")
    assert [(r["Operation"], r["ErrorType"], r["Entity"]) for r in refused] == [
        ("ContractViolation", "ContractViolation", None)
    ]


def test_trace_one_failed_entity(spark: Any, db: str) -> None:
    rows = query(spark, db, "trace_entity", entity="entity_11")
    assert [(r["Operation"], r["Status"]) for r in rows] == [
        ("Start", "Started"),
        ("Fail", "Failed"),
    ]
    assert {r["RunId"] for r in rows} == {"scenario-run"}
    assert rows[1]["ErrorType"] == "ValueError" and rows[1]["PipelineName"] == "Daily Sync"
    # entity_01 succeeded in every run: nothing to trace
    assert query(spark, db, "trace_entity", entity="entity_01") == []


def test_runs_in_the_last_7_days_by_status(spark: Any, db: str) -> None:
    by_status = {r["RunStatus"]: r for r in query(spark, db, "runs_by_status")}
    # scenario-run (3 entities), run-c (refused by a guard), run-d (1 failed, 1 circuit-refused)
    assert by_status["Failed"]["Runs"] == 3
    assert by_status["Failed"]["FailedEntities"] == 4
    assert by_status["Running"]["Runs"] == 1
    assert "Succeeded" not in by_status  # old-run is 10 days old
    recent = {r["RunId"]: r for r in query(spark, db, "recent_runs")}
    assert set(recent) == {"scenario-run", "run-b", "run-c", "run-d"}
    assert (
        recent["scenario-run"]["Entities"],
        recent["scenario-run"]["Succeeded"],
        recent["scenario-run"]["Failed"],
    ) == (20, 17, 3)
    old = spark.sql(f"SELECT RunStatus FROM {db}.vw_RunOverview WHERE RunId = 'old-run'").collect()
    assert [r["RunStatus"] for r in old] == ["Succeeded"]


# --------------------------------------------------------------------------- killed notebooks


@pytest.fixture(scope="module")
def killed_db(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """killed-run: its outermost activity started and never ended; done-run: the same, ended."""
    lakehouse = tmp_path_factory.mktemp("killed") / "lakehouse"
    lakehouse.mkdir()
    done = fmd.connect(lakehouse=lakehouse, run_id="done-run", pipeline_name="Daily Sync")
    with done.audit.activity("DailySync", layer="bronze"):
        with done.audit.activity("LoadBronze", entity="account"):
            pass
    killed = fmd.connect(lakehouse=lakehouse, run_id="killed-run", pipeline_name="Daily Sync")
    outer = killed.audit.activity("DailySync", layer="bronze")
    outer.__enter__()
    with killed.audit.activity("LoadBronze", entity="account"):
        pass  # buffered: a killed notebook loses it
    # what is in the table when the notebook is killed here, read from a new connection
    rows = fmd.connect(lakehouse=lakehouse, run_id="reader").store.read("SyncAuditLog")
    outer.__exit__(None, None, None)  # this process goes on: close what the test opened
    with metadata_database(spark, {"SyncAuditLog": rows}, prefix="fmd_killed") as name:
        yield name


def test_a_run_started_and_never_ended_is_shown(spark: Any, killed_db: str) -> None:
    rows = [
        r.asDict()
        for r in spark.sql(
            f"SELECT * FROM {killed_db}.vw_RunStatus WHERE RunId = 'killed-run'"
        ).collect()
    ]
    assert len(rows) == 1
    (run,) = rows
    assert (run["Entity"], run["Status"], run["StartedNeverEnded"], run["OpenActivity"]) == (
        None,
        "Running",
        True,
        "DailySync",
    )
    assert run["Layer"] == "bronze" and run["PipelineName"] == "Daily Sync"
    overview = spark.sql(
        f"SELECT RunId, RunStatus, Entities, StartedNeverEnded FROM {killed_db}.vw_RunOverview"
    ).collect()
    assert {
        r["RunId"]: (r["RunStatus"], r["Entities"], r["StartedNeverEnded"]) for r in overview
    } == {
        "killed-run": ("Running", 0, True),
        "done-run": ("Succeeded", 1, False),
    }


def test_an_ended_run_has_entity_rows_only(spark: Any, killed_db: str) -> None:
    rows = spark.sql(
        f"SELECT Entity, Status, StartedNeverEnded, OpenActivity FROM {killed_db}.vw_RunStatus "
        "WHERE RunId = 'done-run'"
    ).collect()
    assert [tuple(r) for r in rows] == [("account", "Succeeded", False, None)]
