"""Preflight on real lakehouses, on every engine: a clean lakehouse is Healthy; a placeholder GUID,
a table that does not exist, retention gaps, missing metadata tables and columns are each found
and named; preflight writes nothing but its one audit row; secrets never reach a rendering.

Each scenario runs on delta-rs and on Spark + Delta (the ``engine`` fixture of the root conftest;
`SPARK_SCENARIOS` selects the Spark runs). Engine-specific states (a writer feature delta-rs
cannot commit to, a file retention above the log retention, which Delta 4.1+ refuses to set) are
built on delta-rs, where they can exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import age, connect
from tablefeatures import add_features

import fmd_runtime as fmd
from fmd_runtime.engine import Column, DeltaEngine, TableAt, arrow_schema
from fmd_runtime.errors import ConfigError, PreflightError
from fmd_runtime.health import PreflightReport
from fmd_runtime.retention import DELETED_FILE_RETENTION, LOG_RETENTION
from fmd_runtime.store.schemas import ALL_TABLES, PIPELINE_CONFIG
from fmd_runtime.tables import TableRef

ACCOUNT, CONTACT, GHOST = "bronze.account", "bronze.contact", "bronze.ghost"
COLUMNS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
NIL = "00000000-0000-0000-0000-000000000000"
FMD = [sys.executable, "-m", "fmd_runtime.cli"]


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The findings depend on the environment's alert and workspace settings: none here."""
    for var in ("FMD_ALERT_WEBHOOK_URL", "FMD_ALERT_WEBHOOK_SECRET", "FMD_KEYVAULT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("FMD_WORKSPACE_ID", raising=False)


def _table(rt: fmd.Runtime, name: str, rows: int = 5) -> TableRef:
    ref = rt.table(name)
    rt.engine.create(ref, COLUMNS)
    data = pa.table(
        {"Id": list(range(rows)), "Name": [f"n{i}" for i in range(rows)]},
        schema=arrow_schema(COLUMNS),
    )
    rt.engine.write(ref, data, mode="append")
    return ref


def _versions(rt: fmd.Runtime, names: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name in names:
        ref = TableRef.parse(name)
        out[name] = rt.engine.version(ref) if rt.engine.exists(ref) else None
    return out


def _metadata_names(rt: fmd.Runtime, *, but: str | None = None) -> list[str]:
    return [rt.store.ref(t.name).name for t in ALL_TABLES if t.name != but]


def _only(report: PreflightReport, check: str, table: str | None = None) -> Any:
    found = [f for f in report.findings if f.check == check and (table is None or f.table == table)]
    assert len(found) == 1, (check, table, report.to_text())
    return found[0]


def _preflight_events(rt: fmd.Runtime) -> list[dict[str, Any]]:
    ref = rt.store.ref("SyncAuditLog")
    rows = rt.engine.sql("SELECT * FROM {t}", {"t": TableAt(table=ref)}).to_pylist()
    return [r for r in rows if r["Operation"] == "Preflight"]


# -- scenarios on every engine ---------------------------------------------------------------------


def test_a_clean_lakehouse_is_healthy_and_preflight_writes_only_its_audit_row(
    engine: DeltaEngine,
) -> None:
    rt = connect(engine, "preflight-clean")
    for name in (ACCOUNT, CONTACT):
        _table(rt, name)
        rt.configure_table(name, primary_key=["Id"])
    rt.checkpoints.create([ACCOUNT], kind="Manual", name="clean_manual")
    watched = [ACCOUNT, CONTACT, *_metadata_names(rt, but="SyncAuditLog")]
    before = _versions(rt, watched)
    audit_ref = rt.store.ref("SyncAuditLog")
    audit_before = rt.engine.version(audit_ref)

    report = rt.preflight()

    assert report.status == "Healthy" and report.ok, report.to_text()
    assert [f.severity for f in report.findings] == ["INFO"]  # alerts: recorded, not posted
    assert report.tables == {ACCOUNT: 5, CONTACT: 5}
    assert report.engine_versions and report.engine
    assert _versions(rt, watched) == before  # read-only: nothing created, upgraded or changed
    assert rt.engine.version(audit_ref) == audit_before + 1  # one audit commit
    assert report.audited
    (event,) = _preflight_events(rt)
    details = json.loads(event["Details"])
    assert event["Status"] == "Succeeded" and event["RunId"] == "preflight-clean"
    assert details["status"] == "Healthy" and details["blocking"] == 0
    assert details["tables_checked"] == 2
    exit_dict = json.loads(report.exit_value())
    assert exit_dict["status"] == "Healthy" and exit_dict["ok"] is True
    assert exit_dict["blocking"] == 0 and exit_dict["run_id"] == "preflight-clean"


def test_a_placeholder_guid_and_a_table_that_does_not_exist_are_found_naming_each(
    engine: DeltaEngine,
) -> None:
    rt = connect(engine, "preflight-placeholders")
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT, layer=NIL)
    rt.configure_table(GHOST, primary_key=["Id"])  # configured, enabled, never created

    report = rt.preflight()

    assert report.status == "Unhealthy" and not report.ok
    guid = _only(report, "preflight.placeholder_guid", ACCOUNT)
    assert guid.severity == "HIGH" and guid.blocks_run
    assert ACCOUNT in guid.message and "Layer" in guid.message and NIL in guid.message
    assert guid.numbers["field"] == "Layer" and NIL in guid.numbers["value"]
    assert "nil GUID" in guid.message and guid.fix
    missing = _only(report, "preflight.missing_table", GHOST)
    assert (
        missing.severity == "HIGH"
        and GHOST in missing.message
        and "does not exist" in missing.message
    )
    assert "enabled=False" in missing.fix
    assert report.tables == {ACCOUNT: 5, GHOST: None}
    exit_dict = json.loads(report.exit_value())
    assert exit_dict["status"] == "Unhealthy" and exit_dict["ok"] is False
    assert exit_dict["blocking"] == 2 and len(exit_dict["failures"]) == 2
    assert any(GHOST in f for f in exit_dict["failures"])
    (event,) = _preflight_events(rt)
    assert event["Status"] == "Failed" and event["Severity"] == "HIGH"
    assert json.loads(event["Details"])["blocking"] == 2
    for text in (report.to_text(), report.to_html(), report.to_json()):
        assert GHOST in text and NIL in text
    with pytest.raises(PreflightError, match="2 blocking findings") as caught:
        report.assert_ok()  # how a notebook stops at its preflight cell
    assert GHOST in str(caught.value) and "Layer" in str(caught.value)
    assert caught.value.details["exit"]["blocking"] == 2


def test_retention_below_the_floors_and_a_checkpoint_it_does_not_cover_are_found(
    engine: DeltaEngine,
) -> None:
    rt = connect(engine, "preflight-retention")
    ref = _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT, vacuum_retention_hours=24)
    rt.checkpoints.create(
        [ACCOUNT], kind="Manual", name="uncovered", retention_days=30, protect_retention=False
    )
    rt.engine.set_properties(
        ref, {DELETED_FILE_RETENTION: "interval 2 days", LOG_RETENTION: "interval 3 days"}
    )

    report = rt.preflight()

    assert report.status == "Warning" and report.ok, report.to_text()
    floors = [f for f in report.findings if f.check == "preflight.retention_below_floor"]
    assert sorted(DELETED_FILE_RETENTION in f.message for f in floors) == [False, True]
    assert all(f.table == ACCOUNT and "168 hours" in f.message for f in floors)
    vacuum = _only(report, "preflight.vacuum_retention_below_floor", ACCOUNT)
    assert "24" in vacuum.message and "vacuum_retention_hours=168" in vacuum.fix
    risk = _only(report, "preflight.checkpoint_at_risk", ACCOUNT)
    assert "uncovered" in risk.message and risk.numbers["checkpoint"] == "uncovered"
    assert "set_retention" in risk.fix and risk.severity == "MEDIUM"
    assert json.loads(report.exit_value())["warnings"] == 4


def test_missing_metadata_tables_and_columns_are_found_and_nothing_is_created(
    engine: DeltaEngine,
) -> None:
    rt = connect(engine, "preflight-metadata", ensure=False)
    config_ref = rt.store.ref("PipelineConfig")
    rt.engine.create(config_ref, PIPELINE_CONFIG.columns[:-2])  # an older store: 2 columns short
    before = rt.engine.version(config_ref)

    report = rt.preflight()

    assert not report.ok and not report.audited  # writing the audit row would create tables
    missing = {f.table for f in report.findings if f.check == "preflight.metadata_table_missing"}
    assert missing == set(_metadata_names(rt, but="PipelineConfig"))
    columns = _only(report, "preflight.metadata_columns_missing", config_ref.name)
    assert "an upgrade would add LastPurgeDate" not in columns.message
    assert "an upgrade would add UpdatedBy (string), SourceName (string)" in columns.message
    assert columns.numbers["missing_columns"] == ["UpdatedBy", "SourceName"]
    assert _only(report, "preflight.checkpoints_not_checked").severity == "INFO"
    # read-only: no table created, no column added, no row written
    assert not any(rt.engine.exists(TableRef.parse(n)) for n in missing)
    assert rt.engine.version(config_ref) == before
    assert [c.name for c in rt.engine.snapshot(config_ref).columns] == [
        c.name for c in PIPELINE_CONFIG.columns[:-2]
    ]
    assert rt.audit.pending == 0


# -- delta-rs only: states only delta-rs (or an older Delta) can leave -------------------------------


def test_a_runtime_that_did_not_ensure_the_store_reads_it_without_writing(lakehouse: Path) -> None:
    setup = fmd.connect(lakehouse=lakehouse, run_id="setup")
    _table(setup, ACCOUNT)
    setup.configure_table(ACCOUNT)
    setup.checkpoints.create([ACCOUNT], kind="Manual", name="kept")
    setup.close()
    rt = fmd.connect(lakehouse=lakehouse, run_id="no-ensure", ensure=False)
    watched = [ACCOUNT, *_metadata_names(rt, but="SyncAuditLog")]
    before = _versions(rt, watched)
    report = rt.preflight()
    assert report.status == "Healthy" and report.audited, report.to_text()
    assert _versions(rt, watched) == before
    rt.close()


def test_a_file_retention_above_the_log_retention_is_inconsistent(rt: fmd.Runtime) -> None:
    ref = _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    rt.engine.set_properties(
        ref, {DELETED_FILE_RETENTION: "interval 40 days", LOG_RETENTION: "interval 10 days"}
    )
    found = _only(rt.preflight(), "preflight.retention_inconsistent", ACCOUNT)
    assert "interval 40 days" in found.message and "interval 10 days" in found.message
    assert "log_days=40" in found.fix


def test_a_checkpoint_older_than_the_retention_is_uncovered_and_blocks(rt: fmd.Runtime) -> None:
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    rt.checkpoints.create(
        [ACCOUNT], kind="Manual", name="too_old", retention_days=60, protect_retention=False
    )
    age(rt.engine, ACCOUNT, {0: 20, 1: 20})  # the pinned version is 20 days old; files keep 7
    rows = rt.store.read("CheckpointTables")
    assert rows and rows[0]["TableVersion"] == 1
    # the checkpoint records its version's commit time: move that back too, as the commits
    rt.store.update(
        "CheckpointTables",
        {"CheckpointId": rows[0]["CheckpointId"]},
        {"VersionTimestamp": rt.engine.history(rt.table(ACCOUNT))[0].timestamp},
    )
    report = rt.preflight()
    found = _only(report, "preflight.checkpoint_uncovered", ACCOUNT)
    assert (
        found.severity == "HIGH" and "too_old" in found.message and "already past" in found.message
    )
    assert not report.ok


def test_a_table_delta_rs_cannot_write_is_named_with_its_features(rt: fmd.Runtime) -> None:
    ref = _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    add_features(rt.engine, ref, ["identityColumns"])
    found = _only(rt.preflight(), "preflight.unwritable_table", ACCOUNT)
    assert found.severity == "HIGH" and "identityColumns" in found.message
    assert "delta-rs" in found.message and found.numbers["features"] == ["identityColumns"]
    assert "Spark" in found.fix


def test_empty_required_fields_and_text_placeholders_in_rows_are_named(rt: fmd.Runtime) -> None:
    _table(rt, ACCOUNT)
    rt.store.append(
        "PipelineConfig",
        [
            {"SchemaName": "bronze", "TableName": "account", "IsEnabled": True, "WatermarkKind": "TODO"},
            {"SchemaName": "bronze", "TableName": " ", "IsEnabled": True},
            {"SchemaName": "bronze", "TableName": "old", "IsEnabled": False, "Layer": "<layer>"},
            {"SchemaName": "bronze", "TableName": "guid", "IsEnabled": True,
             "UpdatedBy": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"},
        ],
    )  # fmt: skip
    report = rt.preflight()
    todo = _only(report, "preflight.placeholder_value", ACCOUNT)
    assert "WatermarkKind" in todo.message and "'TODO'" in todo.message and todo.severity == "HIGH"
    empty = _only(report, "preflight.empty_field")
    assert "TableName" in empty.message and empty.severity == "HIGH"
    disabled = _only(report, "preflight.placeholder_value", "bronze.old")
    assert disabled.severity == "LOW" and "(disabled)" in disabled.message
    guid = _only(report, "preflight.placeholder_guid", "bronze.guid")
    assert "UpdatedBy" in guid.message and "not hexadecimal" in guid.message


def test_rows_of_one_table_in_two_spellings_are_duplicates(rt: fmd.Runtime) -> None:
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    row = {"SchemaName": "bronze", "TableName": "ACCOUNT", "IsEnabled": True}
    rt.store.append("PipelineConfig", [row])
    found = _only(rt.preflight(), "preflight.duplicate_config_row")
    assert "2 rows for bronze.ACCOUNT, bronze.account" in found.message


def test_only_the_tables_asked_for_are_checked(rt: fmd.Runtime) -> None:
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    rt.configure_table(GHOST)
    report = rt.preflight(tables="bronze.account")
    assert report.ok and report.tables == {ACCOUNT: 5}
    assert rt.preflight(tables=[GHOST]).tables == {GHOST: None}
    assert rt.preflight(tables="All").tables == {ACCOUNT: 5, GHOST: None}
    rt.configure_table(ACCOUNT, enabled=False, vacuum_retention_hours=24)
    assert ACCOUNT not in rt.preflight(tables=None).tables  # disabled rows are not checked ...
    asked = rt.preflight(tables=[ACCOUNT])  # ... unless asked for, with their own settings
    assert _only(asked, "preflight.vacuum_retention_below_floor", ACCOUNT)
    with pytest.raises(ConfigError, match="tables"):
        rt.preflight(tables=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="require_alerts"):
        rt.preflight(require_alerts="maybe")  # type: ignore[arg-type]


def test_placeholders_in_the_run_context_are_found(lakehouse: Path) -> None:
    rt = fmd.connect(lakehouse=lakehouse, run_id="ctx", pipeline_run_id="@pipeline().RunId",
                     workspace_id="11111111-1111-1111-1111-111111111111")  # fmt: skip
    report = rt.preflight()
    checks = {(f.check, f.numbers.get("field")) for f in report.findings}
    assert ("preflight.placeholder_value", "pipeline_run_id") in checks  # an unexpanded expression
    assert ("preflight.placeholder_guid", "workspace_id") in checks
    assert not report.ok
    rt.close()


SECRET_SIG = "Zx9SuperSecretSig0123456789abcdef"
SECRET_URL = (
    "https://prod-07.westeurope.logic.azure.com:443/workflows/5f0c1e2a/triggers/manual/paths/"
    f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SECRET_SIG}"
)


@pytest.mark.parametrize(
    ("url", "severity"),
    [(SECRET_URL, "INFO"), (SECRET_URL.replace("https://", "http://"), "HIGH")],
    ids=["https", "http"],
)
def test_a_secret_webhook_url_never_appears_in_any_rendering_or_the_audit(
    rt: fmd.Runtime, monkeypatch: pytest.MonkeyPatch, url: str, severity: str
) -> None:
    monkeypatch.setenv("FMD_ALERT_WEBHOOK_URL", url)
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT, watermark_kind=f"REPLACE_ME token={SECRET_SIG}")
    report = rt.preflight()
    webhook = _only(report, "preflight.alert_webhook")
    assert webhook.severity == severity and "prod-07.westeurope.logic.azure.com" in webhook.message
    assert "$FMD_ALERT_WEBHOOK_URL" in webhook.message
    hidden = _only(report, "preflight.placeholder_value", ACCOUNT)
    assert "hidden" in hidden.message
    audit_rows = json.dumps(_preflight_events(rt), default=str)
    renderings = [report.to_text(), report.to_html(), report.to_json(), report.exit_value(),
                  report._repr_html_(), repr(report), audit_rows]  # fmt: skip
    for text in renderings:
        for secret in (url, SECRET_SIG, "workflows/5f0c1e2a", "api-version"):
            assert secret not in text


def test_the_command_line_exits_1_on_blocking_findings_and_writes_each_format(
    lakehouse: Path, tmp_path: Path
) -> None:
    rt = fmd.connect(lakehouse=lakehouse)
    _table(rt, ACCOUNT)
    rt.configure_table(ACCOUNT)
    rt.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*FMD, "preflight", "--lakehouse", str(lakehouse), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    ok = run("--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "Healthy"
    rt = fmd.connect(lakehouse=lakehouse)
    rt.configure_table(GHOST)
    rt.close()
    blocked = run()
    assert blocked.returncode == 1, blocked.stderr
    assert "preflight.missing_table" in blocked.stdout and GHOST in blocked.stdout
    page = tmp_path / "preflight.html"
    written = run("--format", "html", "--output", str(page))
    assert written.returncode == 1 and "Unhealthy" in written.stdout
    assert page.read_text().startswith("<!DOCTYPE html>") and GHOST in page.read_text()
    assert run("--tables", ACCOUNT).returncode == 0
    bad = run("--tables", "not a table")
    assert bad.returncode == 2 and "--tables" in bad.stderr
