"""An activity always leaves its trace: the outermost Start at once, End/Fail whatever was set.

- A notebook killed by a timeout runs no End and no atexit: its outermost Start must already be in
  ``SyncAuditLog`` (simulated with ``os._exit`` in a child process), read from a new connection.
- ``rows_written`` / ``rows_read`` are checked where they are set (a non-number is refused at
  once, naming the field), so the End (or Fail) event is always written.
- The commit count stays low: 1,000 audit events of one outer activity cost at most 3 commits.
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
from fmd_runtime.errors import ConfigError
from fmd_runtime.runtime import Runtime


def audit_rows(runtime: Runtime, run_id: str | None = None) -> list[dict[str, Any]]:
    where = {"RunId": run_id} if run_id else None
    return runtime.store.read("SyncAuditLog", where, order_by="EventTime")


def audit_version(runtime: Runtime) -> int:
    return runtime.engine.version(runtime.store.ref("SyncAuditLog"))


def test_a_killed_notebook_leaves_its_outermost_start(lakehouse: Path) -> None:
    setup = fmd.connect(lakehouse=lakehouse, run_id="setup")
    setup.store.ensure()
    setup.close()
    script = textwrap.dedent(
        f"""
        import os
        import fmd_runtime as fmd
        rt = fmd.connect(lakehouse={str(lakehouse)!r}, run_id="killed-run", notebook_name="nb")
        outer = rt.audit.activity("DailySync", layer="bronze")
        outer.__enter__()
        with rt.audit.activity("LoadBronze", entity="account"):
            pass  # an inner activity: batched, lost with the process
        os._exit(0)  # the timeout kill: no End, no flush, no atexit
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    reader = fmd.connect(lakehouse=lakehouse, run_id="reader")
    rows = audit_rows(reader, "killed-run")
    assert [(r["Operation"], r["Status"], r["ActivityName"]) for r in rows] == [
        ("Start", "Started", "DailySync")
    ]
    assert rows[0]["NotebookName"] == "nb" and rows[0]["Layer"] == "bronze"


def test_only_the_outermost_start_is_written_at_once(rt: Runtime) -> None:
    rt.store.ensure()
    before = audit_version(rt)
    with rt.audit.activity("DailySync"):
        with rt.audit.activity("LoadBronze", entity="account"):
            with rt.audit.activity("Validate", entity="account"):
                assert audit_version(rt) == before + 1  # the inner Starts wait
        assert rt.audit.pending == 4
    assert audit_version(rt) == before + 2 and rt.audit.pending == 0


def test_1000_events_of_one_outer_activity_cost_at_most_3_commits(rt: Runtime) -> None:
    rt.store.ensure()
    before = audit_version(rt)
    with rt.audit.activity("Batch"):
        for i in range(499):  # 1 outer + 499 inner activities = 1,000 events
            with rt.audit.activity("Load", entity=f"e{i}") as act:
                act.rows_written = i
    assert audit_version(rt) - before <= 3
    assert len(audit_rows(rt)) == 1000


@pytest.mark.parametrize("value", ["twelve", "", 3.5, -1, True, [1], float("nan")])
@pytest.mark.parametrize("field", ["rows_written", "rows_read"])
def test_a_non_number_row_count_is_refused_where_it_is_set(
    rt: Runtime, field: str, value: Any
) -> None:
    with pytest.raises(ConfigError) as info:
        with rt.audit.activity("LoadBronze", entity="account") as act:
            setattr(act, field, value)
    message = str(info.value)
    assert f"'{field}'" in message and "LoadBronze" in message and "What to do" in message
    rows = audit_rows(rt)
    # the body failed at the assignment: the activity still ends, as Fail, with no bogus count
    assert [(r["Operation"], r["Status"]) for r in rows] == [
        ("Start", "Started"),
        ("Fail", "Failed"),
    ]
    assert rows[1]["ErrorType"] == "ConfigError" and rows[1]["RowsWritten"] is None


def test_numeric_strings_from_a_pipeline_are_counts(rt: Runtime) -> None:
    with rt.audit.activity("LoadBronze", entity="account") as act:
        act.rows_read = "12"
        act.rows_written = 10
    end = audit_rows(rt)[-1]
    assert (end["Operation"], end["RowsRead"], end["RowsWritten"]) == ("End", 12, 10)
    assert isinstance(act.rows_read, int)


def test_the_end_event_is_written_even_when_its_status_cannot_be(rt: Runtime) -> None:
    with rt.audit.activity("LoadBronze", entity="account") as act:
        act.rows_written = 5
        act.status = 42  # type: ignore[assignment]  # not a status: the End row must still exist
    end = audit_rows(rt)[-1]
    assert (end["Operation"], end["Status"]) == ("End", "Succeeded")
    assert "could not be recorded" in json.loads(end["Details"])["audit_note"]
    assert rt.audit.write_failures == 1
