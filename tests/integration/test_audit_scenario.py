"""The scripted run of issue 4: 20 entities load into real Delta tables, 3 fail.

The audit table must hold Start/End or Start/Fail for each entity with no null run context, one
Summary row counting 17/3/0 with the failed names, one batched alert, and no secret anywhere,
written in a handful of commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime.audit import RunSummary
from fmd_runtime.engine import Column, arrow_schema
from fmd_runtime.runtime import Runtime

SECRET = "S3cr3t-Sc3nario-Value"
ENTITIES = [f"entity_{i:02d}" for i in range(1, 21)]
FAILING = {
    "entity_04": lambda: ConnectionError(
        f"login to crm failed: Server=tcp:crm;User ID=etl;Password={SECRET};"
    ),
    "entity_11": lambda: ValueError("column Amount: cannot cast 'abc' to decimal(18,2)"),
    "entity_17": lambda: TimeoutError("source query timed out after 600s"),
}
CONTEXT = dict(
    run_id="scenario-run",
    pipeline_run_id="pipe-run-1",
    pipeline_name="Daily Sync",
    notebook_name="nb_load_bronze",
    workspace_id="8f7e6d5c-4b3a-4921-8a7b-6c5d4e3f2a1b",
    triggered_by="scheduler",
)
RUN_CONTEXT = (
    "RunId",
    "ParentRunId",
    "PipelineRunId",
    "PipelineName",
    "NotebookName",
    "WorkspaceId",
    "TriggeredBy",
)
COLUMNS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]


@dataclass
class Scenario:
    rt: Runtime
    summary: RunSummary
    commits: int


def run_scenario(lakehouse: Path, **context: Any) -> Scenario:
    """The daily sync as an operator's notebook would write it."""
    rt = fmd.connect(lakehouse=lakehouse, **{**CONTEXT, **context}, create=True)
    rt.alerts.notifier = None
    rt.store.ensure()
    audit_ref = rt.store.ref("SyncAuditLog")
    before = rt.engine.version(audit_ref)

    def load(entity: str) -> int:
        table = rt.table(f"bronze.{entity}")
        with rt.audit.activity(
            "LoadBronze", layer="bronze", entity=entity, source="crm", table=table
        ) as act:
            n = 10 + ENTITIES.index(entity)
            act.rows_read = n
            if entity in FAILING:
                raise FAILING[entity]()
            data = pa.table(
                {"Id": list(range(n)), "Name": [f"n{i}" for i in range(n)]},
                schema=arrow_schema(COLUMNS),
            )
            rt.engine.write(table, data, mode="overwrite")
            act.rows_written = n
            return n

    with rt.audit.activity("DailySync", layer="bronze"):
        outcomes = rt.map_tables(load, ENTITIES, label="Loading", max_workers=4)
    summary = rt.audit.summarize(name="LoadBronze")
    rt.alerts.table_failures(outcomes, job="Daily Sync")
    rt.audit.flush()
    return Scenario(rt=rt, summary=summary, commits=rt.engine.version(audit_ref) - before)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return run_scenario(tmp_path_factory.mktemp("scenario") / "lakehouse")


def rows_of(s: Scenario) -> list[dict[str, Any]]:
    return s.rt.store.read("SyncAuditLog", {"RunId": "scenario-run"}, order_by="EventTime")


def test_each_entity_has_start_then_end_or_fail(scenario: Scenario) -> None:
    rows = rows_of(scenario)
    for entity in ENTITIES:
        ops = [
            r["Operation"]
            for r in rows
            if r["EntityId"] == entity and r["ActivityName"] == "LoadBronze"
        ]
        assert ops == (["Start", "Fail"] if entity in FAILING else ["Start", "End"]), entity
    ends = [r for r in rows if r["Operation"] == "End" and r["ActivityName"] == "LoadBronze"]
    assert len(ends) == 17 and all(r["RowsWritten"] == r["RowsRead"] for r in ends)
    assert all(r["DurationMs"] is not None for r in ends)
    # the data really landed
    assert scenario.rt.engine.count_rows(scenario.rt.table("bronze.entity_01")).total == 10


def test_no_event_has_a_null_run_context(scenario: Scenario) -> None:
    rows = rows_of(scenario)
    assert len(rows) == 2 + 20 * 2 + 2  # DailySync, 20 entities, Summary, Alert
    for row in rows:
        for column in RUN_CONTEXT:
            assert row[column] is not None, (column, row["Operation"])
    assert {r["ParentRunId"] for r in rows} == {"pipe-run-1"}


def test_failures_carry_type_and_a_redacted_one_line_summary(scenario: Scenario) -> None:
    fails = {r["EntityId"]: r for r in rows_of(scenario) if r["Operation"] == "Fail"}
    assert set(fails) == set(FAILING)
    assert fails["entity_04"]["ErrorType"] == "ConnectionError"
    assert fails["entity_04"]["ErrorSummary"].endswith("Password=***;")
    assert fails["entity_17"]["ErrorType"] == "TimeoutError"
    assert all(r["Severity"] == "HIGH" and "\n" not in r["ErrorSummary"] for r in fails.values())


def test_one_summary_row_counts_17_3_0_with_the_failed_names(scenario: Scenario) -> None:
    s = scenario.summary
    assert (s.total, s.succeeded, s.failed, s.skipped) == (20, 17, 3, 0)
    assert sorted(s.failed_entities) == sorted(FAILING)
    (row,) = [r for r in rows_of(scenario) if r["Operation"] == "Summary"]
    details = json.loads(row["Details"])
    assert (details["succeeded"], details["failed"], details["skipped"]) == (17, 3, 0)
    assert sorted(details["failed_entities"]) == sorted(FAILING)
    assert {f["entity"] for f in details["top_failed"]} == set(FAILING)
    assert (row["Status"], row["Severity"], row["ActivityName"]) == ("Failed", "HIGH", "LoadBronze")


def test_one_batched_alert_for_the_three_failures(scenario: Scenario) -> None:
    (row,) = [r for r in rows_of(scenario) if r["Operation"] == "Alert"]
    details = json.loads(row["Details"])
    assert details["title"] == "[CRITICAL] 3 tables failed in Daily Sync"
    assert sorted(details["tables"]) == sorted(FAILING)


def test_no_secret_reaches_the_audit_table(scenario: Scenario) -> None:
    for row in scenario.rt.store.read("SyncAuditLog"):
        assert SECRET not in json.dumps(row, default=str)


def test_the_whole_run_costs_a_handful_of_commits(scenario: Scenario) -> None:
    # the outer activity's Start (written at once: a killed notebook leaves a trace), its end's
    # flush, the summary's and the alert's: never one per event (44 events)
    assert scenario.commits <= 4
