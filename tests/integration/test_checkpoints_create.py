"""Creating checkpoints on real Delta tables, on every engine (delta-rs, Spark + Delta).

The acceptance scenario: a lakehouse of 50 small tables with tracking columns (4 on Spark, where a
commit costs seconds). A batch checkpoint pins the exact versions with the right counts; one row
flagged both deleted and purged makes active + deleted + purged exceed the total by one, and the
checkpoint fails naming that table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, forget_log, log_covers_files, size, table_dir, twin

import fmd_runtime as fmd
from fmd_runtime.checkpoints import BASELINE_PREFIX, DELETED_FILE_RETENTION, LOG_RETENTION
from fmd_runtime.config import TableConfig
from fmd_runtime.engine import Column, DeltaEngine, retention_hours
from fmd_runtime.errors import CheckpointError, ConcurrentWriteError
from fmd_runtime.tables import TableRef
from fmd_runtime.testing import FaultyEngine

COLUMNS = [
    Column(name="Id", type="bigint"),
    Column(name="Name", type="string"),
    Column(name="IsDeleted", type="boolean"),
    Column(name="IsPurged", type="boolean"),
]


def data(
    n0: int, n: int, deleted: set[int] = frozenset(), purged: set[int] = frozenset()
) -> pa.Table:  # type: ignore[assignment]
    ids = list(range(n0, n0 + n))
    return pa.table(
        {
            "Id": pa.array(ids, pa.int64()),
            "Name": [f"n{i}" for i in ids],
            "IsDeleted": [i in deleted for i in ids],
            "IsPurged": [i in purged for i in ids],
        }
    )


def build(
    rt: fmd.Runtime, count: int, *, schema: str = "bronze", tracking: bool = True
) -> dict[str, dict[str, int]]:
    """``count`` tables of 3-12 rows, 1-3 versions each; one PipelineConfig append for all.

    Returns the expected counts per table.
    """

    def one(i: int) -> tuple[str, dict[str, int]]:
        ref = rt.table(f"{schema}.t{i:03d}")
        rt.engine.create(ref, COLUMNS)
        n = 3 + i % 10
        deleted = {1} if i % 3 == 0 else set()
        purged = {2} if i % 4 == 0 else set()
        rt.engine.write(ref, data(1, n, deleted, purged))
        for v in range(i % 3):
            rt.engine.write(ref, data(100 + v, 1))
        total = n + i % 3
        return ref.name, {
            "total": total,
            "deleted": len(deleted),
            "purged": len(purged),
            "active": total - len(deleted) - len(purged),
        }

    outcomes = rt.map_tables(one, list(range(count)), label="Building table")
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    if tracking:
        configs = [
            TableConfig(
                table=name, primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged"
            )
            for name, _ in (o.value for o in outcomes)
        ]
        rt.store.append("PipelineConfig", [c.to_row() for c in configs])
    return dict(o.value for o in outcomes)


def audit(rt: fmd.Runtime, operation: str) -> list[dict[str, Any]]:
    return rt.store.read("SyncAuditLog", {"Operation": operation})


@pytest.fixture
def rt(any_rt: fmd.Runtime) -> fmd.Runtime:
    """Every scenario of this module runs on every engine (`any_rt`: delta-rs, Spark + Delta)."""
    return any_rt


def test_batch_checkpoint_of_50_tables_pins_exact_versions_and_counts(rt: fmd.Runtime) -> None:
    n = size(rt.engine, 50, 4)
    expected = build(rt, n)
    versions = {name: rt.engine.version(rt.table(name)) for name in expected}

    cp = rt.checkpoints.create("bronze.*", notes="after Daily Sync")

    assert cp is not None and cp.validation_status == "Validated" and cp.is_restore_target
    assert cp.checkpoint_type == "DailyBatch" and cp.tables_included == n
    assert cp.checkpoint_name == f"bronze_batch_{cp.created_date.date().isoformat()}"
    assert {t.table: t.version for t in cp.tables} == versions
    for t in cp.tables:
        e = expected[t.table]
        assert (t.total_rows, t.active_rows, t.deleted_rows, t.purged_rows) == (
            e["total"],
            e["active"],
            e["deleted"],
            e["purged"],
        ), t.table
        assert t.count_source == "scan" and t.file_count >= 1 and t.total_bytes > 0
        assert t.version_timestamp is not None and t.version_timestamp <= cp.created_date
    assert cp.total_rows == sum(e["total"] for e in expected.values())
    assert (cp.retention_date - cp.created_date.date()).days == 7

    # stored: one header, one row per table; read back equal
    assert len(rt.store.read("CheckpointHistory")) == 1
    assert len(rt.store.read("CheckpointTables", {"CheckpointId": cp.checkpoint_id})) == n
    assert rt.checkpoints.get(cp.checkpoint_name) == cp
    assert rt.checkpoints.get(cp.checkpoint_id) == cp
    event = audit(rt, "CheckpointCreated")[0]
    assert event["Status"] == "Succeeded" and json.loads(event["Details"])["tables"] == n


def test_a_row_flagged_deleted_and_purged_fails_the_checkpoint_naming_the_table(
    rt: fmd.Runtime,
) -> None:
    n = size(rt.engine, 50, 4)
    build(rt, n)
    bad = rt.table(f"bronze.t{min(17, n - 2):03d}")  # bronze.t017 of 50 (no flags of its own)
    rt.engine.update(bad, {"Id": [1]}, {"IsDeleted": True, "IsPurged": True})

    cp = rt.checkpoints.create("bronze.*")

    assert cp is not None and cp.validation_status == "Failed" and not cp.is_restore_target
    failed = [t for t in cp.tables if t.validation_status == "Failed"]
    assert [t.table for t in failed] == [bad.name]
    t = failed[0]
    assert t.active_rows + t.deleted_rows + t.purged_rows == t.total_rows + 1
    assert "1 row(s) off" in (t.validation_message or "")
    # kept (soft record), with the reason in DataValidation and the audit log, and an alert
    assert rt.checkpoints.get(cp.checkpoint_name).validation_status == "Failed"
    rows = rt.store.read("DataValidation", {"CheckpointId": cp.checkpoint_id})
    assert [(r["TableName"], r["CheckName"], r["ValidationPassed"]) for r in rows] == [
        (bad.table, "CountsAddUp", False)
    ]
    assert rows[0]["Context"] == "CheckpointCreate" and rows[0]["Tolerance"] == 0.0
    validation = audit(rt, "CheckpointValidation")
    assert [(e["TableName"], e["Status"]) for e in validation] == [(bad.table, "Failed")]
    alerts = [json.loads(a["Details"]) for a in audit(rt, "Alert")]
    assert [(a["severity"], a["tables"]) for a in alerts] == [("HIGH", [bad.name])]
    assert (
        "failed validation" in alerts[0]["title"]
        and "1 row(s) off" in alerts[0]["errors"][bad.name]
    )


def test_tolerance_from_pipeline_config_is_applied_and_always_reported(rt: fmd.Runtime) -> None:
    t = rt.table("bronze.account")
    rt.engine.create(t, COLUMNS)
    rt.engine.write(t, data(1, 40, deleted={1}, purged={1}))  # 1 of 40 rows counted twice
    rt.configure_table(
        t, deleted_flag="IsDeleted", purged_flag="IsPurged", validation_tolerance=0.05
    )
    cp = rt.checkpoints.create([t.name], kind="Manual")
    assert cp is not None and cp.validation_status == "Validated"
    rows = rt.store.read("DataValidation", {"CheckpointId": cp.checkpoint_id})
    assert [(r["CheckName"], r["ValidationPassed"], r["Tolerance"]) for r in rows] == [
        ("CountsAddUp", True, 0.05)
    ]
    assert "within tolerance" in rows[0]["Message"]


def test_null_keys_and_a_missing_tracking_column_fail(rt: fmd.Runtime) -> None:
    t = rt.table("bronze.keys")
    rt.engine.create(t, COLUMNS)
    rt.engine.write(
        t,
        pa.table(
            {
                "Id": pa.array([1, None], pa.int64()),
                "Name": ["a", "b"],
                "IsDeleted": [False, None],
                "IsPurged": [None, False],
            }
        ),
    )
    rt.configure_table(t, primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged")
    u = rt.table("bronze.nocol")
    rt.engine.create(u, COLUMNS[:2])
    rt.engine.write(u, pa.table({"Id": pa.array([1], pa.int64()), "Name": ["a"]}))
    rt.configure_table(u, deleted_flag="IsDeleted")
    cp = rt.checkpoints.create([t.name, u.name], kind="Manual")
    assert cp is not None and cp.validation_status == "Failed"
    keys = cp.table(t.name)
    assert (keys.total_rows, keys.active_rows, keys.deleted_rows, keys.purged_rows) == (2, 2, 0, 0)
    assert "null primary key" in (keys.validation_message or "")
    nocol = cp.table(u.name)
    assert nocol.total_rows == 1 and "'IsDeleted' does not exist" in (
        nocol.validation_message or ""
    )


def test_tables_without_tracking_count_from_log_statistics(rt: fmd.Runtime) -> None:
    expected = build(rt, 4, schema="raw", tracking=False)
    cp = rt.checkpoints.create(list(expected), kind="Manual", name="raw_counts")
    assert (
        cp is not None
        and cp.validation_status == "Validated"
        and cp.checkpoint_name == "raw_counts"
    )
    for t in cp.tables:
        assert t.count_source == "stats" and t.total_rows == expected[t.table]["total"]
        assert t.active_rows is None and t.deleted_rows is None
    m = rt.checkpoints.measure("raw.t001", 1)
    assert (m.total, m.source, m.version) == (4, "stats", 1)


def test_measure_is_one_pass_at_a_pinned_version(rt: fmd.Runtime) -> None:
    build(rt, 1)
    t = rt.table("bronze.t000")  # 3 rows: Id 1 deleted, Id 2 purged
    rt.engine.write(t, data(50, 2, deleted={50}))
    now = rt.checkpoints.measure(t.name)
    then = rt.checkpoints.measure(t.name, 1)
    assert (then.total, then.active, then.deleted, then.purged, then.null_keys) == (3, 1, 1, 1, 0)
    assert (now.total, now.active, now.deleted, now.purged, now.version) == (5, 2, 2, 1, 2)


def test_a_name_clash_gets_a_suffix_and_never_overwrites(rt: fmd.Runtime) -> None:
    build(rt, 2)
    first = rt.checkpoints.create_table("bronze.t000")
    second = rt.checkpoints.create_table("bronze.t001")
    third = rt.checkpoints.create(["bronze.t000"], kind="Manual", name=first.checkpoint_name)  # type: ignore[union-attr]
    assert first is not None and second is not None and third is not None
    day = first.created_date.date().isoformat()
    assert first.checkpoint_name == f"bronze_backup_{day}" and first.checkpoint_type == "Daily"
    assert second.checkpoint_name == f"bronze_backup_{day}_2"
    assert third.checkpoint_name == f"bronze_backup_{day}_3"
    assert len({r["CheckpointId"] for r in rt.store.read("CheckpointHistory")}) == 3
    assert rt.checkpoints.get(first.checkpoint_name).tables[0].table == "bronze.t000"


def test_retention_properties_are_raised_to_cover_the_checkpoint_and_audited(
    rt: fmd.Runtime,
) -> None:
    build(rt, 1)
    t = rt.table("bronze.t000")
    rt.engine.set_properties(t, {LOG_RETENTION: "interval 168 hours"})
    pinned = rt.engine.version(t)
    cp = rt.checkpoints.create([t.name], kind="Manual")  # 30 days + the rest of today + margin 1
    assert cp is not None and cp.restorability_status == "Restorable"
    assert cp.tables[0].version == pinned
    props = rt.engine.properties(t)
    assert props[DELETED_FILE_RETENTION] == props[LOG_RETENTION] == "interval 32 days"
    assert props[BASELINE_PREFIX + DELETED_FILE_RETENTION] == "default"
    assert props[BASELINE_PREFIX + LOG_RETENTION] == "interval 168 hours"
    raised = audit(rt, "RetentionPropertiesRaised")
    assert [e["TableName"] for e in raised] == ["t000"]
    # a second checkpoint that needs no more changes nothing
    before = rt.engine.version(t)
    rt.checkpoints.create([t.name], kind="Daily")
    assert rt.engine.version(t) == before and len(audit(rt, "RetentionPropertiesRaised")) == 1


def test_a_raise_always_keeps_the_log_retention_at_least_the_file_retention(
    rt: fmd.Runtime,
) -> None:
    build(rt, 1)
    t = rt.table("bronze.t000")
    rt.engine.set_properties(t, {LOG_RETENTION: "interval 35 days"})
    # 30 days + today + margin: only the file retention is short, raised up to the log's 35 days
    first = rt.checkpoints.create([t.name], kind="Manual")
    assert first is not None and first.validation_status == "Validated", first.tables
    props = rt.engine.properties(t)
    assert props[DELETED_FILE_RETENTION] == "interval 32 days"
    assert props[LOG_RETENTION] == "interval 35 days" and log_covers_files(rt.engine, t)
    # 60 days: both are short, both raised together (one commit; Delta 4.1+ would refuse a file
    # retention above the log retention, even for a moment)
    assert rt.checkpoints.create([t.name], kind="Manual", retention_days=60) is not None
    props = rt.engine.properties(t)
    assert props[DELETED_FILE_RETENTION] == props[LOG_RETENTION] == "interval 62 days"
    assert log_covers_files(rt.engine, t)


def test_opting_out_of_retention_protection_records_at_risk(rt: fmd.Runtime) -> None:
    build(rt, 1)
    t = rt.table("bronze.t000")
    cp = rt.checkpoints.create([t.name], kind="PrePurge", protect_retention=False)
    assert cp is not None and cp.restorability_status == "AtRisk"
    assert cp.validation_status == "Validated"
    assert DELETED_FILE_RETENTION not in rt.engine.properties(t)
    details = json.loads(audit(rt, "CheckpointCreated")[0]["Details"])
    assert "covers less than" in details["at_risk"]["bronze.t000"]


def test_a_delta_log_checkpoint_is_written_at_the_pinned_version(rt: fmd.Runtime) -> None:
    build(rt, 3)  # t002 has versions 0..3
    t = rt.table("bronze.t002")
    cp = rt.checkpoints.create([t.name], kind="Manual", protect_retention=False)
    assert cp is not None
    version = cp.tables[0].version
    log = table_dir(rt.engine, t) / "_delta_log"
    assert (log / f"{version:020d}.checkpoint.parquet").exists()
    # the version stays reconstructable once the commits before it are cleaned from the log
    # (what Delta's log cleanup removes: the commits before a checkpoint, not its own commit)
    for v in range(version):
        os.remove(log / f"{v:020d}.json")
    forget_log(rt.engine)
    assert rt.engine.snapshot(t, version).version == version
    assert rt.checkpoints.verify(cp.checkpoint_name).status == "AtRisk"


def test_a_protected_pin_writes_a_log_checkpoint_and_a_re_pin_reuses_it(rt: fmd.Runtime) -> None:
    build(rt, 3)  # t002 has versions 0..3, none with a log checkpoint
    t = rt.table("bronze.t002")
    cp = rt.checkpoints.create([t.name], kind="Manual", name="first")
    assert cp is not None and cp.restorability_status == "Restorable"
    # the raise commits a property change: the next pin sees a new version, and pins it
    again = rt.checkpoints.create([t.name], kind="Manual", name="second")
    assert again is not None
    version = again.tables[0].version
    assert version == cp.tables[0].version + 1
    log = table_dir(rt.engine, t) / "_delta_log"
    first = log / f"{version:020d}.checkpoint.parquet"
    assert first.exists()  # the raised log retention alone would not keep the version
    stamp = first.stat().st_mtime_ns
    third = rt.checkpoints.create([t.name], kind="Manual", name="third")  # nothing changed
    assert third is not None and third.tables[0].version == version
    assert sorted(p.name for p in log.glob(f"{version:020d}.checkpoint*")) == [first.name]
    if rt.engine.name == "spark":  # Spark's is a job over the whole state: never written twice
        assert first.stat().st_mtime_ns == stamp
    details = [json.loads(r["Details"]) for r in audit(rt, "CheckpointCreated")]
    assert [d["log_checkpoints"] for d in details] == [1, 1, 1]
    assert retention_hours(rt.engine.properties(t), LOG_RETENTION) >= 32 * 24
    assert log_covers_files(rt.engine, t)
    forget_log(rt.engine)
    assert rt.engine.snapshot(t, version).version == version


def test_tables_none_means_pipeline_config_enabled_tables(rt: fmd.Runtime) -> None:
    build(rt, 3)
    rt.configure_table("bronze.t001", enabled=False)
    cp = rt.checkpoints.create()
    assert cp is not None and [t.table for t in cp.tables] == ["bronze.t000", "bronze.t002"]
    assert cp.scope == "PipelineConfig"


def test_a_missing_table_fails_the_checkpoint_but_not_the_sync(rt: fmd.Runtime) -> None:
    build(rt, 2)
    cp = rt.checkpoints.create(["bronze.t000", "bronze.gone"])
    assert cp is not None and cp.validation_status == "Failed" and cp.tables_included == 1
    rows = rt.store.read("DataValidation", {"CheckpointId": cp.checkpoint_id})
    assert [(r["TableName"], r["CheckName"]) for r in rows] == [("gone", "TableReadable")]


@pytest.fixture
def flaky(engine: DeltaEngine) -> Iterator[Any]:
    """A Runtime on the real engine, and ``conflicts(n)``: its next ``n`` writes to
    CheckpointHistory conflict (`FaultyEngine`)."""
    faulty = FaultyEngine(engine)

    def conflicts(n: int) -> None:
        faulty.clear()
        faulty.fail(
            "write",
            tables={"CheckpointHistory"},
            times=n,
            error=lambda t: ConcurrentWriteError(
                "simulated commit conflict", table=t.name if t else None
            ),
        )

    runtime = connect(faulty, "flaky-run")
    runtime.checkpoints.retry_wait_seconds = 0
    yield runtime, conflicts
    runtime.close()


def test_transient_failures_are_retried_twice(flaky: Any) -> None:
    rt, conflicts = flaky
    build(rt, 2)
    conflicts(2)
    cp = rt.checkpoints.create("bronze.*")
    assert cp is not None and cp.validation_status == "Validated"
    assert len(rt.store.read("CheckpointHistory")) == 1
    assert len(rt.store.read("CheckpointTables")) == 2


def test_a_failing_daily_checkpoint_never_fails_the_caller_but_manual_raises(flaky: Any) -> None:
    rt, conflicts = flaky
    build(rt, 2)
    conflicts(3)
    assert rt.checkpoints.create("bronze.*") is None
    conflicts(3)
    with pytest.raises(CheckpointError, match="Manual checkpoint of bronze.\\* failed"):
        rt.checkpoints.create("bronze.*", kind="Manual")
    conflicts(3)
    assert rt.checkpoints.create("bronze.*", kind="Manual", raise_on_failure=False) is None
    events = audit(rt, "CheckpointCreated")
    assert [e["Status"] for e in events] == ["Failed"] * 3
    assert all(e["ErrorType"] in ("StoreError", "CheckpointError") for e in events)
    assert rt.store.read("CheckpointHistory") == []


def test_three_consecutive_failing_days_raise_an_alert(flaky: Any) -> None:
    from datetime import timedelta

    rt, conflicts = flaky
    build(rt, 1)
    conflicts(3)
    assert rt.checkpoints.create("bronze.*") is None
    assert not [a for a in audit(rt, "Alert") if "3 days in a row" in (a["Details"] or "")]
    # the two previous days failed as well: the same failure event, one and two days earlier
    event = audit(rt, "CheckpointCreated")[0]
    import uuid

    rt.store.append(
        "SyncAuditLog",
        [
            event
            | {"EventId": str(uuid.uuid4()), "EventTime": event["EventTime"] - timedelta(days=d)}
            for d in (1, 2)
        ],
    )
    conflicts(3)
    assert rt.checkpoints.create("bronze.*") is None
    alerts = [a for a in audit(rt, "Alert") if "3 days in a row" in (a["Details"] or "")]
    assert len(alerts) == 1 and "DailyBatch:bronze.*" in alerts[0]["Details"]


def test_names_stay_unique_across_concurrent_creators(engine: DeltaEngine) -> None:
    """Two connections (two processes' worth of locks) creating the same name at once."""
    from concurrent.futures import ThreadPoolExecutor

    first = connect(engine, "a")
    build(first, 1)
    second = connect(twin(engine), "b")
    for runtime in (first, second):
        runtime.checkpoints.retry_wait_seconds = 0
    each = size(engine, 3, 2)

    def create(runtime: fmd.Runtime) -> list[str]:
        out = []
        for _ in range(each):
            cp = runtime.checkpoints.create(["bronze.t000"], kind="Manual", name="same")
            assert cp is not None
            out.append(cp.checkpoint_name)
        return out

    with ThreadPoolExecutor(2) as pool:
        names = [n for ns in pool.map(create, [first, second]) for n in ns]
    stored = sorted(r["CheckpointName"] for r in first.store.read("CheckpointHistory"))
    assert sorted(names) == stored and len(set(stored)) == 2 * each
    assert set(stored) == {"same", *(f"same_{i}" for i in range(2, 2 * each + 1))}
    first.close()
    second.close()


def race_next_header(engine: FaultyEngine) -> None:
    """Another creator commits the same name just before our next CheckpointHistory header lands
    (a hook on the real engine: the rival row goes in first, then ours)."""

    def rival(table: TableRef | None, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        assert table is not None
        data = args[1] if len(args) > 1 else kw["data"]
        row = data.to_pylist()[0]
        row |= {"CheckpointId": "rival", "CreatedDate": row["CreatedDate"] - timedelta(seconds=1)}
        passed = {k: v for k, v in kw.items() if k != "data"}
        engine.inner.write(table, pa.Table.from_pylist([row], schema=data.schema), **passed)

    engine.on("write", rival, tables={"CheckpointHistory"}, times=1)


def test_the_later_of_two_same_name_creators_renames_itself(engine: DeltaEngine) -> None:
    racing = FaultyEngine(engine)
    rt = connect(racing, "race")
    build(rt, 1)
    race_next_header(racing)
    cp = rt.checkpoints.create(["bronze.t000"], kind="Manual", name="nightly")
    assert cp is not None and cp.checkpoint_name == "nightly_2"
    stored = {r["CheckpointId"]: r["CheckpointName"] for r in rt.store.read("CheckpointHistory")}
    assert stored == {"rival": "nightly", cp.checkpoint_id: "nightly_2"}
    assert rt.checkpoints.get("nightly_2").checkpoint_id == cp.checkpoint_id
    rt.close()


def test_a_failing_report_does_not_undo_a_written_checkpoint(engine: DeltaEngine) -> None:
    """DataValidation refuses every write (storage): the checkpoint stays written."""
    faulty = FaultyEngine(engine).fail(
        "write",
        tables={"DataValidation"},
        error=lambda t: OSError("simulated: DataValidation is not writable"),
    )
    rt = connect(faulty, "report")
    rt.checkpoints.retry_wait_seconds = 0
    build(rt, 1)
    rt.engine.update(rt.table("bronze.t000"), {"Id": [3]}, {"IsDeleted": True, "IsPurged": True})
    cp = rt.checkpoints.create("bronze.*", kind="Manual")
    assert cp is not None and cp.validation_status == "Failed"
    assert rt.checkpoints.get(cp.checkpoint_name).tables[0].validation_message
    rt.close()
