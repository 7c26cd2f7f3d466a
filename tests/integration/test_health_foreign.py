"""Foreign operations: VACUUM, OPTIMIZE, overwrites and property changes the library did not make,
found in the tables' real history and judged against real checkpoints, on every engine (delta-rs,
Spark + Delta).

"Someone else" is the engine itself called without the library's commit options (as a portal
table maintenance, a pipeline's Lakehouse Maintenance activity or a notebook does it); the
library's own commits go through ``rt`` (maintenance, checkpoints, the store).
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pyarrow as pa
import pytest
from engines import age, table_dir

import fmd_runtime as fmd
from fmd_runtime.engine import Column, DeltaEngine
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._foreign import ForeignScan, scan_foreign_operations
from fmd_runtime.health._history import is_library_commit, operation_kind
from fmd_runtime.testing import FaultyEngine

COLUMNS = [Column(name="Id", type="bigint"), Column(name="Name", type="string")]


def rows(n0: int, n: int) -> pa.Table:
    return pa.table(
        {
            "Id": pa.array(range(n0, n0 + n), pa.int64()),
            "Name": [f"n{i}" for i in range(n0, n0 + n)],
        }
    )


@pytest.fixture
def rt(any_rt: fmd.Runtime) -> fmd.Runtime:
    """Every scenario of this module runs on every engine (`any_rt`: delta-rs, Spark + Delta)."""
    return any_rt


def make(rt: fmd.Runtime, name: str, *, writes: int = 2) -> None:
    t = rt.table(name)
    rt.engine.create(t, COLUMNS)
    for i in range(writes):
        rt.engine.write(t, rows(10 * i + 1, 3))


def alerts(rt: fmd.Runtime) -> list[dict[str, Any]]:
    return [
        json.loads(a["Details"])
        for a in rt.store.read("SyncAuditLog", {"Operation": "Alert", "Status": "Raised"})
    ]


def high_alerts(rt: fmd.Runtime) -> list[dict[str, Any]]:
    return [a for a in alerts(rt) if a["severity"] == "HIGH"]


def test_an_outside_vacuum_is_reported_with_the_operation_and_the_unrestorable_checkpoint(
    rt: fmd.Runtime,
) -> None:
    for name in ("bronze.account", "bronze.contact"):
        make(rt, name)
    cp = rt.checkpoints.create(["bronze.account", "bronze.contact"], kind="Manual")
    assert cp is not None
    pinned = cp.table("bronze.account")
    first = scan_foreign_operations(rt)
    assert sorted(first.tables_scanned) == ["bronze.account", "bronze.contact"]
    assert first.operations == [] and first.findings == []
    assert first.library_commits >= 2  # the checkpoint's retention raise on each table

    t = rt.table("bronze.account")
    rt.engine.write(t, rows(100, 2), mode="overwrite")  # the pinned version's files are removed
    # an operator's VACUUM outside the library, with the safety check off
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)

    scan = scan_foreign_operations(rt)
    assert scan.checkpoints_verified == [cp.checkpoint_name]
    by_kind = {o.kind: o for o in scan.operations}
    assert sorted(by_kind) == ["overwrite", "vacuum"]
    vacuum = by_kind["vacuum"]
    assert vacuum.table == "bronze.account" and vacuum.operation == "VACUUM START"
    assert vacuum.harmful and vacuum.affected_checkpoints == [cp.checkpoint_name]
    assert vacuum.restorability_after == "Unrestorable"
    assert vacuum.missing_files == pinned.file_count == 2
    assert vacuum.files_removed is not None and vacuum.files_removed >= 2
    assert vacuum.engine_info  # who wrote it, as the history says
    assert not by_kind[
        "overwrite"
    ].harmful  # it removed the files from the log, VACUUM deleted them

    high = [f for f in scan.findings if f.severity == "HIGH"]
    assert len(high) == 1 and high[0].check == "foreign.vacuum"
    message = high[0].message
    assert message.startswith(f"VACUUM at {vacuum.when} by someone else")
    assert f"checkpoint {cp.checkpoint_name} needs: Unrestorable" in message
    assert "2 files missing" in message and high[0].table == "bronze.account"
    assert [f.check for f in scan.findings if f.severity == "MEDIUM"] == ["foreign.overwrite"]

    raised = high_alerts(rt)
    assert len(raised) == 1, raised  # the scan's alert, not a second one from the verification
    assert "VACUUM at" in raised[0]["title"] and cp.checkpoint_name in raised[0]["title"]
    header = rt.store.read("CheckpointHistory", {"CheckpointId": cp.checkpoint_id})[0]
    assert header["RestorabilityStatus"] == "Unrestorable"
    events = rt.store.read("SyncAuditLog", {"Operation": "ForeignOperation"})
    assert sorted(json.loads(e["Details"])["kind"] for e in events) == ["overwrite", "vacuum"]

    # the next scan starts at the high-water mark: nothing new, nothing reported again
    assert scan.high_water_marks["bronze.account"] == rt.engine.version(t)
    again = scan_foreign_operations(rt)
    assert again.commits_read == 0 and again.operations == [] and again.findings == []
    assert again.high_water_marks == scan.high_water_marks
    assert len(high_alerts(rt)) == 1


def test_harmless_foreign_optimize_is_listed_as_info(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account", writes=3)
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual")
    assert cp is not None
    scan_foreign_operations(rt)
    t = rt.table("bronze.account")
    rt.engine.optimize(t)  # compaction by someone else: the pinned files stay in storage

    scan = scan_foreign_operations(rt)
    assert [(o.kind, o.harmful) for o in scan.operations] == [("optimize", False)]
    op = scan.operations[0]
    assert op.affected_checkpoints == [] and op.restorability_after is None  # nothing to verify
    assert [(f.severity, f.check) for f in scan.findings] == [("INFO", "foreign.optimize")]
    assert "harmless" in scan.findings[0].message
    assert scan.checkpoints_verified == []  # an OPTIMIZE deletes nothing: no verification
    assert high_alerts(rt) == []


def test_the_librarys_own_maintenance_and_writes_are_not_foreign(rt: fmd.Runtime) -> None:
    t = rt.table("bronze.account")
    rt.engine.create(t, COLUMNS, commit=rt.commit_options())
    rt.engine.write(t, rows(1, 3), commit=rt.commit_options())
    rt.engine.write(t, rows(10, 3), mode="overwrite", commit=rt.commit_options())
    # the replaced file is old enough for VACUUM (168 hours), its commits young enough to stay
    # in the log when a log checkpoint cleans up (30 days)
    age(rt.engine, t, {0: 10, 1: 10, 2: 10})
    for i in range(2):
        rt.engine.write(t, rows(20 + 10 * i, 3), commit=rt.commit_options())
    rt.configure_table(t.name, enable_vacuum=True, enable_optimize=True)
    result = rt.maintenance.run(
        rt.maintenance.plan(t.name, include_metadata_tables=False), dry_run=False
    )
    assert result.status == "Succeeded", result.to_text()
    assert result.tables[0].files_removed >= 1  # a real VACUUM ran
    assert rt.checkpoints.create([t.name], kind="Manual") is not None  # raises retention

    history = rt.engine.history(t)
    kinds = {operation_kind(e) for e in history}
    assert {"vacuum", "optimize", "overwrite", "properties"} <= kinds
    assert all(is_library_commit(e) for e in history if operation_kind(e)), [
        (e.version, e.operation, e.user_metadata) for e in history
    ]
    metadata = [rt.store.ref(n).name for n in ("SyncAuditLog", "CheckpointHistory", "HealthScans")]
    scan = scan_foreign_operations(rt, [t.name, *metadata])
    assert scan.operations == [] and scan.findings == [] and scan.failures == {}
    assert scan.library_commits >= len([e for e in history if operation_kind(e)])


def test_a_second_scan_reads_only_the_new_commits(engine: DeltaEngine) -> None:
    traced = FaultyEngine(engine)
    bounds: list[Any] = []
    traced.on("history", lambda t, a, kw: bounds.append(kw.get("since_version")))
    runtime = fmd.connect(engine=traced, run_id="scan-run")
    try:
        make(runtime, "bronze.account")
        first = scan_foreign_operations(runtime, ["bronze.account"])
        mark = first.high_water_marks["bronze.account"]
        assert bounds == [None]  # a first scan: the bounded newest commits
        t = runtime.table("bronze.account")
        runtime.engine.write(t, rows(50, 2))
        runtime.engine.optimize(t)
        second = scan_foreign_operations(runtime, ["bronze.account"])
        assert bounds == [None, mark]  # from the mark on, read once
        assert second.commits_read == 2 and [o.kind for o in second.operations] == ["optimize"]
        assert [o.version for o in second.operations] == [mark + 2]
        third = scan_foreign_operations(runtime, ["bronze.account"])
        assert third.commits_read == 0 and third.operations == []
        marks = runtime.store.read("HealthScans", {"TableName": "account"})
        assert sorted(r["LastVersion"] for r in marks) == [mark, mark + 2, mark + 2]
    finally:
        runtime.close()


# --------------------------------------------------------------------------- delta-rs breadth


def test_a_foreign_retention_change_that_puts_a_checkpoint_at_risk_is_harmful(
    rt: fmd.Runtime,
) -> None:
    make(rt, "bronze.account")
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual")
    assert cp is not None
    scan_foreign_operations(rt)
    t = rt.table("bronze.account")
    rt.engine.set_properties(t, {"delta.deletedFileRetentionDuration": "interval 1 days"})

    scan = scan_foreign_operations(rt)
    [op] = scan.operations
    assert op.kind == "properties" and op.harmful and op.restorability_after == "AtRisk"
    assert op.affected_checkpoints == [cp.checkpoint_name]
    assert "delta.deletedFileRetentionDuration" in op.parameters.get("properties", "")
    [finding] = scan.findings
    assert finding.severity == "HIGH" and "changed the retention" in finding.message
    assert len(high_alerts(rt)) == 1


def test_a_checkpoint_broken_before_a_later_vacuum_is_not_blamed_on_it(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual")
    assert cp is not None
    t = rt.table("bronze.account")
    rt.engine.write(t, rows(100, 2), mode="overwrite")
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)
    first = scan_foreign_operations(rt)  # the VACUUM that broke it, reported once
    assert [o.kind for o in first.operations if o.harmful] == ["vacuum"]
    rt.engine.write(t, rows(200, 2), mode="overwrite")
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)  # a later one
    later = scan_foreign_operations(rt)
    assert [(o.kind, o.harmful) for o in later.operations] == [
        ("overwrite", False),
        ("vacuum", False),
    ]
    [broken] = [f for f in later.findings if f.severity == "HIGH"]
    assert broken.check == "foreign.unexplained" and cp.checkpoint_name in broken.message
    assert "already Unrestorable when verified" in broken.message


def test_an_untagged_vacuum_the_audit_log_shows_as_the_librarys_is_not_foreign(
    rt: fmd.Runtime,
) -> None:
    """History written before VACUUM carried commit metadata: the library's audited VACUUM of
    that table at that time identifies it."""
    make(rt, "bronze.account")
    t = rt.table("bronze.account")
    rt.engine.write(t, rows(100, 2), mode="overwrite", commit=rt.commit_options())
    scan_foreign_operations(rt, [t.name])
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)
    # the event maintenance writes after its VACUUM: the table, the time, how long it took
    rt.audit.event("Vacuum", "Succeeded", table=t, duration_ms=60_000, dry_run=False, flush=True)
    scan = scan_foreign_operations(rt, [t.name])
    assert scan.operations == [] and scan.library_commits == 2  # VACUUM START and END

    rt.engine.write(t, rows(200, 2), mode="overwrite", commit=rt.commit_options())
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)
    latest = rt.engine.version(t)
    age(rt.engine, t, {latest - 1: 1.0, latest: 1.0})  # a day away from the audited VACUUM
    late = scan_foreign_operations(rt, [t.name])  # no event covers this one: someone else's
    assert [o.kind for o in late.operations] == ["vacuum"]


def test_a_dropped_table_a_checkpoint_pins_is_a_high_finding(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual")
    assert cp is not None
    shutil.rmtree(table_dir(rt.engine, rt.table("bronze.account")))
    scan = scan_foreign_operations(rt)
    assert "bronze.account" in scan.failures and scan.tables_scanned == []
    [finding] = scan.findings
    assert finding.check == "foreign.table_dropped" and finding.severity == "HIGH"
    assert cp.checkpoint_name in finding.message and "no longer exists" in finding.message


def test_a_first_scan_lists_only_the_recent_commits(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account", writes=3)
    t = rt.table("bronze.account")
    rt.engine.optimize(t)
    old = rt.engine.version(t)
    age(rt.engine, t, dict.fromkeys(range(old + 1), 40.0))  # all of it 40 days ago
    rt.engine.write(t, rows(90, 2), mode="overwrite")
    scan = scan_foreign_operations(rt, [t.name], first_scan_days=30)
    assert [o.kind for o in scan.operations] == ["overwrite"]
    assert scan.high_water_marks["bronze.account"] == old + 1
    notes = rt.store.read("HealthScans", {"TableName": "account"})[0]["Notes"]
    assert notes and notes.startswith("first scan")


def test_record_false_writes_nothing_and_the_next_scan_sees_the_same(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account", writes=3)
    rt.engine.optimize(rt.table("bronze.account"))
    look = scan_foreign_operations(rt, ["bronze.account"], record=False)
    assert [o.kind for o in look.operations] == ["optimize"]
    assert rt.store.read("HealthScans") == []
    assert rt.store.read("SyncAuditLog", {"Operation": "ForeignScan"}) == []
    again = scan_foreign_operations(rt, ["bronze.account"])
    assert [o.kind for o in again.operations] == ["optimize"]


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"tables": "bronze.account"}, "tables"),
        ({"max_commits": 0}, "max_commits"),
        ({"first_scan_days": "many"}, "first_scan_days"),
        ({"record": "maybe"}, "record"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read(
    rt: fmd.Runtime, kwargs: dict[str, Any], word: str
) -> None:
    make(rt, "bronze.account", writes=1)
    with pytest.raises(ConfigError, match=word):
        scan_foreign_operations(rt, **kwargs)
    assert rt.store.read("HealthScans") == []


def test_scan_result_is_a_frozen_model() -> None:
    scan = ForeignScan()
    with pytest.raises(Exception):  # noqa: B017, PT011 - pydantic's frozen-instance error
        scan.commits_read = 3  # type: ignore[misc]
    assert scan.harmful == []
