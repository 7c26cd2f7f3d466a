"""Maintenance on real Delta tables, on every engine (delta-rs, Spark + Delta).

The acceptance scenario needs a checkpoint that is 10 days old with later overwrites, and a VACUUM
with a 168-hour retention. Nobody waits 10 days in a test, so `engines.age` moves the table's
history back in time: it rewrites each commit of the ``_delta_log`` with its timestamps (commit
time, the ``deletionTimestamp`` of every ``remove`` action, the ``modificationTime`` of every
``add``) shifted into the past, the commit files' and the added files' modification times with
them, and the checkpoint's rows (CreatedDate, VersionTimestamp, RetentionDate) shifted the same
way. Delta's VACUUM decides what to delete only from those timestamps compared with "now minus the
retention" (and Delta 4.1+ bounds RESTORE by the commit time), so an aged table is, for VACUUM and
RESTORE, exactly the table as it would be 10 days later. The engine, the files, the VACUUM and the
RESTORE are all real; nothing is mocked.

What the scenario proves: with the same table and the same clock, a raw VACUUM with Delta's check
off deletes files the checkpoint's pinned version needs (it becomes unrestorable), and the
library's VACUUM deletes files nobody needs but keeps the checkpoint's (delta-rs: ``keep_versions``;
Spark: a retention covering the checkpoint), after which a RESTORE to the pinned version gives back
the pinned version's rows, row for row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import age, connect, forget_log, log_covers_files, read, rows, table_dir

import fmd_runtime as fmd
from fmd_runtime import cli
from fmd_runtime.engine import Column, DeltaEngine
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import EngineError, RetentionError
from fmd_runtime.maintenance import BASELINE_PREFIX, DELETED_FILE_RETENTION, LOG_RETENTION
from fmd_runtime.store.schemas import ALL_TABLES
from fmd_runtime.tables import TableRef
from fmd_runtime.testing import FaultyEngine

COLUMNS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="Name", type="string"),
    Column(name="IsDeleted", type="boolean"),
]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def rt(any_rt: fmd.Runtime) -> fmd.Runtime:
    """Every scenario of this module runs on every engine (`any_rt`: delta-rs, Spark + Delta)."""
    return any_rt


def no_keep_versions(engine: DeltaEngine) -> FaultyEngine:
    """The real delta-rs engine with ``keep_versions`` switched off, as on Spark: the engine says
    it cannot keep versions, and a VACUUM that asks it to is refused."""
    wrapped = FaultyEngine(engine).fail(
        "vacuum",
        match=lambda t, a, kw: bool(kw.get("keep_versions")),
        error=lambda t: EngineError(
            "vacuum: keep_versions is not supported", table=t.name if t else None
        ),
    )
    wrapped.supports_keep_versions = False  # type: ignore[attr-defined]  # what Spark reports
    return wrapped


@pytest.fixture
def no_keep(engine: DeltaEngine) -> Iterator[fmd.Runtime]:
    """A Runtime on an engine that cannot keep versions: Spark as it is, delta-rs with
    ``keep_versions`` switched off."""
    real = engine if not engine.supports_keep_versions else no_keep_versions(engine)
    runtime = connect(real, "no-keep")
    yield runtime
    runtime.close()


def failing_vacuum(engine: DeltaEngine, tables: set[str]) -> FaultyEngine:
    """The real engine whose real (not dry-run) VACUUM fails for the named tables."""
    return FaultyEngine(engine).fail(
        "vacuum",
        tables=tables,
        match=lambda _t, _args, kw: kw.get("dry_run") is False,
        error=lambda t: EngineError(
            "vacuum failed: injected storage fault",
            table=t.name if t else None,
            hint="retry later",
        ),
    )


def age_checkpoint(
    rt: fmd.Runtime, checkpoint_id: str, days: float, *, retention_days: int
) -> None:
    """Move a checkpoint's dates ``days`` back (its retention date follows its creation date)."""
    row = rt.store.read("CheckpointHistory", {"CheckpointId": checkpoint_id})[0]
    created = row["CreatedDate"] - timedelta(days=days)
    rt.store.update(
        "CheckpointHistory",
        {"CheckpointId": checkpoint_id},
        {
            "CreatedDate": created,
            "RetentionDate": (created + timedelta(days=retention_days)).date(),
        },
    )
    for t in rt.store.read("CheckpointTables", {"CheckpointId": checkpoint_id}):
        where = {"CheckpointId": checkpoint_id, "TableName": t["TableName"]}
        rt.store.update(
            "CheckpointTables",
            where,
            {"VersionTimestamp": t["VersionTimestamp"] - timedelta(days=days)},
        )


def batch(n0: int, n: int) -> pa.Table:
    return pa.table(
        {
            "Id": pa.array(range(n0, n0 + n), pa.int64()),
            "Name": [f"n{i}" for i in range(n0, n0 + n)],
            "IsDeleted": [False] * n,
        }
    )


PINNED = batch(1, 50)
"""The rows of the scenario's pinned version."""


def build_scenario(
    rt: fmd.Runtime,
    name: str = "bronze.account",
    *,
    protect: bool = True,
    twins: tuple[str, ...] = (),
) -> tuple[TableRef, int, str]:
    """A table with a Manual checkpoint pinned 10 days ago, then overwrites 9 and 8 days ago and today.

    Its history starts 40 days ago with a file replaced then: a file no checkpoint needs, older
    than any retention one asks for, so VACUUM reclaims something on every engine (one that cannot
    keep versions VACUUMs with a retention that covers the checkpoint). Those commits are aged
    before the checkpoint writes its log checkpoint, as they would be in a real table's log.

    ``protect``: the checkpoint raises the table's retention properties (its default).
    ``twins``: tables built the same way, in the same checkpoint (same versions).
    Returns the table, the pinned version and the checkpoint id.
    """
    refs = [rt.table(n) for n in (name, *twins)]
    for t in refs:
        rt.engine.create(t, COLUMNS)
        rt.engine.write(t, batch(900, 5))
        junk = rt.engine.write(t, batch(950, 5), mode="overwrite")  # nobody needs v1's file
        age(rt.engine, t, {v: 40 for v in range(junk + 1)})
        pinned = rt.engine.write(t, PINNED, mode="overwrite")  # what the checkpoint keeps
    rt.configure_table(name, primary_key=["Id"], deleted_flag="IsDeleted", zorder_columns=["Id"])
    cp = rt.checkpoints.create(
        [t.name for t in refs],
        kind="Manual",
        name=f"cp_{refs[0].table}_10_days_ago",
        protect_retention=protect,
    )
    assert cp is not None
    for t in refs:
        at_checkpoint = rt.engine.version(t)  # creating it may commit raised retention properties
        overwrite = rt.engine.write(t, batch(100, 30), mode="overwrite")  # removes the pinned file
        rt.engine.update(t, {"Id": [100, 101]}, {"IsDeleted": True})  # rewrites / marks that file
        update = rt.engine.version(t)
        rt.engine.write(t, batch(200, 5))  # today
        ages = {v: 10 for v in range(pinned, at_checkpoint + 1)}
        age(rt.engine, t, ages | {overwrite: 9, update: 8})
    age_checkpoint(rt, cp.checkpoint_id, 10, retention_days=30)
    return refs[0], pinned, cp.checkpoint_id


def files_state(rt: fmd.Runtime, tables: list[str]) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file of these tables and of the metadata tables but the audit log."""
    refs = [rt.table(n) for n in tables]
    refs += [rt.store.ref(s.name) for s in ALL_TABLES if s.name != "SyncAuditLog"]
    out = {}
    for ref in refs:
        root = table_dir(rt.engine, ref)
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[f"{ref.name}/{p.relative_to(root)}"] = (p.stat().st_size, p.stat().st_mtime_ns)
    return out


def audit(rt: fmd.Runtime, operation: str) -> list[dict[str, Any]]:
    rt.audit.flush()
    where = {"RunId": rt.context.run_id, "Operation": operation}
    return rt.store.read("SyncAuditLog", where, order_by="EventTime")


# --------------------------------------------------------------------------- the acceptance scenario


def test_library_vacuum_keeps_a_10_day_old_checkpoint_restorable_while_raw_vacuum_breaks_it(
    rt: fmd.Runtime,
) -> None:
    t, pinned, _ = build_scenario(rt, twins=("bronze.account_raw",))
    twin = rt.table("bronze.account_raw")  # the same table, the same checkpoint: VACUUMed raw
    expected = rows(rt.engine, t, "Id", pinned)  # a time-travel read before any VACUUM
    assert rows(rt.engine, twin, "Id", pinned) == expected

    # Without the library: a VACUUM of the twin. The checkpoint raised the table's
    # delta.deletedFileRetentionDuration, so a raw 168-hour VACUUM is refused (Delta's retention
    # check; Delta 4.1+ would take the property's retention instead, so the adapter refuses it);
    # with the check disabled (as workspaces do to use short retentions) it deletes: RETAIN 0,
    # the one retention Delta 4.1+ still honours over the property.
    raw = rt.engine
    with pytest.raises(RetentionError, match="[Rr]etention"):
        raw.vacuum(twin, retention_hours=168, dry_run=False)
    removed = raw.vacuum(twin, retention_hours=0, dry_run=False, enforce_retention=False)
    assert removed.files, (
        "the raw VACUUM must have something to delete for this scenario to mean anything"
    )
    assert raw.missing_files(twin, pinned), (
        "the raw VACUUM deleted files the checkpoint's version needs"
    )
    with pytest.raises(EngineError):
        raw.restore(twin, pinned)
        read(raw, twin)

    # Through the library: how it protects the checkpoint is the engine's capability (the port).
    keeps = rt.engine.supports_keep_versions
    plan = rt.maintenance.plan(t.name, include_metadata_tables=False)
    tp = plan.table(t.name)
    assert tp.vacuum == "run" and tp.zorder_by == ("Id",)
    if keeps:  # delta-rs: the operator's 168 hours, the pinned version's files kept by VACUUM
        assert tp.retention_hours == 168
        assert tp.protection == "keep_versions" and tp.keep_versions == (pinned,)
        # the unprotected VACUUM would have deleted the checkpoint's files
        assert tp.protected_files >= 1
    else:  # Spark: a retention that covers the checkpoint until it expires (10 + 20 days + margin)
        assert tp.retention_hours is not None and tp.retention_hours >= 31 * 24
        assert tp.protection == "retention" and tp.keep_versions == ()
        assert tp.protected_files == 0  # nothing of the checkpoint's is a candidate at all
    result = rt.maintenance.run(plan, dry_run=False)
    assert result.status == "Succeeded", result.to_text()
    run = result.tables[0]
    assert run.files_removed >= 1 and run.bytes_reclaimed > 0  # storage was reclaimed ...
    assert set(run.vacuum_files).isdisjoint(f.path for f in rt.engine.files(t, pinned))
    assert rt.engine.missing_files(t, pinned) == []  # ... but not from the checkpoint

    rt.engine.restore(t, pinned)
    assert rows(rt.engine, t, "Id") == expected  # restorable, row for row
    vacuums = audit(rt, "Vacuum")
    assert [v["Status"] for v in vacuums] == ["Succeeded"]
    details = json.loads(vacuums[0]["Details"])
    assert details["keep_versions"] == list(tp.keep_versions)
    assert details["files_removed"] == run.files_removed
    optimizes = audit(rt, "Optimize")
    assert [o["Status"] for o in optimizes] == ["Succeeded"]
    assert json.loads(optimizes[0]["Details"])["zorder_by"] == ["Id"]
    assert audit(rt, "MaintenanceSummary")
    assert log_covers_files(rt.engine, t)


def test_engine_without_keep_versions_raises_retention_to_cover_the_checkpoint_and_lowers_it_later(
    no_keep: fmd.Runtime,
) -> None:
    rt = no_keep
    # A checkpoint that did not raise the table's retention: maintenance must protect it. (Its
    # 10-day-old version is past the default 7 days: Delta 4.1+ refuses to read it until then.)
    t, pinned, cp_id = build_scenario(rt, protect=False)
    expected = sorted(PINNED.to_pylist(), key=lambda r: r["Id"])

    plan = rt.maintenance.plan(t.name, include_metadata_tables=False)
    tp = plan.table(t.name)
    assert tp.vacuum == "run" and tp.protection == "retention" and tp.keep_versions == ()
    assert (
        tp.retention_hours is not None and tp.retention_hours >= 31 * 24
    )  # 10 days old + 20 to go + margin
    raise_del = [c for c in tp.property_changes if c.property == DELETED_FILE_RETENTION]
    assert raise_del and raise_del[0].direction == "raise"
    result = rt.maintenance.run(plan, dry_run=False)
    assert result.status == "Succeeded", result.to_text()
    props = rt.engine.properties(t)
    assert props[DELETED_FILE_RETENTION] == raise_del[0].new
    assert props[BASELINE_PREFIX + DELETED_FILE_RETENTION] == "default"
    assert log_covers_files(rt.engine, t)
    assert rt.engine.missing_files(t, pinned) == []
    # Time travel, not RESTORE: a RESTORE would also bring back the pinned version's properties.
    assert rows(rt.engine, t, "Id", pinned) == expected

    # The checkpoint expires: the next plan lowers the retention back to the operator's value.
    rt.store.update("CheckpointHistory", {"CheckpointId": cp_id}, {"IsActive": False})
    later = rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name)
    lower = [c for c in later.property_changes if c.property == DELETED_FILE_RETENTION]
    assert lower and lower[0].direction == "lower" and lower[0].new == "interval 7 days"
    # This run still retains the current value (its VACUUM was proved with it), then lowers it.
    assert later.retention_hours == int(raise_del[0].new.split()[1]) * 24
    rt.maintenance.run(rt.maintenance.plan(t.name, include_metadata_tables=False), dry_run=False)
    assert rt.engine.properties(t)[DELETED_FILE_RETENTION] == "interval 7 days"
    assert (
        rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name).retention_hours
        == 168
    )


def test_a_raised_retention_keeps_an_aged_checkpoint_restorable_past_the_default_retention(
    rt: fmd.Runtime,
) -> None:
    """10 days on, past the 7 days of delta.deletedFileRetentionDuration a table has by default:
    the checkpoint that raised its table's properties restores; the one that did not is
    Unrestorable, and Delta 4.1+ (Fabric Runtime 2.0) refuses to read its version at all."""
    kept, bare = rt.table("bronze.account"), rt.table("bronze.contact")
    pinned = {}
    for t in (kept, bare):
        rt.engine.create(t, COLUMNS)
        pinned[t.name] = rt.engine.write(t, batch(1, 20))
    protected = rt.checkpoints.create([kept.name], kind="Manual", name="raised")
    unprotected = rt.checkpoints.create(
        [bare.name], kind="Manual", name="bare", protect_retention=False
    )
    assert protected and unprotected
    assert rt.engine.properties(kept)[DELETED_FILE_RETENTION] == "interval 32 days"
    assert log_covers_files(rt.engine, kept)
    for t in (kept, bare):
        age(rt.engine, t, {v: 10 for v in range(rt.engine.version(t) + 1)})
        rt.engine.write(t, batch(100, 5))  # today
    for cp in (protected, unprotected):
        age_checkpoint(rt, cp.checkpoint_id, 10, retention_days=30)
    expected = rows(rt.engine, kept, "Id", pinned[kept.name])

    results = {r.checkpoint_name: r for r in rt.checkpoints.verify_all()}
    assert results["raised"].status == "Restorable"
    gone = results["bare"].tables[0]
    assert results["bare"].status == gone.status == "Unrestorable"
    assert f"older than {DELETED_FILE_RETENTION} (7 days)" in (gone.reason or "")
    assert "refuses RESTORE" in (gone.reason or "")

    rt.engine.restore(kept, pinned[kept.name])
    assert rows(rt.engine, kept, "Id") == expected  # 10 days old, restored row for row
    try:
        read(rt.engine, bare, pinned[bare.name])
        refused = None
    except EngineError as exc:
        refused = str(exc)
    # The release whose VACUUM reads the table's property (Delta 4.1+) refuses the read itself.
    assert (refused is not None) == rt.engine.vacuum_reads_table_retention, refused
    assert refused is None or DELETED_FILE_RETENTION in refused


# --------------------------------------------------------------------------- refusals and dry runs


def test_a_24_hour_retention_is_refused_with_a_clear_message(rt: fmd.Runtime) -> None:
    t = rt.table("bronze.account")
    rt.engine.create(t, COLUMNS)
    rt.engine.write(t, batch(1, 5))
    with pytest.raises(RetentionError) as info:
        rt.maintenance.plan(t.name, min_retention_hours=24)
    assert "VACUUM retention of 24 hours" in str(info.value)
    assert "is below the safety floor of 168 hours" in str(info.value)
    assert "What to do" in str(info.value)

    rt.configure_table(t.name, vacuum_retention_hours=24)
    tp = rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name)
    assert (
        tp.vacuum == "refused"
        and "24 hours (VacuumRetentionHours) is below the safety floor" in (tp.error or "")
    )
    result = rt.maintenance.run(
        rt.maintenance.plan(t.name, include_metadata_tables=False), dry_run=False
    )
    assert result.tables[0].status == "Refused" and result.files_removed == 0

    with pytest.raises(RetentionError, match="below the safety floor"):
        rt.maintenance.set_retention(t.name, deleted_file_days=1)
    with pytest.raises(RetentionError, match="needs a reason"):
        rt.maintenance.plan(t.name, allow_below_floor=True)
    refusals = [r for r in audit(rt, "MaintenancePlan") if r["Status"] == "Refused"]
    assert refusals and any("24 hours" in (r["ErrorSummary"] or "") for r in refusals)
    assert [r["Status"] for r in audit(rt, "RetentionChange")] == ["Refused"]


def test_below_the_tables_own_deleted_file_retention_is_refused(rt: fmd.Runtime) -> None:
    t = rt.table("bronze.account")
    rt.engine.create(t, COLUMNS, properties={DELETED_FILE_RETENTION: "interval 30 days"})
    rt.engine.write(t, batch(1, 5))
    tp = rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name)
    assert tp.vacuum == "refused"
    assert "below the table's delta.deletedFileRetentionDuration of 720 hours" in (tp.error or "")
    rt.configure_table(t.name, vacuum_retention_hours=720)
    assert rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name).vacuum == "run"


def test_dry_run_changes_no_file(rt: fmd.Runtime) -> None:
    t, pinned, _ = build_scenario(rt)
    other = rt.table("bronze.contact")
    rt.engine.create(other, COLUMNS)
    rt.configure_table(other.name, primary_key=["Id"])
    for i in range(4):
        rt.engine.write(other, batch(i * 10, 10))
    tables = ["bronze.account", "bronze.contact"]
    before_files = files_state(rt, tables)
    before_versions = {
        n: rt.engine.version(rt.table(n)) for n in ("bronze.account", "bronze.contact")
    }

    plan = rt.maintenance.plan()
    result = rt.maintenance.run(plan)  # dry run is the default
    assert result.dry_run and result.status == "Succeeded"
    account = next(r for r in result.tables if r.table == "bronze.account")
    assert account.files_removed >= 1 and account.vacuum_files  # it says what it would delete ...
    contact = next(r for r in result.tables if r.table == "bronze.contact")
    assert "OPTIMIZE would rewrite 4 file(s)" in (contact.optimize_note or "")
    assert files_state(rt, tables) == before_files  # ... and deletes / rewrites nothing
    assert {n: rt.engine.version(rt.table(n)) for n in before_versions} == before_versions
    assert all(r["DryRun"] for r in audit(rt, "Vacuum") + audit(rt, "Optimize"))


# --------------------------------------------------------------------------- degradation, alerts


def _tables(rt: fmd.Runtime, names: list[str]) -> None:
    for name in names:
        t = rt.table(name)
        rt.engine.create(t, COLUMNS)
        rt.engine.write(t, batch(1, 10))
        rt.engine.write(t, batch(11, 10))
        rt.configure_table(name, primary_key=["Id"])


def test_a_failing_table_leaves_the_others_maintained_and_the_summary_names_it(
    engine: DeltaEngine,
) -> None:
    rt = connect(failing_vacuum(engine, {"bronze.contact"}), "faulty")
    names = ["bronze.account", "bronze.contact", "bronze.donation"]
    _tables(rt, names)
    result = rt.maintenance.run(rt.maintenance.plan(include_metadata_tables=False), dry_run=False)
    assert result.status == "PartiallyFailed"
    assert result.tables_failed == 1 and list(result.failures) == ["bronze.contact"]
    assert "injected storage fault" in result.failures["bronze.contact"]
    for name in ("bronze.account", "bronze.donation"):
        run = next(r for r in result.tables if r.table == name)
        assert (
            run.status == "Succeeded"
            and run.optimize_files_removed == 2
            and run.optimize_files_added == 1
        )
        assert len(rt.engine.files(rt.table(name))) == 1  # compacted
    assert "bronze.contact: Failed" in result.to_text()
    failed = [r for r in audit(rt, "Vacuum") if r["Status"] == "Failed"]
    assert [r["TableName"] for r in failed] == ["contact"]
    assert not audit(rt, "Alert")  # one failure is reported, not alerted
    rt.close()


def test_more_than_three_failures_alert(engine: DeltaEngine) -> None:
    names = [f"bronze.t{i}" for i in range(5)]
    rt = connect(failing_vacuum(engine, set(names[:4])), "faulty4")
    _tables(rt, names)
    result = rt.maintenance.run(
        rt.maintenance.plan(include_metadata_tables=False),
        dry_run=False,
        expected_duration_minutes=0,
    )
    assert result.tables_failed == 4 and result.tables_succeeded == 1
    titles = [json.loads(a["Details"])["title"] for a in audit(rt, "Alert")]
    assert "Maintenance: 4 tables failed" in titles
    assert any(t.startswith("Maintenance took") for t in titles)  # longer than expected (0 minutes)
    assert result.alerts and len(result.alerts) == 2
    rt.close()


# --------------------------------------------------------------------------- retention properties


def test_log_retention_that_would_lose_a_checkpoint_is_flagged_at_risk_and_raised(
    rt: fmd.Runtime,
) -> None:
    t = rt.table("bronze.account")
    rt.engine.create(t, COLUMNS, properties={LOG_RETENTION: "interval 7 days"})
    rt.engine.write(t, batch(1, 5))
    # A checkpoint that did not raise the table's properties (protect_retention=False).
    rt.checkpoints.create(
        [t.name], kind="Manual", name="manual_keep_30_days", protect_retention=False
    )
    tp = rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name)
    assert [r.checkpoint for r in tp.at_risk] == ["manual_keep_30_days"]
    assert tp.at_risk[0].recommended_log_retention == "interval 32 days"  # 30 days + today + margin
    change = next(c for c in tp.property_changes if c.property == LOG_RETENTION)
    assert change.direction == "raise" and change.new == "interval 32 days"
    rt.maintenance.run(rt.maintenance.plan(t.name, include_metadata_tables=False), dry_run=False)
    props = rt.engine.properties(t)
    assert props[LOG_RETENTION] == "interval 32 days"
    assert props[BASELINE_PREFIX + LOG_RETENTION] == "interval 7 days"
    assert not rt.maintenance.plan(t.name, include_metadata_tables=False).table(t.name).at_risk


def test_set_retention_is_a_dry_run_by_default_and_never_goes_below_what_checkpoints_need(
    rt: fmd.Runtime,
) -> None:
    t, _, _ = build_scenario(rt)  # the checkpoint (30 days, 10 days old) needs 32 days
    before = rt.engine.properties(t)
    preview = rt.maintenance.set_retention(t.name, log_days=60, deleted_file_days=40)
    assert preview.dry_run and preview.changes[LOG_RETENTION] == "interval 60 days"
    assert preview.changes[DELETED_FILE_RETENTION] == "interval 40 days"
    assert rt.engine.properties(t) == before  # a dry run sets nothing
    for days in ({"log_days": 20}, {"deleted_file_days": 14}):
        with pytest.raises(
            RetentionError, match="below the 32 days active checkpoints need"
        ) as info:
            rt.maintenance.set_retention(t.name, dry_run=False, **days)
        assert "cp_account_10_days_ago" in str(info.value)
    done = rt.maintenance.set_retention(t.name, log_days=60, deleted_file_days=40, dry_run=False)
    assert not done.dry_run
    props = rt.engine.properties(t)
    assert props[LOG_RETENTION] == "interval 60 days"
    # the checkpoint had raised them: the operator's new values become the baseline to return to
    assert props[BASELINE_PREFIX + DELETED_FILE_RETENTION] == "interval 40 days"
    with pytest.raises(RetentionError, match="needs a reason"):
        rt.maintenance.set_retention(t.name, deleted_file_days=1, override_floor=True)


def test_metadata_tables_keep_720_hours_and_z_order_by_their_query_columns(rt: fmd.Runtime) -> None:
    plan = rt.maintenance.plan(include_metadata_tables=True)
    audit_plan = plan.table(f"{rt.config.metadata_schema}.SyncAuditLog")
    assert audit_plan.kind == "metadata" and audit_plan.retention_hours == 720
    assert audit_plan.zorder_by == ("RunId", "TableName")
    assert plan.table(f"{rt.config.metadata_schema}.CheckpointHistory").zorder_by == (
        "CheckpointName",
    )
    assert "metadata tables keep at least this" in plan.to_text()
    higher = rt.maintenance.plan(include_metadata_tables=True, min_retention_hours=1000)
    assert higher.table(f"{rt.config.metadata_schema}.PipelineConfig").retention_hours == 1000


def test_pre_maintenance_checkpoint_and_refresh_of_a_stale_plan(rt: fmd.Runtime) -> None:
    _tables(rt, ["bronze.account"])
    plan = rt.maintenance.plan(include_metadata_tables=False)
    stale = plan.model_copy(update={"created_at": plan.created_at - timedelta(hours=3)})
    result = rt.maintenance.run(stale, dry_run=False, pre_checkpoint=True)
    assert result.status == "Succeeded"
    pre = rt.checkpoints.list(kind="PreMaintenance")
    assert [c.checkpoint_name for c in pre] == [result.pre_maintenance_checkpoint]
    events = [json.loads(e["Details"]) for e in audit(rt, "MaintenancePlan")]
    # made, made again (the plan was stale), planned again after the PreMaintenance checkpoint
    assert [e["refreshed"] for e in events] == [False, False, True]
    pre = rt.checkpoints.get(result.pre_maintenance_checkpoint or "")
    assert events[-1]["checkpoints"] == [f"{pre.checkpoint_name}@v{pre.tables[0].version}"]


# --------------------------------------------------------------------------- CLI


def test_cli_dry_run_execute_and_refusal(
    lakehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = fmd.connect(lakehouse=lakehouse)
    _tables(rt, ["bronze.account"])
    rt.close()
    base = ["maintenance", "--lakehouse", str(lakehouse), "--tables", "bronze.account"]
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "Maintenance plan" in out and "DRY RUN" in out
    assert cli.main([*base, "--execute", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (
        data["result"]["dry_run"] is False
        and data["result"]["tables"][0]["optimize_files_removed"] == 2
    )
    assert cli.main([*base, "--min-retention-hours", "24"]) == 2
    assert "below the safety floor of 168 hours" in capsys.readouterr().err


def test_deleted_files_are_checked_against_the_keep_set_after_vacuum(rt: fmd.Runtime) -> None:
    """The post-VACUUM check sees a deletion a plan did not foresee (the plan claimed no protection)."""
    t, pinned, _ = build_scenario(rt)
    plan = rt.maintenance.plan(t.name, include_metadata_tables=False)
    tp = plan.table(t.name)
    # No protection at all: no kept versions, and a retention that covers nothing (RETAIN 0, the
    # one Delta 4.1+ honours over the table's property), the pinned version left to the check.
    unprotected = tp.model_copy(
        update={
            "keep_versions": (),
            "retention_hours": 0,
            "enforce_retention": False,
            "proof_versions": (pinned,),
        }
    )
    unprotected._keep = frozenset()  # the check reads the pinned version's files itself
    result = rt.maintenance.run(plan.model_copy(update={"tables": (unprotected,)}), dry_run=False)
    assert result.status == "Failed" and "an active checkpoint needs" in result.failures[t.name]
    titles = [json.loads(a["Details"])["title"] for a in audit(rt, "Alert")]
    assert any("checkpoint file(s) of bronze.account" in x for x in titles)
    assert datetime.now(timezone.utc) - plan.created_at < timedelta(minutes=5)


# --------------------------------------------------------------------------- checkpoint retention


def _expired_checkpoint(rt: fmd.Runtime, name: str) -> str:
    _tables(rt, [name])
    cp = rt.checkpoints.create([name], kind="Daily", name="daily_expired")
    assert cp is not None
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    rt.store.update(
        "CheckpointHistory", {"CheckpointId": cp.checkpoint_id}, {"RetentionDate": yesterday}
    )
    return cp.checkpoint_name


def test_dry_run_names_the_checkpoints_retention_would_deactivate_and_execute_does(
    rt: fmd.Runtime,
) -> None:
    name = _expired_checkpoint(rt, "bronze.account")
    dry = rt.maintenance.run(rt.maintenance.plan(include_metadata_tables=False))
    assert dry.checkpoints_deactivated == (name,)
    assert [c.checkpoint_name for c in rt.checkpoints.list()] == [name]  # still active
    done = rt.maintenance.run(rt.maintenance.plan(include_metadata_tables=False), dry_run=False)
    assert done.checkpoints_deactivated == (name,) and done.status == "Succeeded"
    assert rt.checkpoints.list() == []


def test_a_failed_checkpoint_deactivation_is_reported_and_alerted(engine: DeltaEngine) -> None:
    # The real engine whose updates of CheckpointHistory.IsActive fail (a storage outage).
    faulty = FaultyEngine(engine).fail(
        "update",
        tables={"CheckpointHistory"},
        match=lambda _t, args, kw: "IsActive" in (args[2] if len(args) > 2 else kw["values"]),
        error=lambda t: EngineError(
            "update failed: injected storage fault", table=t.name if t else None
        ),
    )
    rt = connect(faulty, "deact")
    _expired_checkpoint(rt, "bronze.account")
    result = rt.maintenance.run(rt.maintenance.plan(include_metadata_tables=False), dry_run=False)
    assert result.status == "PartiallyFailed" and result.tables_failed == 0
    assert result.deactivation_error and "injected storage fault" in result.deactivation_error
    alerts = [json.loads(a["Details"]) for a in audit(rt, "Alert")]
    assert [(a["title"], a["severity"]) for a in alerts] == [
        ("Checkpoint retention enforcement failed", "CRITICAL")
    ]
    rt.close()


def clean_log(rt: fmd.Runtime, t: TableRef) -> None:
    """What Delta's log cleanup does once the log retention has passed: the commits before the
    latest log checkpoint go, and the versions before it can no longer be read."""
    rt.engine.create_log_checkpoint(t)
    latest = rt.engine.version(t)
    log = table_dir(rt.engine, t) / "_delta_log"
    for f in log.iterdir():
        if f.name[:20].isdigit() and int(f.name[:20]) < latest:
            f.unlink()
    forget_log(rt.engine)


def data_files(rt: fmd.Runtime, t: TableRef) -> set[str]:
    return {k for k in files_state(rt, [t.name]) if "bronze" in k and "_delta_log" not in k}


def test_vacuum_is_skipped_and_alerted_when_a_pinned_version_can_no_longer_be_read(
    lakehouse: Path,
) -> None:
    """``keep_versions`` (delta-rs: the engine that has it) proves VACUUM safe with the files of
    the pinned versions old enough to own a candidate: one it cannot read, it skips VACUUM."""
    rt = connect(DeltaRsEngine(lakehouse), "keep-versions")
    t, pinned, _ = build_scenario(rt)
    clean_log(rt, t)
    before = data_files(rt, t)
    plan = rt.maintenance.plan(t.name, include_metadata_tables=False)
    tp = plan.table(t.name)
    assert tp.vacuum == "skip" and f"cannot read the files of pinned version {pinned}" in (
        tp.error or ""
    )
    result = rt.maintenance.run(plan, dry_run=False)
    assert result.tables[0].status == "Skipped" and result.files_removed == 0
    assert before <= data_files(rt, t)  # nothing deleted (OPTIMIZE only adds files)
    titles = [json.loads(a["Details"])["title"] for a in audit(rt, "Alert")]
    assert "VACUUM skipped on 1 table(s) to protect checkpoints" in titles
    rt.close()


def test_a_retention_covering_the_checkpoint_proves_vacuum_safe_without_the_pinned_version(
    no_keep: fmd.Runtime,
) -> None:
    """An engine that cannot keep versions (Spark) VACUUMs with a retention longer than any
    pinned version's age: no pinned version can own a candidate, so one that can no longer be
    read does not stop VACUUM, and VACUUM deletes none of its files."""
    rt = no_keep
    t, pinned, _ = build_scenario(rt)
    needed = {f"{t.name}/{f.path}" for f in rt.engine.files(t, pinned)}
    clean_log(rt, t)
    assert needed <= data_files(rt, t)
    plan = rt.maintenance.plan(t.name, include_metadata_tables=False)
    tp = plan.table(t.name)
    assert tp.vacuum == "run" and tp.protection == "retention" and tp.proof_versions == ()
    assert tp.retention_hours is not None and tp.retention_hours >= 31 * 24
    result = rt.maintenance.run(plan, dry_run=False)
    assert result.status == "Succeeded", result.to_text()
    assert needed <= data_files(rt, t)  # every file the pinned version had is still there
