"""Maintenance reports what it did: a run that maintained no table is never Succeeded, explicit
``--tables`` mean exactly those tables, progress shows like rollback's, and tables the embedded
engine cannot write (Spark's writer features) are skipped with their reason, never Failed.

Checkpoints of such tables still pin the version (pinning only reads) and are recorded AtRisk with
the reason and the exact Spark statement that protects them; nothing is retried.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tablefeatures import add_features

import fmd_runtime as fmd
from fmd_runtime import cli
from fmd_runtime.engine import Column
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.testing import FaultyEngine

COLUMNS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
SPARK_FEATURES = ["domainMetadata", "identityColumns", "rowTracking"]


def make(rt: fmd.Runtime, name: str, *, configure: bool = True) -> None:
    t = rt.table(name)
    rt.engine.create(t, COLUMNS)
    for start in (1, 11):
        ids = list(range(start, start + 10))
        rt.engine.write(t, pa.table({"Id": ids, "Name": [f"n{i}" for i in ids]}))
    if configure:
        rt.configure_table(name, primary_key=["Id"])


def versions(rt: fmd.Runtime, *names: str) -> dict[str, int]:
    return {n: rt.engine.version(rt.table(n)) for n in names}


def audit(rt: fmd.Runtime, operation: str) -> list[dict[str, object]]:
    rt.audit.flush()
    return [r for r in rt.store.read("SyncAuditLog") if r["Operation"] == operation]


# --------------------------------------------------------------------------- run status


def test_a_run_whose_only_table_was_refused_is_failed(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    rt.configure_table("bronze.account", vacuum_retention_hours=24)  # below the 168 h floor
    result = rt.maintenance.run(rt.maintenance.plan("bronze.account"), dry_run=False)
    assert [r.status for r in result.tables] == ["Refused"]
    assert result.status == "Failed" and result.tables_succeeded == 0
    assert result.failures["(run)"] == "no table was maintained: bronze.account refused"
    (summary,) = audit(rt, "MaintenanceSummary")
    assert summary["Status"] == "Failed"


def test_a_run_whose_only_table_does_not_exist_is_failed(rt: fmd.Runtime) -> None:
    result = rt.maintenance.run(rt.maintenance.plan("bronze.nosuch"), dry_run=False)
    assert [(r.status, "does not exist" in (r.error or "")) for r in result.tables] == [
        ("Skipped", True)
    ]
    assert result.status == "Failed"
    assert "bronze.nosuch skipped" in result.failures["(run)"]


def test_a_run_with_nothing_in_scope_is_failed(rt: fmd.Runtime) -> None:
    result = rt.maintenance.run(rt.maintenance.plan(include_metadata_tables=False))
    assert result.tables == () and result.status == "Failed"
    assert result.failures == {"(run)": "no table was maintained: no table in scope"}


def test_some_maintained_and_some_left_out_is_partially_failed(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    result = rt.maintenance.run(rt.maintenance.plan("bronze.account,bronze.nosuch"), dry_run=False)
    assert {r.table: r.status for r in result.tables} == {
        "bronze.account": "Succeeded",
        "bronze.nosuch": "Skipped",
    }
    assert result.status == "PartiallyFailed" and result.tables_failed == 0


def test_the_cli_exits_1_when_nothing_was_maintained(
    lakehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fmd.connect(lakehouse=lakehouse).store.ensure()
    code = cli.main(["maintenance", "--lakehouse", str(lakehouse), "--tables", "bronze.nosuch"])
    assert code == 1
    assert "Failed" in capsys.readouterr().out


# --------------------------------------------------------------------------- scope


def test_explicit_tables_are_exactly_the_tables_maintained(rt: fmd.Runtime) -> None:
    make(rt, "bronze.account")
    make(rt, "bronze.contact")
    meta = {rt.store.ref(n).name for n in ("SyncAuditLog", "CheckpointHistory")}
    explicit = rt.maintenance.plan("bronze.account,bronze.contact")
    assert [tp.table for tp in explicit.tables] == ["bronze.account", "bronze.contact"]
    asked = rt.maintenance.plan("bronze.account", include_metadata_tables="true")
    assert meta <= {tp.table for tp in asked.tables} and asked.tables[0].table == "bronze.account"
    default = rt.maintenance.plan()  # no tables given: the metadata tables are in
    assert {"bronze.account", "bronze.contact"} | meta <= {tp.table for tp in default.tables}
    assert rt.maintenance.plan(include_metadata_tables=False).tables[-1].kind == "data"


def test_cli_tables_leave_the_metadata_tables_out_unless_asked(
    lakehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = fmd.connect(lakehouse=lakehouse)
    make(rt, "bronze.account")
    rt.close()
    base = ["maintenance", "--lakehouse", str(lakehouse), "--json", "--tables", "bronze.account"]
    assert cli.main(base) == 0
    planned = [t["table"] for t in json.loads(capsys.readouterr().out)["plan"]["tables"]]
    assert planned == ["bronze.account"]
    assert cli.main([*base, "--metadata-tables"]) == 0
    planned = [t["table"] for t in json.loads(capsys.readouterr().out)["plan"]["tables"]]
    assert planned[0] == "bronze.account" and "metadata.SyncAuditLog" in planned


def test_cli_maintenance_shows_progress_like_rollback(
    lakehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = fmd.connect(lakehouse=lakehouse)
    make(rt, "bronze.account")
    make(rt, "bronze.contact")
    rt.close()
    args = [
        "maintenance",
        "--lakehouse",
        str(lakehouse),
        "--tables",
        "bronze.account,bronze.contact",
    ]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "Planning maintenance 2 of 2:" in captured.err
    assert (
        "Maintaining table 1 of 2:" in captured.err and "Maintaining table 2 of 2:" in captured.err
    )
    assert "Maintaining table" not in captured.out  # the report on stdout stays clean


# --------------------------------------------------------------------------- tables delta-rs cannot write


def test_maintenance_skips_a_table_with_spark_only_features_with_its_reason(
    rt: fmd.Runtime,
) -> None:
    make(rt, "bronze.account")
    make(rt, "bronze.ident")
    add_features(rt.engine, rt.table("bronze.ident"), SPARK_FEATURES)
    before = versions(rt, "bronze.account", "bronze.ident")
    plan = rt.maintenance.plan("bronze.account,bronze.ident")
    tp = plan.table("bronze.ident")
    assert tp.vacuum == "skip" and "domainMetadata, identityColumns, rowTracking" in (
        tp.error or ""
    )
    assert "Spark notebook" in (tp.error or "") and "SKIP" in plan.to_text()
    result = rt.maintenance.run(plan, dry_run=False)
    run = {r.table: r for r in result.tables}
    assert run["bronze.ident"].status == "Skipped" and "identityColumns" in (
        run["bronze.ident"].error or ""
    )
    assert run["bronze.account"].status == "Succeeded"
    assert result.tables_failed == 0 and result.status == "PartiallyFailed"
    assert versions(rt, "bronze.ident") == {"bronze.ident": before["bronze.ident"]}  # untouched
    assert rt.engine.version(rt.table("bronze.account")) > before["bronze.account"]  # optimized
    assert not [r for r in audit(rt, "Vacuum") + audit(rt, "Optimize") if r["TableName"] == "ident"]


def test_a_table_delta_rs_cannot_even_read_is_skipped_too(rt: fmd.Runtime) -> None:
    make(rt, "bronze.future")
    add_features(rt.engine, rt.table("bronze.future"), ["futureThing"], readers=("futureThing",))
    result = rt.maintenance.run(rt.maintenance.plan("bronze.future"), dry_run=False)
    (run,) = result.tables
    assert run.status == "Skipped" and "futureThing" in (run.error or "")
    assert result.tables_failed == 0


def test_a_checkpoint_of_such_a_table_pins_it_and_is_at_risk_with_the_fix(lakehouse: Path) -> None:
    engine = FaultyEngine(DeltaRsEngine(lakehouse))
    rt = fmd.connect(engine=engine, run_id="features")
    make(rt, "bronze.ident")
    version = add_features(rt.engine, rt.table("bronze.ident"), SPARK_FEATURES)
    cp = rt.checkpoints.create("bronze.ident", kind="Manual")
    assert cp is not None
    assert (cp.validation_status, cp.restorability_status) == ("Validated", "AtRisk")
    assert [(t.table, t.version, t.total_rows) for t in cp.tables] == [
        ("bronze.ident", version, 20)
    ]
    assert rt.engine.version(rt.table("bronze.ident")) == version  # nothing committed
    assert engine.calls.get("set_properties") == 1  # refused once, never retried
    (created,) = audit(rt, "CheckpointCreated")
    assert created["Status"] == "Succeeded"
    details = json.loads(str(created["Details"]))
    assert details["log_checkpoints"] == 0  # no log checkpoint written either: pinning only reads
    reason = details["at_risk"]["bronze.ident"]
    assert "identityColumns" in reason and "could not be raised" in reason
    assert (
        "ALTER TABLE `bronze`.`ident` SET TBLPROPERTIES ('delta.deletedFileRetentionDuration' = "
        in reason
    )
    # the checkpoint is a rollback target, listed with its risk
    (listed,) = rt.checkpoints.list()
    assert listed.is_restore_target and listed.restorability_status == "AtRisk"
