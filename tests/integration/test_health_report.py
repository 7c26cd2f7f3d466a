"""The daily health report (``rt.health.report()``) on real lakehouses, on every engine.

A small platform: two bronze tables loaded three times through the run ledger, a watermark, and
two DailyBatch checkpoints. That is Healthy, and its page (written under ``Files/fmd/health/``)
carries the three charts; a failed load and a load that started hours ago and never ended make
it Unhealthy with one alert; the findings go to ``HealthFindings`` in one commit; names and
errors are escaped in the HTML; stale checkpoints, lagging watermarks and failed maintenance are
named; bad arguments are refused before anything is written; ``fmd health`` exits 1 when
Unhealthy. Tests marked in conftest's ``SPARK_SCENARIOS`` also run on Spark + Delta.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, size

import fmd_runtime as fmd
from fmd_runtime.cli import main
from fmd_runtime.engine import Column, DeltaEngine
from fmd_runtime.errors import ConfigError
from fmd_runtime.health import HealthReport, build_thresholds
from fmd_runtime.store import utcnow

TABLES = ("bronze.account", "bronze.contact")
COLUMNS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]


def build(engine: DeltaEngine, *, loads: int = 3) -> None:
    """Two tables loaded ``loads`` times through the ledger, a watermark, two checkpoints."""
    for n in range(loads):
        rt = connect(engine, f"load-{n}", pipeline_run_id=f"batch-{n}")
        for name in TABLES:
            ref = rt.table(name)
            if n == 0:
                rt.engine.create(ref, COLUMNS)
                rt.configure_table(name, primary_key=["Id"])
            ids = list(range(n * 10, n * 10 + 5 * (n + 1)))
            version = rt.engine.write(
                ref,
                pa.table({"Id": pa.array(ids, pa.int64()), "Name": [f"n{i}" for i in ids]}),
            )
            rt.runs.complete(name.split(".")[1], "bronze", table=name, version=version)
        window = rt.watermarks.begin("account", kind="int", table="bronze.account")
        rt.watermarks.commit(window, n * 10 + 5)
        if n:
            rt.checkpoints.create("bronze.*", kind="DailyBatch", name=f"bronze_batch_{n}")
        rt.close()


def report(engine: DeltaEngine, run_id: str, tmp_path: Path, **kw: Any) -> HealthReport:
    rt = connect(engine, run_id)
    try:
        return rt.health.report(files_root=tmp_path / "Files", **kw)
    finally:
        rt.close()


def findings_rows(engine: DeltaEngine, report_id: str) -> list[dict[str, Any]]:
    return connect(engine, "reader").store.read("HealthFindings", {"ReportId": report_id})


def test_a_platform_with_loads_and_checkpoints_is_healthy_and_its_page_has_the_charts(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    loads = size(engine, 3, 2)  # Spark: one checkpoint fewer (each costs tens of seconds there)
    build(engine, loads=loads)
    before = engine.version(connect(engine, "r").store.ref("HealthFindings"))
    rep = report(engine, "health-ok", tmp_path)
    assert rep.status == "Healthy", rep.to_text()
    assert [f.check for f in rep.findings] == ["report.maintenance_missing"]  # INFO: young
    assert rep.tables_scanned == 2
    [scope] = rep.scopes
    assert (scope.scope, scope.latest, scope.checkpoints) == (
        "bronze.*",
        f"bronze_batch_{loads - 1}",
        loads - 1,
    )
    assert scope.restorability == "Restorable" and scope.status == "Healthy"
    sizes = {s.table: s for s in rep.storage}
    assert set(sizes) == set(TABLES)
    # rows after each checkpointed load: 5 + 10, then + 15
    assert [p.rows for p in sizes["bronze.account"].points] == [15, 30][: loads - 1]
    assert sizes["bronze.account"].bytes and sizes["bronze.account"].files == loads
    # the newest version: the foreign-operation scan read the whole history (its first scan)
    assert sizes["bronze.account"].version == engine.version(connect(engine, "r").table(TABLES[0]))
    assert rep.foreign_operations == () and rep.anomalies == []
    assert [w.entity for w in rep.watermarks] == ["account"] and not rep.watermarks[0].lagging
    assert rep.runs == () and sum(d.failures for d in rep.failures_per_day) == 0

    # the page: under Files/fmd/health/, self-contained, with its three charts
    page = Path(rep.html_path or "")
    assert page.parent == tmp_path / "Files" / "fmd" / "health"
    assert page.name == f"{rep.generated_at:%Y-%m-%d}_health-ok.html"
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert text.count("<svg") == 3 and text.count("<circle") == 4 * (loads - 1)  # 2 charts x 2
    assert text.count("<polyline") == (4 if loads > 2 else 0)  # a line needs two checkpoints
    for title in (
        "Rows per table over the last checkpoints",
        "Storage per table over the last checkpoints",
        "Failed loads per day",
    ):
        assert title in text
    assert f"bronze_batch_{loads - 1}" in text and "Healthy" in text

    # HealthFindings: every finding + one summary row, in one commit
    ref = connect(engine, "r").store.ref("HealthFindings")
    assert engine.version(ref) == before + 1
    rows = findings_rows(engine, rep.report_id)
    assert rep.findings_written == len(rows) == 2
    assert {r["CheckName"] for r in rows} == {"report.summary", "report.maintenance_missing"}
    assert {r["ReportStatus"] for r in rows} == {"Healthy"} and {r["RunId"] for r in rows} == {
        "health-ok"
    }
    summary = next(r for r in rows if r["CheckName"] == "report.summary")
    assert json.loads(summary["Numbers"])["counts"]["INFO"] == 1
    assert summary["HtmlPath"] == str(page)

    # one audit event, and the exit value a pipeline branches on
    events = connect(engine, "r").store.read("SyncAuditLog", {"RunId": "health-ok"})
    [event] = [e for e in events if e["Operation"] == "HealthReport"]
    assert event["Status"] == "Succeeded"
    assert json.loads(event["Details"])["counts"]["INFO"] == 1
    assert not [e for e in events if e["Operation"] == "Alert"]
    exit_value = json.loads(rep.exit_value())
    assert exit_value["status"] == "Healthy" and exit_value["html_path"] == str(page)
    assert exit_value["counts"] == {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "INFO": 1}


def test_a_failed_and_a_hung_load_make_it_unhealthy_with_one_alert(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=size(engine, 2, 1))  # Spark: no checkpoint (tens of seconds each there)
    rt = connect(engine, "night-run", pipeline_run_id="night")
    rt.runs.fail("contact", "bronze", table="bronze.contact", error="source timed out")
    # a notebook killed mid-load: its Started row, eight hours old, never got an outcome
    rt.store.append(
        "EntityRuns",
        [
            {
                "RunId": "killed-run",
                "EntityId": "account",
                "Layer": "bronze",
                "SchemaName": "bronze",
                "TableName": "account",
                "Status": "Started",
                "EventTime": utcnow() - timedelta(hours=8),
                "EntryId": "started-1",
            }
        ],
    )
    rt.close()
    rep = report(engine, "health-bad", tmp_path)
    assert rep.status == "Unhealthy"
    kinds = {(r.kind, r.entity, r.run_id, r.recovered) for r in rep.runs}
    assert kinds == {
        ("Failed", "contact", "night-run", False),
        ("Hung", "account", "killed-run", False),
    }
    failed = next(r for r in rep.runs if r.kind == "Failed")
    assert failed.error == "source timed out" and failed.table == "bronze.contact"
    hung = next(r for r in rep.runs if r.kind == "Hung")
    assert 7.9 < hung.age_hours < 8.5
    checks = {f.check: f for f in rep.findings}
    assert checks["report.run_failed"].severity == "HIGH"
    assert checks["report.run_hung"].severity == "HIGH"
    assert (
        "8" in checks["report.run_hung"].message
        and "killed-run" in checks["report.run_hung"].message
    )
    assert rep.failures_per_day[-1].failures == 1
    assert json.loads(rep.exit_value())["status"] == "Unhealthy"
    assert len(json.loads(rep.exit_value())["blocking"]) == 2
    audit = connect(engine, "r").store.read("SyncAuditLog", {"RunId": "health-bad"})
    alerts = [a for a in audit if a["Operation"] == "Alert"]
    assert len(alerts) == 1 and alerts[0]["Severity"] == "HIGH"
    details = json.loads(alerts[0]["Details"])
    assert "2 blocking" in details["title"] and details["report_id"] == rep.report_id
    assert next(a for a in audit if a["Operation"] == "HealthReport")["Status"] == "Failed"
    rows = findings_rows(engine, rep.report_id)
    assert {r["CheckName"] for r in rows if r["BlocksRun"]} == {
        "report.run_failed",
        "report.run_hung",
    }
    hung_row = next(r for r in rows if r["CheckName"] == "report.run_hung")
    assert (hung_row["SchemaName"], hung_row["TableName"], hung_row["EntityId"]) == (
        "bronze",
        "account",
        "account",
    )


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_a_failure_a_later_run_recovered_is_low_and_an_old_one_is_out_of_the_window(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=2)
    rt = connect(engine, "flaky")
    rt.runs.fail("account", "bronze", table="bronze.account", error="deadlock")
    rt.close()
    rt = connect(engine, "rerun")
    rt.runs.complete("account", "bronze", table="bronze.account", version=3)
    rt.close()
    rep = report(engine, "h1", tmp_path, write=False)
    assert [(r.kind, r.recovered) for r in rep.runs] == [("Failed", True)]
    assert rep.status == "Warning"
    assert {f.check: f.severity for f in rep.findings}["report.run_recovered"] == "LOW"
    assert rep.html_path is None and rep.findings_written == 0  # write=False wrote nothing
    assert not (tmp_path / "Files").exists()
    # judged three days later: the failure is outside a 24-hour window, still in the trend
    later = report(engine, "h2", tmp_path, write=False, now=utcnow() + timedelta(days=3))
    assert later.runs == ()
    assert sum(d.failures for d in later.failures_per_day) == 1


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_stale_checkpoints_lagging_watermarks_and_uncovered_tables_are_named(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=2)
    rt = connect(engine, "setup-more")
    rt.engine.create(rt.table("bronze.donation"), COLUMNS)
    rt.configure_table("bronze.donation", primary_key=["Id"])
    rt.close()
    rep = report(engine, "h-late", tmp_path, write=False, now=utcnow() + timedelta(days=3))
    checks = {f.check: f for f in rep.findings}
    assert checks["report.checkpoint_stale"].severity == "MEDIUM"
    assert "bronze_batch_1" in checks["report.checkpoint_stale"].message
    assert checks["report.watermark_lag"].entity == "account"
    assert checks["report.table_uncovered"].table == "bronze.donation"
    assert rep.status == "Warning" and rep.tables_scanned == 3
    # a week and a half later the restore target was never verified: LOW; maintenance: LOW
    rep = report(engine, "h-later", tmp_path, write=False, now=utcnow() + timedelta(days=10))
    severities = {f.check: f.severity for f in rep.findings}
    assert severities["report.checkpoint_unverified"] == "LOW"
    assert severities["report.maintenance_missing"] == "LOW"
    # verified now: the newest restore target is Restorable again
    rep = report(engine, "h-verify", tmp_path, write=False, verify=True)
    assert rep.scopes[0].restorability == "Restorable" and rep.scopes[0].last_verified
    # scoped to one table: only that table is read and judged
    rep = report(engine, "h-one", tmp_path, write=False, tables="bronze.contact")
    assert [s.table for s in rep.storage] == ["bronze.contact"] and rep.tables_scanned == 1
    assert rep.watermarks == ()  # the watermark is bronze.account's


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_failed_maintenance_is_high_and_the_last_summary_is_reported(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=2)
    rt = connect(engine, "maint-run")
    rt.audit.event("Vacuum", "Failed", table="bronze.account", error="disk full", severity="HIGH")
    rt.audit.event(
        "MaintenanceSummary",
        "Failed",
        dry_run=False,
        severity="HIGH",
        details={"status": "PartiallyFailed", "tables_failed": 1, "bytes_reclaimed": 2048},
    )
    rt.close()
    rep = report(engine, "h-m", tmp_path, write=False)
    m = rep.maintenance
    assert (m.run_id, m.status, m.tables_failed, m.bytes_reclaimed) == (
        "maint-run",
        "PartiallyFailed",
        1,
        2048,
    )
    assert m.failures == {"bronze.account": "Vacuum: disk full"}
    checks = {f.check: f.severity for f in rep.findings}
    assert checks["report.maintenance_failed"] == "HIGH"
    assert checks["report.maintenance_table"] == "MEDIUM"
    assert "report.maintenance_missing" not in checks and rep.status == "Unhealthy"


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_the_html_escapes_names_and_errors(engine: DeltaEngine, tmp_path: Path) -> None:
    build(engine, loads=2)
    rt = connect(engine, "evil")
    rt.runs.fail("acct<img src=x>", "bronze", error="<script>alert('x')</script> & more")
    rt.close()
    rep = report(engine, "run<b>&'\"", tmp_path)
    page = Path(rep.html_path or "").read_text()
    assert Path(rep.html_path or "").name == f"{rep.generated_at:%Y-%m-%d}_run_b____.html"
    assert "<script>" not in page and "<img" not in page and "run<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "acct&lt;img src=x&gt;" in page and "run&lt;b&gt;&amp;" in page
    # every tag in the page is one the report writes
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "section", "p", "strong",
        "br", "table", "thead", "tbody", "tr", "th", "td", "div", "svg", "line", "text",
        "polyline", "circle", "rect",
    }  # fmt: skip


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"since_hours": 0}, "since_hours"),
        ({"since_hours": "a day"}, "since_hours"),
        ({"since_hours": 721}, "since_hours"),
        ({"write": "maybe"}, "write"),
        ({"alert": 1.5}, "alert"),
        ({"thresholds": {"hung_after_hours": 0}}, "hung_after_hours"),
        ({"thresholds": {"no_such": 1}}, "no_such"),
        ({"thresholds": {"top_tables": 11}}, "top_tables"),
        ({"files_root": ""}, "files_root"),
        ({"now": "today"}, "now"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    engine: DeltaEngine, tmp_path: Path, kwargs: dict[str, Any], named: str
) -> None:
    rt = connect(engine, "bad-args")
    with pytest.raises(ConfigError, match=named):
        rt.health.report(**kwargs)
    rt.close()
    assert rt.store.read("HealthFindings") == []
    assert [e for e in rt.store.read("SyncAuditLog") if e["Operation"] == "HealthReport"] == []


def test_pipeline_strings_are_parsed() -> None:
    t = build_thresholds({"hung_after_hours": "2.5", "history_days": "30"})
    assert (t.hung_after_hours, t.history_days) == (2.5, 30)


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_cli_prints_each_format_and_exits_1_when_unhealthy(
    engine: DeltaEngine, lakehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(engine, loads=2)
    base = ["health", "--lakehouse", str(lakehouse), "--no-alert"]
    assert main(base) == 0
    assert capsys.readouterr().out.startswith("Platform health: Healthy")
    pages = list((lakehouse / "Files" / "fmd" / "health").glob("*.html"))
    assert len(pages) == 1 and "<svg" in pages[0].read_text()
    assert main([*base, "--format", "json", "--no-write"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "Healthy"
    rt = connect(engine, "night")
    rt.runs.fail("contact", "bronze", table="bronze.contact", error="boom")
    rt.close()
    out = tmp_path / "health.html"
    assert main([*base, "--format", "html", "--output", str(out)]) == 1
    assert "Unhealthy" in capsys.readouterr().out and out.read_text().count("<svg") == 3
    with pytest.raises(SystemExit) as usage:  # argparse refuses the value: exit 2
        main([*base, "--since-hours", "0"])
    assert usage.value.code == 2 and "since_hours" in capsys.readouterr().err
    assert main(["health", "--lakehouse", str(tmp_path / "nope")]) == 2


def test_a_lakehouse_without_anything_is_healthy_and_draws_empty_charts(
    tmp_path: Path,
) -> None:
    rt = fmd.connect(lakehouse=tmp_path / "empty", create=True, run_id="h-empty")
    rep = rt.health.report(alert=False)
    rt.close()
    assert rep.status == "Healthy" and rep.scopes == () and rep.storage == ()
    page = Path(rep.html_path or "").read_text()
    assert page.count("<svg") == 3 and "no checkpoint in the window" in page
    assert rep.html_path and rep.html_path.startswith(str(tmp_path / "empty" / "Files"))
    assert isinstance(rep.generated_at, datetime)


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_a_foreign_vacuum_is_in_the_report_and_alerted_once(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=2)
    first = report(engine, "h-before", tmp_path)  # the scan's first pass sets the marks
    assert first.status == "Healthy" and first.foreign_operations == ()
    rt = connect(engine, "someone-else")
    t = rt.table("bronze.account")
    ids = pa.array([900, 901], pa.int64())
    rt.engine.write(t, pa.table({"Id": ids, "Name": ["x", "y"]}), mode="overwrite")
    rt.engine.vacuum(t, retention_hours=0, dry_run=False, enforce_retention=False)
    rt.close()
    rep = report(engine, "h-after", tmp_path)
    assert rep.status == "Unhealthy"
    kinds = {o.kind: o for o in rep.foreign_operations}
    assert set(kinds) == {"overwrite", "vacuum"} and kinds["vacuum"].harmful
    assert kinds["vacuum"].affected_checkpoints == ["bronze_batch_1"]
    checks = {f.check: f.severity for f in rep.findings}
    assert checks["foreign.vacuum"] == "HIGH" and checks["foreign.overwrite"] == "MEDIUM"
    # the scope's restore target is the scan's verdict, not the stale header read before it
    assert rep.scopes[0].restorability == "Unrestorable"
    assert checks["report.checkpoint_unrestorable"] == "HIGH"
    page = Path(rep.html_path or "").read_text()
    assert "VACUUM START" in page and "bronze_batch_1" in page
    # the anomaly rules see the active rows of bronze.account (2 instead of 15) only at the next
    # checkpoint; here: the scan's alerts (HIGH, MEDIUM), and no summary of the same VACUUM
    audit = connect(engine, "r").store.read("SyncAuditLog", {"RunId": "h-after"})
    keys = sorted(json.loads(a["Details"])["key"] for a in audit if a["Operation"] == "Alert")
    assert [k.split(":")[:2] for k in keys] == [["foreign", "HIGH"], ["foreign", "MEDIUM"]]
    rows = findings_rows(engine, rep.report_id)
    assert {"foreign.vacuum", "report.checkpoint_unrestorable"} <= {r["CheckName"] for r in rows}


@pytest.mark.parametrize("engine", ["deltars"], indirect=True)
def test_a_problem_an_anomaly_already_names_is_reported_once(
    engine: DeltaEngine, tmp_path: Path
) -> None:
    build(engine, loads=4)  # three batch checkpoints, four watermark advances: a rhythm
    rep = report(engine, "h-rhythm", tmp_path, write=False, now=utcnow() + timedelta(days=3))
    checks = [f.check for f in rep.findings]
    # the scope's and the entity's own rhythm say it first: the absolute thresholds stay quiet
    assert "anomaly.checkpoint_missing" in checks and "report.checkpoint_stale" not in checks
    assert "anomaly.watermark_stalled" in checks and "report.watermark_lag" not in checks
    assert rep.scopes[0].latest == "bronze_batch_3" and rep.watermarks[0].lagging
