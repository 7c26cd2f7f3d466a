"""The scripted run of issue 4: 20 entities load into real Delta tables, 3 fail.

The audit table must hold Start/End or Start/Fail for each entity with no null run context, one
Summary row counting 17/3/0 with the failed names, one batched alert, and no secret anywhere,
written in a handful of commits (counted from the audit table's versions). The run happens once
per engine (delta-rs; Spark + Delta under ``-m spark_delta``); the tests read what it recorded.
Threads buffering audit events at once lose none and write one commit per flush.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, run_threads, size

import fmd_runtime as fmd
from fmd_runtime.audit import RunSummary
from fmd_runtime.engine import Column, DeltaEngine, arrow_schema

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
    summary: RunSummary
    commits: int
    rows: list[dict[str, Any]]
    """The run's audit rows (``RunId = scenario-run``) by EventTime."""
    all_rows: list[dict[str, Any]]
    """Every row of the audit table."""
    entity_01_rows: int
    """Rows that landed in ``bronze.entity_01``."""


def run_scenario(engine: DeltaEngine, **context: Any) -> Scenario:
    """The daily sync as an operator's notebook would write it; what it recorded, read back."""
    ctx = {**CONTEXT, **context}
    rt = connect(engine, ctx.pop("run_id"), **ctx)
    rt.alerts.notifier = None
    rt.audit.max_age_seconds = 3600  # no time-based flush: the commit count is the batching's
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
    scenario = Scenario(
        summary=summary,
        commits=rt.engine.version(audit_ref) - before,
        rows=rt.store.read("SyncAuditLog", {"RunId": "scenario-run"}, order_by="EventTime"),
        all_rows=rt.store.read("SyncAuditLog"),
        entity_01_rows=rt.engine.count_rows(rt.table("bronze.entity_01")).total,
    )
    rt.close()
    return scenario


_RUNS: dict[str, Scenario] = {}


@pytest.fixture
def scenario(engine: DeltaEngine) -> Scenario:
    """The scenario's record on this engine: run by the first test that asks, then shared (the
    engine's tables go with that test; the record stays)."""
    if engine.name not in _RUNS:
        _RUNS[engine.name] = run_scenario(engine)
    return _RUNS[engine.name]


def rows_of(s: Scenario) -> list[dict[str, Any]]:
    return s.rows


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
    assert scenario.entity_01_rows == 10


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
    assert scenario.all_rows
    for row in scenario.all_rows:
        assert SECRET not in json.dumps(row, default=str)


def test_the_whole_run_costs_a_handful_of_commits(scenario: Scenario) -> None:
    # the outer activity's Start (written at once: a killed notebook leaves a trace), its end's
    # flush, the summary's and the alert's: never one per event (44 events)
    assert scenario.commits <= 4


def test_threads_buffering_audit_events_lose_none_and_commit_once_per_flush(
    any_rt: fmd.Runtime,
) -> None:
    rt = any_rt
    threads, events = size(rt.engine, 8, 4), size(rt.engine, 50, 10)
    audit_ref = rt.store.ref("SyncAuditLog")
    before = rt.engine.version(audit_ref)

    def worker(t: int) -> None:
        for i in range(events):
            rt.audit.event("Load", entity=f"entity_{t}", details={"i": i})

    run_threads(threads, worker)
    assert rt.audit.pending == threads * events
    assert rt.engine.version(audit_ref) == before  # buffered: nothing written yet
    assert rt.audit.flush() == threads * events
    assert rt.engine.version(audit_ref) == before + 1  # one commit for the whole flush
    rows = rt.store.read("SyncAuditLog", {"Operation": "Load"}, columns=["EventId", "EntityId"])
    assert len(rows) == len({r["EventId"] for r in rows}) == threads * events
    assert {r["EntityId"] for r in rows} == {f"entity_{t}" for t in range(threads)}
