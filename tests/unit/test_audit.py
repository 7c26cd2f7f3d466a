"""The audit envelope, activities (context manager and decorator), buffering and summaries.

Everything runs on real Delta tables (delta-rs in a temporary lakehouse). Commit counts are read
from the SyncAuditLog table's own history.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import fmd_runtime as fmd
from fmd_runtime.audit import (
    AuditEnvelope,
    EntityResult,
    current_activity,
    derive_status,
    entity_results,
)
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import EngineError
from fmd_runtime.runtime import Runtime
from fmd_runtime.testing import FaultyEngine

CONTEXT = dict(
    run_id="run-42",
    pipeline_run_id="pipe-7",
    pipeline_name="Daily Sync",
    notebook_name="nb_load_bronze",
    workspace_id="ws-1",
    triggered_by="scheduler",
)
RUN_CONTEXT_COLUMNS = (
    "RunId",
    "ParentRunId",
    "PipelineRunId",
    "PipelineName",
    "NotebookName",
    "WorkspaceId",
    "TriggeredBy",
)


@pytest.fixture
def full(lakehouse: Path) -> Runtime:
    runtime = fmd.connect(lakehouse=lakehouse, **CONTEXT)
    yield runtime
    runtime.close()


def audit_rows(runtime: Runtime) -> list[dict[str, Any]]:
    return runtime.store.read("SyncAuditLog", order_by="EventTime")


def audit_version(runtime: Runtime) -> int:
    return runtime.engine.version(runtime.store.ref("SyncAuditLog"))


# -- envelope ------------------------------------------------------------------------------


def test_every_event_carries_the_run_context(full: Runtime) -> None:
    full.audit.event(
        "CheckpointCreated", table="bronze.account", details={"version": 3}, flush=True
    )
    (row,) = audit_rows(full)
    assert {c: row[c] for c in RUN_CONTEXT_COLUMNS} == {
        "RunId": "run-42",
        "ParentRunId": "pipe-7",
        "PipelineRunId": "pipe-7",
        "PipelineName": "Daily Sync",
        "NotebookName": "nb_load_bronze",
        "WorkspaceId": "ws-1",
        "TriggeredBy": "scheduler",
    }
    assert (row["SchemaName"], row["TableName"]) == ("bronze", "account")
    assert json.loads(row["Details"]) == {"version": 3}
    assert row["EventTime"].tzinfo is not None


def test_envelope_has_every_issue_field() -> None:
    expected = {
        "EventId", "EventTime", "RunId", "ParentRunId", "PipelineName", "NotebookName", "WorkspaceId",
        "Operation", "Status", "Layer", "EntityId", "SchemaName", "TableName", "SourceName",
        "ConnectionType", "ActivityName", "RowsRead", "RowsWritten", "DurationMs", "ErrorType",
        "ErrorSummary", "Severity", "DryRun", "TriggeredBy", "Details",
    }  # fmt: skip
    assert expected <= set(AuditEnvelope.model_fields)
    with pytest.raises(ValueError):
        AuditEnvelope(RunId="r", Operation="Start", Status="Started", Unknown=1)


# -- activities ----------------------------------------------------------------------------


def test_activity_writes_start_and_end_with_duration_and_counts(full: Runtime) -> None:
    with full.audit.activity(
        "LoadBronze", layer="bronze", entity="account", source="crm", table="bronze.account"
    ) as act:
        act.rows_read, act.rows_written = 120, 118
        act.details["note"] = "incremental"
    start, end = audit_rows(full)
    assert (start["Operation"], start["Status"], end["Operation"], end["Status"]) == (
        "Start",
        "Started",
        "End",
        "Succeeded",
    )
    for row in (start, end):
        assert (row["ActivityName"], row["Layer"], row["EntityId"], row["SourceName"]) == (
            "LoadBronze",
            "bronze",
            "account",
            "crm",
        )
        assert row["TableName"] == "account"
    assert (end["RowsRead"], end["RowsWritten"]) == (120, 118)
    assert end["DurationMs"] is not None and end["DurationMs"] >= 0
    assert json.loads(end["Details"]) == {"note": "incremental"}


def test_activity_failure_writes_fail_and_reraises_the_same_exception(full: Runtime) -> None:
    boom = RuntimeError("source said:\n  table locked\n  try later")
    with pytest.raises(RuntimeError) as info:
        with full.audit.activity("LoadBronze", entity="contact") as act:
            act.rows_read = 5
            raise boom
    assert info.value is boom
    start, fail = audit_rows(full)
    assert (fail["Operation"], fail["Status"], fail["Severity"]) == ("Fail", "Failed", "HIGH")
    assert fail["ErrorType"] == "RuntimeError"
    assert fail["ErrorSummary"] == "source said: table locked try later"  # one line
    assert fail["RowsRead"] == 5 and fail["DurationMs"] is not None


def test_activity_as_a_decorator(full: Runtime) -> None:
    @full.audit.activity("LoadSilver", layer="silver", entity="donation")
    def load(n: int) -> int:
        current_activity().rows_written = n
        return n * 2

    assert load(3) == 6
    assert load(4) == 8
    assert current_activity() is None
    rows = audit_rows(full)
    assert [r["Operation"] for r in rows] == ["Start", "End", "Start", "End"]
    assert [r["RowsWritten"] for r in rows if r["Operation"] == "End"] == [3, 4]
    assert load.__name__ == "load"

    @full.audit.activity("Broken")
    def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        broken()
    assert audit_rows(full)[-1]["Operation"] == "Fail"


def test_nested_events_inherit_the_activity_context(full: Runtime) -> None:
    with full.audit.activity("LoadBronze", layer="bronze", entity="account", source="crm"):
        full.audit.event("CheckpointCreated", details={"version": 2})
        with full.audit.activity("Validate"):
            pass
        full.audit.event("Vacuum", table="bronze.other")
    rows = {(r["Operation"], r["ActivityName"]): r for r in audit_rows(full)}
    ck = rows[("CheckpointCreated", "LoadBronze")]
    assert (ck["EntityId"], ck["Layer"], ck["SourceName"]) == ("account", "bronze", "crm")
    inner = rows[("Start", "Validate")]
    assert (inner["EntityId"], inner["Layer"]) == ("account", "bronze")
    vac = rows[("Vacuum", "LoadBronze")]
    assert (vac["EntityId"], vac["TableName"]) == (None, "other")  # names its own target


def test_another_runtime_does_not_inherit_this_ones_activity(
    full: Runtime, lakehouse: Path
) -> None:
    other = fmd.connect(lakehouse=lakehouse, run_id="other-run")
    with full.audit.activity("LoadBronze", entity="account"):
        other.audit.event("Ping", flush=True)
    (ping,) = other.store.read("SyncAuditLog", {"RunId": "other-run"})
    assert (ping["EntityId"], ping["ActivityName"]) == (None, None)


def test_skip_ends_an_activity_as_skip(full: Runtime) -> None:
    with full.audit.activity("LoadBronze", entity="account") as act:
        act.skip("already loaded in this run")
    full.audit.skip(entity="contact", reason="disabled", flush=True)
    rows = audit_rows(full)
    assert [(r["Operation"], r["Status"], r["EntityId"]) for r in rows] == [
        ("Start", "Started", "account"),
        ("Skip", "Skipped", "account"),
        ("Skip", "Skipped", "contact"),
    ]
    assert json.loads(rows[1]["Details"]) == {"skip_reason": "already loaded in this run"}


# -- buffering -----------------------------------------------------------------------------


def test_outermost_activity_commits_its_start_then_flushes_once(full: Runtime) -> None:
    full.store.ensure()
    before = audit_version(full)
    with full.audit.activity("DailySync"):
        # the outermost Start is committed at once (a killed notebook leaves a trace) ...
        assert audit_version(full) == before + 1
        for name in ("account", "contact", "donation"):
            with full.audit.activity("LoadBronze", entity=name):
                full.audit.event("CheckpointCreated")
        assert audit_version(full) == before + 1  # ... the rest waits for the end
    assert audit_version(full) == before + 2
    assert len(audit_rows(full)) == 2 + 3 * 3


def test_outermost_across_threads_flushes_when_the_last_activity_closes(full: Runtime) -> None:
    full.store.ensure()
    before = audit_version(full)

    def load(name: str) -> str:
        with full.audit.activity("LoadBronze", entity=name):
            return name

    with full.audit.activity("DailySync"):
        outcomes = full.map_tables(load, [f"e{i}" for i in range(12)], max_workers=4)
    assert all(o.ok for o in outcomes)
    assert audit_version(full) == before + 2  # the outer Start at once, then everything else
    assert len(audit_rows(full)) == 2 + 12 * 2


def test_buffer_size_triggers_a_flush(lakehouse: Path) -> None:
    runtime = fmd.connect(
        lakehouse=lakehouse, run_id="r", config=fmd.RuntimeConfig(audit_buffer_rows=10)
    )
    runtime.store.ensure()
    before = audit_version(runtime)
    for i in range(25):
        runtime.audit.event("Ping", details={"i": i})
    assert audit_version(runtime) == before + 2
    assert runtime.audit.pending == 5
    runtime.close()
    assert audit_version(runtime) == before + 3
    assert len(audit_rows(runtime)) == 25


def test_age_triggers_a_flush(full: Runtime) -> None:
    full.audit.max_age_seconds = 0.0
    full.audit.event("Ping")
    assert full.audit.pending == 0
    assert len(audit_rows(full)) == 1


def test_interpreter_exit_flushes_buffered_events(lakehouse: Path) -> None:
    script = textwrap.dedent(
        f"""
        import fmd_runtime as fmd
        rt = fmd.connect(lakehouse={str(lakehouse)!r}, run_id="exit-run")
        rt.audit.event("Ping", details={{"n": 1}})
        rt.audit.event("Ping", details={{"n": 2}})
        assert rt.audit.pending == 2
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    runtime = fmd.connect(lakehouse=lakehouse, run_id="reader")
    rows = runtime.store.read("SyncAuditLog", {"RunId": "exit-run"})
    assert sorted(json.loads(r["Details"])["n"] for r in rows) == [1, 2]


def audit_write_fails(lakehouse: Path, attempts: list[str] | None = None) -> FaultyEngine:
    """The real engine, except that writes to SyncAuditLog fail until the fault is cleared
    (``engine.clear()``); each attempt is noted in ``attempts``."""
    engine = FaultyEngine(DeltaRsEngine(lakehouse))
    if attempts is not None:
        engine.on(
            "write", lambda t, a, kw: attempts.append(t.name if t else ""), tables={"SyncAuditLog"}
        )
    return engine.fail(
        "write",
        tables={"SyncAuditLog"},
        error=lambda t: EngineError(
            "injected: storage refused the audit write", table=t.name if t else None
        ),
    )


def test_audit_write_failure_never_hides_the_original_error(lakehouse: Path) -> None:
    engine = audit_write_fails(lakehouse)
    runtime = fmd.connect(engine=engine, run_id="r-fault")
    original = ZeroDivisionError("the block's own error")
    with pytest.raises(ZeroDivisionError) as info:
        with runtime.audit.activity("LoadBronze", entity="account"):
            raise original
    assert info.value is original
    assert runtime.audit.write_failures >= 1
    assert runtime.audit.pending == 2  # kept for the next flush
    assert runtime.store.read("SyncAuditLog") == []
    # flush() itself never raises either
    assert runtime.audit.flush() == 0
    engine.clear()
    assert runtime.audit.flush() == 2
    assert [r["Operation"] for r in audit_rows(runtime)] == ["Start", "Fail"]


def test_automatic_flushes_pause_after_a_failed_write(lakehouse: Path) -> None:
    attempts: list[str] = []
    engine = audit_write_fails(lakehouse, attempts)
    runtime = fmd.connect(engine=engine, run_id="r-outage")
    for name in ("a", "b", "c"):
        with runtime.audit.activity("Load", entity=name):
            pass
    assert len(attempts) == 1  # not one failing commit attempt per activity
    assert runtime.audit.pending == 6
    engine.clear()
    runtime.audit.max_age_seconds = 0.0
    with runtime.audit.activity("Load", entity="d"):
        pass  # the pause is over: this outermost activity writes everything
    assert runtime.audit.pending == 0
    assert len(audit_rows(runtime)) == 8


def test_summary_never_raises_when_the_store_is_broken(lakehouse: Path) -> None:
    engine = audit_write_fails(lakehouse)
    runtime = fmd.connect(engine=engine, run_id="r-fault")
    with pytest.raises(ValueError):
        with runtime.audit.activity("Load", entity="a"):
            raise ValueError("bad row")
    summary = runtime.audit.summarize(name="Load")
    assert (summary.total, summary.failed, summary.failed_entities) == (1, 1, ("a",))


# -- JSON-lines sink -----------------------------------------------------------------------


def test_jsonl_sink_mirrors_every_event(full: Runtime, tmp_path: Path) -> None:
    path = full.audit.add_jsonl_sink(tmp_path / "logs" / "audit.jsonl")
    with pytest.raises(ValueError):
        with full.audit.activity("Load", entity="account"):
            raise ValueError("login failed: Server=db;Password=hunter2;")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["Operation"] for line in lines] == ["Start", "Fail"]
    assert lines[1]["RunId"] == "run-42" and lines[1]["ErrorSummary"].endswith("Password=***;")
    assert "hunter2" not in path.read_text()


def test_jsonl_sink_from_the_environment(
    lakehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FMD_AUDIT_JSONL", str(tmp_path / "audit-{run_id}.jsonl"))
    runtime = fmd.connect(lakehouse=lakehouse, run_id="env-run")
    runtime.audit.event("Ping", entity="x")
    runtime.close()
    lines = (tmp_path / "audit-env-run.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["EntityId"] == "x"


def test_a_failing_sink_is_ignored(full: Runtime) -> None:
    def broken(record: Any) -> None:
        raise OSError("disk full")

    full.audit.add_sink(broken)
    full.audit.event("Ping", flush=True)
    assert len(audit_rows(full)) == 1


# -- summaries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        (dict(failures=1, open_activities=1, skips=1, successes=3), "Failed"),
        (dict(failures=0, open_activities=1, skips=0, successes=1), "Running"),
        (dict(failures=0, open_activities=0, skips=1, successes=0), "Skipped"),
        (dict(failures=0, open_activities=0, skips=1, successes=1), "Succeeded"),
        (dict(failures=0, open_activities=0, skips=0, successes=0, warnings=1), "Warning"),
        (dict(failures=0, open_activities=0, skips=0, successes=0), "Info"),
    ],
)
def test_derive_status(counts: dict[str, int], status: str) -> None:
    assert derive_status(**counts) == status


def test_summarize_from_the_run_events(full: Runtime) -> None:
    for i in range(6):
        try:
            with full.audit.activity("Load", entity=f"e{i}") as act:
                if i == 4:
                    act.skip("nothing new")
                if i in (1, 3):
                    raise ConnectionError(f"source {i} unreachable; pwd=s3cret")
        except ConnectionError:
            pass
    full.audit.event("Start", "Started", entity="e9", activity="Load")  # never ended
    summary = full.audit.summarize(name="Load", top_n=1)
    assert (summary.total, summary.succeeded, summary.failed, summary.skipped, summary.running) == (
        7,
        3,
        2,
        1,
        1,
    )
    assert summary.failed_entities == ("e1", "e3")
    assert [f.entity for f in summary.top_failed] == ["e1"]
    assert summary.top_failed[0].error_type == "ConnectionError"
    assert "s3cret" not in summary.top_failed[0].error_summary
    (row,) = full.store.read("SyncAuditLog", {"Operation": "Summary"})
    assert (row["Status"], row["Severity"], row["ActivityName"]) == ("Failed", "HIGH", "Load")
    details = json.loads(row["Details"])
    assert (details["succeeded"], details["failed"], details["skipped"]) == (3, 2, 1)
    assert details["failed_entities"] == ["e1", "e3"]
    assert "e1" in summary.line() and "2 failed" in summary.line()


def test_summarize_merges_buffered_and_written_events(full: Runtime) -> None:
    with full.audit.activity("Load", entity="a"):
        pass  # outermost: written
    with full.audit.activity("Batch"):
        with full.audit.activity("Load", entity="b"):
            pass
        summary = full.audit.summarize(name="Load", flush=False)  # b is still buffered
    assert (summary.total, summary.succeeded) == (2, 2)


def test_summarize_explicit_outcomes_from_map_tables(full: Runtime) -> None:
    def work(name: str) -> int:
        if name.startswith("bad"):
            raise ValueError(f"{name}: AccountKey=abc123== rejected")
        return 1

    outcomes = full.map_tables(work, ["a", "bad1", "b", "bad2"], max_workers=2)
    summary = full.audit.summarize(outcomes, name="Restore")
    assert (summary.total, summary.succeeded, summary.failed) == (4, 2, 2)
    assert summary.failed_entities == ("bad1", "bad2")
    assert summary.top_failed[0].error_type == "ValueError"
    assert "abc123" not in (summary.top_failed[0].error_summary or "")


def test_summarize_mappings_and_entity_results(full: Runtime) -> None:
    results = {"a": None, "b": RuntimeError("x"), "c": "Skipped", "d": "timeout talking to source"}
    assert [r.status for r in entity_results(results)] == [
        "Succeeded",
        "Failed",
        "Skipped",
        "Failed",
    ]
    summary = full.audit.summarize(
        [EntityResult(entity="z", status="Failed", error_summary="boom")]
    )
    assert summary.failed_entities == ("z",)


def test_summarize_never_raises(full: Runtime) -> None:
    class Exploding:
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("cannot iterate")

    summary = full.audit.summarize(Exploding(), name="Load")
    assert summary.total == 0 and summary.note and "RuntimeError" in summary.note
    assert len(full.store.read("SyncAuditLog", {"Operation": "Summary"})) == 1


def test_demo_step_prints_one_summary_line(full: Runtime) -> None:
    from fmd_runtime.demo import audit_step as demo_step

    with full.audit.activity("DailySync", entity="account"):
        pass
    lines: list[str] = []
    demo_step(full, lines.append)
    assert lines[0].startswith("audit summary: DailySync run-42: 1 entity, 1 succeeded, 0 failed")
