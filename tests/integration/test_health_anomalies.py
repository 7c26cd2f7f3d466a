"""Anomalies from what the library records: real checkpoints after real loads (their counts in
``CheckpointTables``), real watermark commits and run-ledger rows, on every engine (delta-rs,
Spark + Delta).

Checkpoints are created now, one per "day"; the count rules order them by version, so no dates
need moving. The rules that are about time (a stalled watermark, a missing checkpoint) judge at a
later ``now`` or, for the watermark's usual interval, re-date the real events through the store.
"""

from __future__ import annotations

import json
import statistics
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from engines import connect

import fmd_runtime as fmd
from fmd_runtime.engine import Column
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._anomalies import AnomalyRules, find_anomalies
from fmd_runtime.store import utcnow

COLUMNS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="Name", type="string"),
    Column(name="IsDeleted", type="boolean"),
]
TABLE = "bronze.account"


def batch(n0: int, n: int, *, name: str = "n") -> pa.Table:
    return pa.table(
        {
            "Id": pa.array(range(n0, n0 + n), pa.int64()),
            "Name": [f"{name}{i}" for i in range(n0, n0 + n)],
            "IsDeleted": [False] * n,
        }
    )


@pytest.fixture
def rt(any_rt: fmd.Runtime) -> fmd.Runtime:
    """Every scenario of this module runs on every engine (`any_rt`: delta-rs, Spark + Delta)."""
    return any_rt


def start(rt: fmd.Runtime, rows: int = 50) -> None:
    t = rt.table(TABLE)
    rt.engine.create(t, COLUMNS)
    rt.engine.write(t, batch(1, rows))
    rt.configure_table(TABLE, primary_key=["Id"], deleted_flag="IsDeleted")


def checkpoint(rt: fmd.Runtime) -> tuple[int, int, int]:
    """A Daily checkpoint of the table; its recorded (total, active, deleted)."""
    cp = rt.checkpoints.create([TABLE], kind="Daily")
    assert cp is not None and cp.validation_status == "Validated"
    t = cp.table(TABLE)
    assert t.total_rows is not None and t.active_rows is not None and t.deleted_rows is not None
    return t.total_rows, t.active_rows, t.deleted_rows


def day(rt: fmd.Runtime, next_id: int, delete: list[int]) -> None:
    """A day's sync: two new rows, and the rows the source no longer has flagged deleted."""
    t = rt.table(TABLE)
    rt.engine.write(t, batch(next_id, 2))
    if delete:
        rt.engine.update(t, {"Id": delete}, {"IsDeleted": True})


def alerts(rt: fmd.Runtime, status: str = "Raised") -> list[dict[str, Any]]:
    rt.audit.flush()  # a suppressed alert is recorded with the run's next flush
    rows = rt.store.read("SyncAuditLog", {"Operation": "Alert", "Status": status})
    return [json.loads(r["Details"]) for r in rows]


def test_a_sync_that_flags_40_percent_deleted_is_flagged_while_normal_churn_is_not(
    rt: fmd.Runtime,
) -> None:
    start(rt)
    counts = [checkpoint(rt)]
    for i in range(3):  # normal days: +2 rows, 1 row (2%) flagged deleted
        day(rt, 100 + 2 * i, [i + 1])
        counts.append(checkpoint(rt))
    assert counts == [(50, 50, 0), (52, 51, 1), (54, 52, 2), (56, 53, 3)]
    assert find_anomalies(rt) == []  # the 4th day judged against the 3 before: normal
    assert alerts(rt) == []

    active = counts[-1][1]
    flagged = list(range(10, 10 + round(active * 0.4)))  # the bad sync: 40% of active rows
    day(rt, 200, flagged)
    counts.append(checkpoint(rt))
    total, now_active, now_deleted = counts[-1]
    assert (total, now_active, now_deleted) == (58, 53 + 2 - 21, 3 + 21)

    found = {f.check: f for f in find_anomalies(rt)}
    assert set(found) == {"anomaly.active_rows_drop", "anomaly.deleted_rows_jump"}
    actives = [a for _, a, _ in counts[:-1]]
    centre = statistics.median(actives)
    drop = found["anomaly.active_rows_drop"]
    assert drop.severity == "HIGH" and drop.table == TABLE
    assert drop.numbers["current"] == now_active
    assert drop.numbers["baseline_median"] == centre
    assert drop.numbers["baseline_mad"] == statistics.median([abs(a - centre) for a in actives])
    assert drop.numbers["share"] == pytest.approx((centre - now_active) / centre, abs=1e-4)
    assert drop.numbers["baseline_points"] == 4
    assert f"{now_active:,}" in drop.message and "rt.rollback.plan" in drop.fix
    deleted = [d for _, _, d in counts[:-1]]
    jump = found["anomaly.deleted_rows_jump"]
    assert jump.numbers["current"] == now_deleted
    assert jump.numbers["baseline_median"] == statistics.median(deleted)
    assert jump.numbers["share"] == pytest.approx(
        (now_deleted - statistics.median(deleted)) / centre, abs=1e-4
    )

    raised = alerts(rt)
    assert [a["severity"] for a in raised] == ["HIGH"]  # one alert for both anomalies
    assert TABLE in raised[0]["tables"] and "2 anomalies" in raised[0]["title"]
    find_anomalies(rt)  # the same anomalies again within the hour: deduplicated
    assert len(alerts(rt)) == 1 and len(alerts(rt, "Suppressed")) == 1


# --------------------------------------------------------------------------- delta-rs breadth


def test_a_steady_table_does_not_flag_a_one_row_change(rt: fmd.Runtime) -> None:
    start(rt, rows=20)
    t = rt.table(TABLE)
    for i in range(4):  # the same counts every day (a new version: a name corrected)
        rt.engine.update(t, {"Id": [1]}, {"Name": f"fixed{i}"})
        checkpoint(rt)
    rt.engine.update(t, {"Id": [2]}, {"IsDeleted": True})  # one row of 20: 5%
    assert checkpoint(rt) == (20, 19, 1)
    assert find_anomalies(rt) == []
    strict = find_anomalies(rt, rules=AnomalyRules(active_drop_share=0.01, deleted_jump_share=0.01))
    assert {f.check for f in strict} == {"anomaly.active_rows_drop", "anomaly.deleted_rows_jump"}


def test_total_rows_shrinking_is_flagged(rt: fmd.Runtime) -> None:
    start(rt, rows=40)
    checkpoint(rt)
    for i in range(3):
        day(rt, 100 + 2 * i, [])
        checkpoint(rt)
    t = rt.table(TABLE)
    rt.engine.write(t, batch(1, 30), mode="overwrite")  # 16 rows physically gone
    assert checkpoint(rt)[0] == 30
    found = {f.check: f for f in find_anomalies(rt, tables=[TABLE])}
    assert set(found) == {"anomaly.total_rows_shrink", "anomaly.active_rows_drop"}
    f = found["anomaly.total_rows_shrink"]
    assert f.severity == "MEDIUM"
    assert (f.numbers["previous"], f.numbers["current"], f.numbers["change"]) == (46, 30, -16)
    assert f.numbers["usual_change_median"] == 2
    assert find_anomalies(rt, tables=["bronze.other"]) == []  # another table: nothing


def test_storage_growing_faster_than_rows_is_flagged(rt: fmd.Runtime) -> None:
    start(rt, rows=20)
    checkpoint(rt)
    t = rt.table(TABLE)
    for i in range(3):
        day(rt, 100 + 2 * i, [])
        checkpoint(rt)
    # rows as wide as before, then a writer that appends tiny files of huge values
    rt.engine.write(t, batch(300, 2, name="x" * 200_000))
    checkpoint(rt)
    rules = AnomalyRules(storage_min_bytes=0)
    [f] = find_anomalies(rt, rules=rules)
    assert f.check == "anomaly.storage_growth" and f.severity == "LOW"
    assert f.numbers["ratio"] > 2 and f.numbers["rows"] == 28
    assert find_anomalies(rt) == []  # below the default 256 MiB: not judged


def test_a_checkpoint_scope_missing_for_a_day_is_flagged(rt: fmd.Runtime) -> None:
    start(rt, rows=5)
    for i in range(3):
        day(rt, 100 + 2 * i, [])
        checkpoint(rt)
    assert find_anomalies(rt, now=utcnow() + timedelta(hours=1)) == []
    [f] = find_anomalies(rt, now=utcnow() + timedelta(hours=30))
    assert f.check == "anomaly.checkpoint_missing" and f.severity == "MEDIUM"
    assert f.numbers["checkpoints_in_window"] == 3 and f.numbers["hours_since_last"] >= 30
    assert "rt.checkpoints.create" in f.fix


def test_entities_failing_three_runs_in_a_row_are_flagged(rt: fmd.Runtime) -> None:
    start(rt, rows=5)
    first = connect(rt.engine, "load-0")
    version = first.engine.version(first.table(TABLE))
    first.runs.complete("crm.account", "bronze", table=TABLE, version=version)
    first.close()
    for n in range(1, 4):
        run = connect(rt.engine, f"load-{n}")
        run.runs.fail("crm.account", "bronze", table=TABLE, error="source timed out")
        run.close()
    [f] = find_anomalies(rt)
    assert f.check == "anomaly.failing_runs" and f.entity == "crm.account"
    assert f.severity == "HIGH" and f.numbers["failed_runs_in_a_row"] == 3
    assert f.table == TABLE and f.numbers["last_success"] is not None
    assert find_anomalies(rt, rules=AnomalyRules(failing_runs=4)) == []


def test_a_watermark_not_advanced_for_three_usual_intervals_is_flagged(rt: fmd.Runtime) -> None:
    start(rt, rows=5)
    for n in range(4):  # four daily loads, each advancing the watermark
        run = connect(rt.engine, f"load-{n}")
        w = run.watermarks.begin("crm.account", kind="int", table=TABLE, layer="bronze")
        run.watermarks.commit(w, str(10 * (n + 1)))
        run.close()
    commits = sorted(
        rt.store.read("Watermarks", {"Operation": "Commit"}), key=lambda r: r["EventTime"]
    )
    assert [c["Value"] for c in commits] == ["10", "20", "30", "40"]
    last = commits[-1]["EventTime"]
    for i, c in enumerate(commits):  # the loads happened a day apart
        rt.store.update(
            "Watermarks",
            {"EventId": c["EventId"]},
            {"EventTime": last - timedelta(days=len(commits) - 1 - i)},
        )
    assert find_anomalies(rt, now=last + timedelta(hours=30)) == []
    [f] = find_anomalies(rt, now=last + timedelta(days=4))
    assert f.check == "anomaly.watermark_stalled" and f.entity == "crm.account"
    assert f.numbers["usual_interval_hours"] == 24 and f.numbers["hours_since_advance"] == 96
    assert f.numbers["last_value"] == "40"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"rules": {"active_drop_share": 0.2}}, "rules"),
        ({"now": "2025-01-15"}, "now"),
        ({"tables": TABLE}, "tables"),
        ({"alert": "sometimes"}, "alert"),
    ],
)
def test_bad_arguments_are_refused(rt: fmd.Runtime, kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        find_anomalies(rt, **kwargs)
