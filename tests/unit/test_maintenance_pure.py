"""Unit tests of maintenance's pure parts: Delta intervals, the keep-set overlap, retention needs,
and the plan / summary models (JSON-able, readable)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from fmd_runtime.errors import MaintenanceError
from fmd_runtime.fabric import exit_value
from fmd_runtime.maintenance import (
    MaintenancePlan,
    MaintenanceResult,
    PropertyChange,
    TablePlan,
    TableRun,
    format_interval,
    parse_interval_hours,
)
from fmd_runtime.maintenance._plan import overlap
from fmd_runtime.maintenance._retention import Pin, need_hours


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("interval 7 days", 168),
        ("interval 168 hours", 168),
        ("7 days", 168),
        ("1 day", 24),
        ("INTERVAL 30 DAYS", 720),
        ("interval 1 week", 168),
        ("interval 2 weeks", 336),
        ("interval 1 week 12 hours", 180),
        ("interval 90 minutes", 1.5),
        ("interval 3600 seconds", 1),
        ("  interval   2   days  ", 48),
    ],
)
def test_parse_interval_hours_accepts_delta_spellings(text: str, hours: float) -> None:
    assert parse_interval_hours(text) == pytest.approx(hours)


@pytest.mark.parametrize(
    "text",
    ["", "7", "interval", "seven days", "7 fortnights", "7 days; drop table x", "interval 1 month"],
)
def test_parse_interval_hours_refuses_anything_else(text: str) -> None:
    with pytest.raises(MaintenanceError) as info:
        parse_interval_hours(text, table="bronze.account")
    assert "In table `bronze.account`" in str(info.value)
    assert "What to do" in str(info.value)


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (168, "interval 7 days"),
        (720, "interval 30 days"),
        (170, "interval 170 hours"),
        (167.2, "interval 7 days"),
    ],
)
def test_format_interval_round_trips(hours: float, text: str) -> None:
    assert format_interval(hours) == text
    assert parse_interval_hours(text) >= hours


def test_overlap_matches_relative_and_absolute_paths_only_on_whole_names() -> None:
    keep = frozenset({"part-1.parquet", "p=1/part-2.parquet", "deletion_vector_ab.bin"})
    candidates = [
        "part-1.parquet",  # same relative path
        "abfss://ws@onelake/lh/Tables/bronze/t/p=1/part-2.parquet",  # absolute form of a kept file
        "xpart-1.parquet",  # a different file whose name ends the same
        "p=2/part-2.parquet",  # same file name, other partition
        "part-9.parquet",
    ]
    assert overlap(candidates, keep) == candidates[:2]
    assert overlap(candidates, frozenset()) == []


def test_need_hours_covers_age_and_remaining_life() -> None:
    now = datetime(2025, 1, 20, tzinfo=timezone.utc)
    ts = now - timedelta(days=10)
    young = Pin("cp", "bronze.a", 3, ts, now + timedelta(days=20), date(2025, 2, 8))
    expired = Pin("cp", "bronze.a", 3, ts, now - timedelta(days=1), date(2025, 1, 18))
    assert need_hours(young, now) == 30 * 24  # until it expires
    assert need_hours(expired, now) == 10 * 24  # at least its age


def _plan() -> MaintenancePlan:
    tp = TablePlan(
        table="bronze.account",
        vacuum="run",
        requested_retention_hours=168,
        retention_hours=168,
        keep_versions=(2,),
        pinned_versions=(2,),
        checkpoints=("daily_2025-01-13@v2",),
        protection="keep_versions",
        protected_files=3,
        candidate_files=("a.parquet", "b.parquet"),
        candidate_bytes=2048,
        optimize=True,
        zorder_by=("AccountId",),
        property_changes=(
            PropertyChange(
                property="delta.logRetentionDuration",
                current=None,
                new="interval 31 days",
                direction="raise",
                reason="AtRisk",
            ),
        ),
        reasons=("RETAIN 168 hours: VacuumRetentionHours",),
    )
    refused = TablePlan(
        table="bronze.contact",
        vacuum="refused",
        requested_retention_hours=24,
        error="In table `bronze.contact`: VACUUM retention of 24 hours is below the safety floor of 168 hours",
    )
    return MaintenancePlan(
        run_id="r1",
        created_at=datetime(2025, 1, 19, 2, tzinfo=timezone.utc),
        engine="deltars",
        floor_hours=168,
        tables=(tp, refused),
    )


def test_plan_text_says_what_runs_with_which_retention_and_why() -> None:
    text = _plan().to_text()
    assert "bronze.account" in text and "RETAIN 168 HOURS keep versions [2]" in text
    assert "would delete 2 file(s), 2.0 KiB" in text  # IEC units, as every report (_text)
    assert (
        "daily_2025-01-13@v2" in text
        and "3 file(s) the unprotected VACUUM would have deleted" in text
    )
    assert "ZORDER BY (AccountId)" in text
    assert "delta.logRetentionDuration: default -> interval 31 days" in text
    assert "REFUSED" in text and "below the safety floor of 168 hours" in text


def test_plan_is_json_able_and_looks_up_tables() -> None:
    plan = _plan()
    data = json.loads(json.dumps(plan.to_exit_dict()))
    assert data["tables"][0]["candidate_files"] == ["a.parquet", "b.parquet"]
    assert plan.table("BRONZE.ACCOUNT").protected_files == 3
    with pytest.raises(KeyError):
        plan.table("bronze.nope")


def test_summary_exit_value_leaves_file_lists_out_and_parses() -> None:
    result = MaintenanceResult(
        run_id="r1",
        dry_run=False,
        status="PartiallyFailed",
        tables=(
            TableRun(
                table="bronze.account",
                status="Succeeded",
                dry_run=False,
                vacuum_files=("a.parquet",),
                files_removed=1,
                bytes_reclaimed=10,
            ),
            TableRun(table="bronze.contact", status="Failed", dry_run=False, error="VACUUM: boom"),
        ),
        tables_processed=2,
        tables_succeeded=1,
        tables_failed=1,
        failures={"bronze.contact": "VACUUM: boom"},
        bytes_reclaimed=10,
        files_removed=1,
    )
    data = json.loads(exit_value(result))
    assert data["failures"] == {"bronze.contact": "VACUUM: boom"}
    assert "vacuum_files" not in data["tables"][0]
    text = result.to_text()
    assert "1 failed" in text and "bronze.contact: Failed" in text and "VACUUM: boom" in text
