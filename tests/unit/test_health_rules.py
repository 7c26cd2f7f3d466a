"""The daily report's rules on rows (no engine): attempts, hung loads, thresholds, maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from fmd_runtime.errors import ConfigError
from fmd_runtime.health import ReportThresholds, build_thresholds
from fmd_runtime.health._operations import maintenance_section, watermark_section
from fmd_runtime.health._rules import run_sections
from fmd_runtime.watermarks import WatermarkState

NOW = datetime(2025, 1, 15, 6, 0, tzinfo=timezone.utc)
T = ReportThresholds()


def row(status: str, hours_ago: float, **kw: Any) -> dict[str, Any]:
    return {
        "RunId": kw.pop("run", "r1"),
        "EntityId": kw.pop("entity", "account"),
        "Layer": "bronze",
        "SchemaName": "bronze",
        "TableName": "account",
        "Status": status,
        "EventTime": (NOW - timedelta(hours=hours_ago)).replace(tzinfo=None),  # naive: UTC
        **kw,
    }


def runs(rows: list[dict[str, Any]]) -> Any:
    return run_sections(
        rows,
        now=NOW,
        since=NOW - timedelta(hours=24),
        thresholds=T,
        history_start=NOW - timedelta(days=3),
    )


def test_a_started_attempt_with_an_outcome_is_not_hung_and_a_young_one_is_not_yet() -> None:
    issues, _, findings = runs(
        [
            row("Started", 10, run="done"),
            row("Succeeded", 9, run="done"),
            row("Started", 2, run="young"),  # under hung_after_hours (6)
            row("Started", 7, run="old", entity="contact"),
        ]
    )
    assert [(i.kind, i.run_id, i.entity) for i in issues] == [("Hung", "old", "contact")]
    assert [f.check for f in findings] == ["report.run_hung"]


def test_invalidated_rows_and_failures_outside_the_window_are_left_out() -> None:
    issues, per_day, _ = runs(
        [
            row("Failed", 2, run="undone", Invalidated=True),
            row("Failed", 30, run="yesterday"),
            row("Failed", 3, run="today", Details='{"error": "timeout\\n  at line 3"}'),
        ]
    )
    assert [(i.run_id, i.error) for i in issues] == [("today", "timeout at line 3")]
    assert [d.failures for d in per_day] == [0, 0, 1, 1]  # 3 days back to today, live rows only


def test_a_failure_then_a_success_of_another_run_is_recovered() -> None:
    issues, _, findings = runs([row("Failed", 5, run="a"), row("Succeeded", 1, run="b")])
    assert issues[0].recovered and findings[0].severity == "LOW"
    issues, _, findings = runs([row("Succeeded", 5, run="b"), row("Failed", 1, run="a")])
    assert not issues[0].recovered and findings[0].severity == "HIGH"


def test_watermark_value_lag_is_measured_for_time_kinds_only() -> None:
    states = [
        WatermarkState(entity="a", kind="datetime", value="2025-01-14T06:00:00+00:00",
                       operation="Commit", run_id="r", event_time=NOW - timedelta(hours=50)),
        WatermarkState(entity="b", kind="int", value="42", operation="Commit", run_id="r",
                       event_time=NOW - timedelta(hours=1)),
    ]  # fmt: skip
    lags, findings = watermark_section(states, now=NOW, thresholds=T, tables=None)
    assert [(w.entity, w.lagging, w.value_lag_hours) for w in lags] == [
        ("a", True, 24.0),
        ("b", False, None),
    ]
    assert [f.entity for f in findings] == ["a"]


def test_a_dry_run_maintenance_is_not_a_maintenance_run() -> None:
    audit = [
        {"Operation": "MaintenanceSummary", "Status": "Succeeded", "DryRun": True, "RunId": "m",
         "EventTime": NOW - timedelta(days=1), "Details": "{}", "SchemaName": None,
         "TableName": None, "ErrorSummary": None},
    ]  # fmt: skip
    outcome, findings = maintenance_section(
        audit, now=NOW, since=NOW - timedelta(hours=24), thresholds=T, operating_since=None,
        tables=None,
    )  # fmt: skip
    assert outcome.last_run is None and [f.severity for f in findings] == ["INFO"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"hung_after_hours": 0.1}, "hung_after_hours"),
        ({"history_days": 2.5}, "history_days"),
        ({"watermark_lag_hours": True}, "watermark_lag_hours"),
        ("hung_after_hours=4", "thresholds"),
    ],
)
def test_thresholds_are_checked(values: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        build_thresholds(values)
