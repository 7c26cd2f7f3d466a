"""The health views of sql/views.sql (section 3) and docs/health-report.md's queries, run by Spark.

A real history on the embedded engine: a Healthy daily report, then a failed load and an
Unhealthy one the same day, and a report on the next day. The ``HealthFindings`` rows the store
wrote are saved by the local Spark session as parquet tables in a scratch database (the test
tier has no Delta for Spark) and ``metadata.`` is replaced by that database; every statement of
sql/views.sql runs as shipped.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlviews
from engines import connect
from sqlviews import metadata_database, run_query
from test_health_report import build

from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.store import utcnow

pytestmark = pytest.mark.spark

DOC = Path(__file__).resolve().parents[2] / "docs" / "health-report.md"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lakehouse = tmp_path_factory.mktemp("health-views") / "lakehouse"
    lakehouse.mkdir()
    engine = DeltaRsEngine(lakehouse)
    build(engine, loads=2)
    ids = {}
    rt = connect(engine, "h-morning")
    ids["healthy"] = rt.health.report(alert=False).report_id
    rt.close()
    rt = connect(engine, "night")
    rt.runs.fail("contact", "bronze", table="bronze.contact", error="source timed out")
    rt.close()
    rt = connect(engine, "h-evening")
    ids["unhealthy"] = rt.health.report(alert=False).report_id
    rt.close()
    rt = connect(engine, "h-tomorrow")
    ids["tomorrow"] = rt.health.report(
        alert=False, since_hours=48, now=utcnow() + timedelta(days=1)
    ).report_id
    rows = rt.store.read("HealthFindings")
    rt.close()
    return {"ids": ids, "rows": rows}


@pytest.fixture(scope="module")
def db(spark: Any, history: dict[str, Any]) -> Any:
    with metadata_database(spark, {"HealthFindings": history["rows"]}, prefix="fmd_health") as name:
        yield name


def test_reports_view_has_one_row_per_report_with_its_counts(
    spark: Any, db: str, history: dict[str, Any]
) -> None:
    rows = {r["ReportId"]: r for r in run_query(spark, db, f"SELECT * FROM {db}.vw_HealthReports")}
    ids = history["ids"]
    assert set(rows) == set(ids.values())
    healthy, unhealthy = rows[ids["healthy"]], rows[ids["unhealthy"]]
    assert (healthy["ReportStatus"], healthy["HighFindings"], healthy["InfoFindings"]) == (
        "Healthy",
        0,
        1,
    )
    assert (unhealthy["ReportStatus"], unhealthy["HighFindings"]) == ("Unhealthy", 1)
    assert unhealthy["TablesScanned"] == 2 and unhealthy["HtmlPath"].endswith("_h-evening.html")
    assert unhealthy["Source"] == "report" and unhealthy["RunId"] == "h-evening"


def test_latest_findings_are_the_newest_reports_most_severe_first(
    spark: Any, db: str, history: dict[str, Any]
) -> None:
    rows = run_query(
        spark, db, f"SELECT * FROM {db}.vw_HealthFindingsLatest ORDER BY SeverityRank, CheckName"
    )
    assert {r["ReportId"] for r in rows} == {history["ids"]["tomorrow"]}
    first = rows[0]
    assert (first["CheckName"], first["Severity"], first["SeverityRank"]) == (
        "report.run_failed",
        "HIGH",
        1,
    )
    assert first["Table"] == "bronze.contact" and first["EntityId"] == "contact"
    assert first["BlocksRun"] is True and "source timed out" in first["Message"]
    assert "report.summary" not in {r["CheckName"] for r in rows}


def test_daily_view_keeps_the_last_report_and_the_worst_status_of_each_day(
    spark: Any, db: str, history: dict[str, Any]
) -> None:
    rows = run_query(spark, db, f"SELECT * FROM {db}.vw_HealthDaily ORDER BY ReportDate")
    assert len(rows) == 2
    today, tomorrow = rows
    assert (today["Reports"], today["Status"], today["WorstStatus"]) == (
        2,
        "Unhealthy",
        "Unhealthy",
    )
    assert today["LastReportId"] == history["ids"]["unhealthy"]
    assert (tomorrow["Reports"], tomorrow["LastReportId"]) == (1, history["ids"]["tomorrow"])
    assert (tomorrow["ReportDate"] - today["ReportDate"]).days == 1


def test_the_documented_queries_run(spark: Any, db: str, history: dict[str, Any]) -> None:
    queries = sqlviews.documented_queries(DOC)
    assert set(queries) == {"blocking_findings", "status_trend"}
    blocking = run_query(spark, db, queries["blocking_findings"])
    assert [r["CheckName"] for r in blocking] == ["report.run_failed"]
    trend = run_query(spark, db, queries["status_trend"], days=30)
    assert [r["Status"] for r in trend] == ["Unhealthy", "Unhealthy"]
