"""Restorability: `verify` on real Delta tables after external VACUUM, log cleanup, short retention,
on every engine (delta-rs, Spark + Delta)."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pytest
from engines import age, forget_log, table_dir

import fmd_runtime as fmd
from fmd_runtime.checkpoints import DELETED_FILE_RETENTION
from fmd_runtime.engine import Column
from fmd_runtime.errors import CheckpointError

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


def make(rt: fmd.Runtime, name: str, *, properties: dict[str, str] | None = None) -> None:
    t = rt.table(name)
    rt.engine.create(t, COLUMNS, properties=properties)
    rt.engine.write(t, rows(1, 5))
    rt.engine.write(t, rows(10, 3))


def test_external_vacuum_makes_the_table_unrestorable_with_the_missing_file_count(
    rt: fmd.Runtime,
) -> None:
    for name in ("bronze.account", "bronze.contact"):
        make(rt, name)
    cp = rt.checkpoints.create(["bronze.account", "bronze.contact"], kind="Manual")
    assert cp is not None
    pinned = cp.table("bronze.account")
    assert rt.checkpoints.verify(cp.checkpoint_name).status == "Restorable"

    t = rt.table("bronze.account")
    rt.engine.write(t, rows(100, 2), mode="overwrite")  # the pinned version's 2 files are removed
    # an operator's VACUUM outside the library (not rt.maintenance), with the safety check off
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)

    result = rt.checkpoints.verify(cp.checkpoint_name)
    assert result.status == "Unrestorable"
    bad = {v.table: v for v in result.tables}
    assert bad["bronze.contact"].status == "Restorable"
    account = bad["bronze.account"]
    assert account.status == "Unrestorable" and account.missing_files == pinned.file_count == 2
    assert account.reason and "2 file(s)" in account.reason and "VACUUM" in account.reason

    header = rt.store.read("CheckpointHistory", {"CheckpointId": cp.checkpoint_id})[0]
    assert (
        header["RestorabilityStatus"] == "Unrestorable" and header["LastVerifiedDate"] is not None
    )
    checks = rt.store.read(
        "DataValidation", {"CheckpointId": cp.checkpoint_id, "Context": "CheckpointVerify"}
    )
    assert sorted((c["TableName"], c["ActualValue"], c["ValidationPassed"]) for c in checks) == [
        ("account", "Restorable", True),  # the first verify, before the VACUUM
        ("account", "Unrestorable", False),
        ("contact", "Restorable", True),
        ("contact", "Restorable", True),
    ]
    events = rt.store.read(
        "SyncAuditLog", {"Operation": "CheckpointVerify", "TableName": "account"}
    )
    assert sorted(json.loads(e["Details"])["missing_files"] for e in events) == [0, 2]
    alerts = [
        json.loads(a["Details"]) for a in rt.store.read("SyncAuditLog", {"Operation": "Alert"})
    ]
    assert any(a["severity"] == "HIGH" and "Unrestorable" in a["title"] for a in alerts)


def test_a_version_gone_from_the_log_is_unrestorable(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual")
    assert cp is not None
    t = rt.table("bronze.account")
    version = cp.tables[0].version
    for _ in range(3):
        rt.engine.write(t, rows(50, 1))
    rt.engine.create_log_checkpoint(t)
    log = table_dir(rt.engine, t) / "_delta_log"
    # what log cleanup does once the version is older than delta.logRetentionDuration
    for f in log.iterdir():
        if f.name[:20].isdigit() and int(f.name[:20]) <= version:
            f.unlink()
    forget_log(rt.engine)
    result = rt.checkpoints.verify(cp.checkpoint_id)
    assert result.status == "Unrestorable"
    assert "no longer in the transaction log" in (result.tables[0].reason or "")


def test_retention_shorter_than_the_checkpoint_is_at_risk_then_unrestorable(
    rt: fmd.Runtime,
) -> None:
    make(rt, "bronze.account", properties={DELETED_FILE_RETENTION: "interval 1 hours"})
    cp = rt.checkpoints.create(["bronze.account"], kind="Manual", protect_retention=False)
    assert cp is not None and cp.restorability_status == "AtRisk"
    at_risk = rt.checkpoints.verify(cp.checkpoint_name)
    assert at_risk.status == "AtRisk" and at_risk.tables[0].expires_in_days is not None
    assert at_risk.tables[0].expires_in_days < 1 and DELETED_FILE_RETENTION in (
        at_risk.tables[0].reason or ""
    )
    # Two hours later (the table's commits and the checkpoint's pinned-version time move back):
    # past the retention, which Delta 4.1+ enforces by refusing to read the version at all.
    t = rt.table("bronze.account")
    age(rt.engine, t, {v: 2 / 24 for v in range(rt.engine.version(t) + 1)})
    pinned = cp.tables[0]
    rt.store.update(
        "CheckpointTables",
        {"CheckpointId": cp.checkpoint_id, "TableName": t.table},
        {"VersionTimestamp": pinned.version_timestamp - timedelta(hours=2)},
    )
    gone = rt.checkpoints.verify(cp.checkpoint_name)
    assert gone.status == "Unrestorable" and "refuses RESTORE" in (gone.tables[0].reason or "")


def test_verify_all_checks_active_checkpoints_only(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    a = rt.checkpoints.create(["bronze.account"], kind="Manual", name="keep")
    b = rt.checkpoints.create(["bronze.account"], kind="Manual", name="old")
    assert a and b
    rt.store.update("CheckpointHistory", {"CheckpointId": b.checkpoint_id}, {"IsActive": False})
    results = rt.checkpoints.verify_all()
    assert [(r.checkpoint_name, r.status) for r in results] == [("keep", "Restorable")]
    assert rt.checkpoints.get("keep").restorability_status == "Restorable"
    assert rt.checkpoints.get("keep").last_verified_date is not None


def test_get_suggests_the_nearest_names(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    rt.checkpoints.create(["bronze.account"], kind="Manual", name="bronze_manual_2025-01-15")
    with pytest.raises(CheckpointError, match="did you mean bronze_manual_2025-01-15"):
        rt.checkpoints.get("bronze_manual_2025-01-16")
