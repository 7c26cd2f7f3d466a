"""The robust statistics of the anomaly checks (median, MAD, the decision) and the rules applied
to recorded numbers, without any table: pure functions on values."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

import pytest

from fmd_runtime.errors import ConfigError
from fmd_runtime.health._anomaly_rules import (
    AnomalyRules,
    Point,
    entity_findings,
    table_findings,
)
from fmd_runtime.health._stats import MAD_SCALE, mad, median, overdue, robust_drop, robust_jump

NOW = datetime(2025, 1, 15, 6, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "values", [[1.0], [3, 1, 2], [4, 1, 3, 2], [10, 10, 10, 11], [1, 2, 3, 4, 100], [5, -3, 8, 8]]
)
def test_median_is_the_standard_median(values: list[float]) -> None:
    assert median(values) == statistics.median(values)


def test_mad_is_the_median_of_absolute_deviations_and_ignores_one_outlier() -> None:
    assert mad([1, 2, 3, 4, 100]) == 1.0  # the outlier moves a standard deviation, not the MAD
    assert statistics.pstdev([1, 2, 3, 4, 100]) > 30
    assert mad([7, 7, 7]) == 0.0
    assert mad([1, 1, 2, 2, 4, 6, 9]) == 1.0  # the textbook example: median 2, deviations' 1
    with pytest.raises(ValueError):
        median([])


def test_a_drop_needs_both_the_share_and_the_mads() -> None:
    base = [100, 102, 98, 101, 99]
    big = robust_drop(60, base)
    assert (big.current, big.baseline_median, big.baseline_mad, big.change) == (60, 100, 1, 40)
    assert big.share == pytest.approx(0.40) and big.scaled_mad == pytest.approx(MAD_SCALE)
    assert big.flagged(share=0.10, k=3.0)
    # 5% down: unusual for this quiet table (many MADs) but below the share: not flagged
    assert not robust_drop(95, base).flagged(share=0.10, k=3.0)
    # a noisy table: 20% down is within its usual swings (3 scaled MADs = 26): not flagged
    noisy = [100, 80, 120, 90, 110]
    assert robust_drop(80, noisy).share == pytest.approx(0.2)
    assert not robust_drop(80, noisy).flagged(share=0.10, k=3.0)
    assert robust_drop(40, noisy).flagged(share=0.10, k=3.0)
    # a rise is never a drop
    assert not robust_drop(130, base).flagged(share=0.0, k=0.0)


def test_a_steady_table_with_zero_mad_is_judged_by_the_share_alone() -> None:
    steady = [500, 500, 500, 500]
    one_row = robust_drop(499, steady)
    assert one_row.baseline_mad == 0 and one_row.change == 1
    assert not one_row.flagged(share=0.10, k=3.0)  # a one-row change of a steady table
    assert robust_drop(400, steady).flagged(share=0.10, k=3.0)  # 20%: flagged
    assert not robust_drop(500, steady).flagged(share=0.0, k=0.0)  # nothing moved


def test_a_jump_is_measured_against_the_named_reference() -> None:
    jump = robust_jump(42, [1, 2, 3], reference=100)
    assert (jump.baseline_median, jump.change, jump.share) == (2, 40, 0.4)
    assert jump.flagged(share=0.10, k=3.0)
    assert robust_jump(5, [0, 0, 0]).share == 5.0  # from nothing: every unit counts fully
    assert jump.numbers() == {
        "current": 42,
        "baseline_median": 2,
        "baseline_mad": 1,
        "change": 40,
        "share": 0.4,
        "baseline_points": 3,
    }


def test_overdue_compares_with_the_median_interval() -> None:
    assert overdue(73, [24, 24, 25, 23], factor=3.0)
    assert not overdue(71, [24, 24, 25, 23], factor=3.0)
    assert not overdue(1000, [], factor=3.0)


# --------------------------------------------------------------------------- the rules on numbers


def points(counts: list[tuple[int, int, int]], *, bytes_per_row: int = 100) -> list[Point]:
    """Daily checkpoint points of one table from (total, active, deleted)."""
    n = len(counts)
    return [
        Point(
            table="bronze.account",
            version=i * 2,
            created=NOW - timedelta(days=n - i),
            checkpoint=f"bronze_backup_{i}",
            total=t,
            active=a,
            deleted=d,
            bytes=t * bytes_per_row,
            files=3,
        )
        for i, (t, a, d) in enumerate(counts)
    ]


def churn(days: int, start: int = 1000) -> list[tuple[int, int, int]]:
    """Normal churn: 3% new rows and 2% of the active ones flagged deleted each day."""
    total, deleted, out = start, 0, []
    for _ in range(days):
        active = total - deleted
        new, gone = round(active * 0.03), round(active * 0.02)
        total, deleted = total + new, deleted + gone
        out.append((total, total - deleted, deleted))
    return out


def test_normal_churn_raises_nothing() -> None:
    assert table_findings({"bronze.account": points(churn(10))}, AnomalyRules()) == []


def test_forty_percent_flagged_deleted_raises_both_count_anomalies_with_the_numbers() -> None:
    days = churn(8)
    total, active, deleted = days[-1]
    flagged = round(active * 0.4)
    bad = [*days, (total, active - flagged, deleted + flagged)]
    found = {f.check: f for f in table_findings({"bronze.account": points(bad)}, AnomalyRules())}
    assert set(found) == {"anomaly.active_rows_drop", "anomaly.deleted_rows_jump"}
    base = days[-7:]  # the default baseline: the previous 7 checkpointed versions
    actives = [a for _, a, _ in base]
    drop = found["anomaly.active_rows_drop"]
    assert drop.severity == "HIGH" and drop.table == "bronze.account"
    assert drop.numbers["current"] == active - flagged
    assert drop.numbers["baseline_median"] == statistics.median(actives)
    assert drop.numbers["baseline_mad"] == statistics.median(
        [abs(a - statistics.median(actives)) for a in actives]
    )
    share = (statistics.median(actives) - (active - flagged)) / statistics.median(actives)
    assert drop.numbers["share"] == pytest.approx(share, abs=1e-4)
    assert drop.numbers["baseline_checkpoints"] == [f"bronze_backup_{i}" for i in range(1, 8)]
    assert f"{active - flagged:,}" in drop.message and "rt.rollback.plan" in drop.fix
    jump = found["anomaly.deleted_rows_jump"]
    assert jump.numbers["current"] == deleted + flagged
    assert jump.numbers["share"] > 0.35


def test_too_short_a_baseline_is_not_judged() -> None:
    bad = [(100, 100, 0), (100, 100, 0), (100, 40, 60)]  # 2 previous points: fewer than 3
    assert table_findings({"bronze.account": points(bad)}, AnomalyRules()) == []
    rules = AnomalyRules(min_baseline_points=2)
    assert table_findings({"bronze.account": points(bad)}, rules)


def test_total_rows_shrinking_against_a_growing_table() -> None:
    grow = [(1000 + 30 * i, 1000 + 30 * i, 0) for i in range(6)]
    shrunk = [*grow, (1000, 1000, 0)]
    [f] = table_findings({"bronze.account": points(shrunk)}, AnomalyRules())
    assert f.check == "anomaly.total_rows_shrink" and f.severity == "MEDIUM"
    assert (f.numbers["current"], f.numbers["previous"], f.numbers["change"]) == (1000, 1150, -150)
    assert f.numbers["usual_change_median"] == 30
    # a table whose totals swing that much every day does not flag the same shrink
    swing = [(1000, 1000, 0), (1200, 1200, 0), (1010, 1010, 0), (1190, 1190, 0), (1150, 1150, 0)]
    quiet = table_findings({"bronze.account": points([*swing, (1000, 1000, 0)])}, AnomalyRules())
    assert [f.check for f in quiet] == []


def test_storage_growing_faster_than_rows_only_for_tables_big_enough() -> None:
    rows = [(1000 + i, 1000 + i, 0) for i in range(5)]
    pts = points(rows, bytes_per_row=1_000_000)
    last = pts[-1]
    heavy = [*pts[:-1], Point(**{**last.__dict__, "bytes": last.total * 3_000_000})]  # 3x per row
    [f] = table_findings({"bronze.account": heavy}, AnomalyRules())
    assert f.check == "anomaly.storage_growth" and f.severity == "LOW"
    assert f.numbers["ratio"] == pytest.approx(3.0, rel=0.01)
    small = AnomalyRules(storage_min_bytes=2**40)
    assert table_findings({"bronze.account": heavy}, small) == []


def test_watermark_stalled_and_failing_runs_from_ledger_rows() -> None:
    def wm(hours_ago: float, value: int, previous: int | None) -> dict[str, object]:
        return {
            "EntityId": "crm.account",
            "Layer": "bronze",
            "SchemaName": "bronze",
            "TableName": "account",
            "EventTime": NOW - timedelta(hours=hours_ago),
            "Value": str(value),
            "PreviousValue": None if previous is None else str(previous),
        }

    daily = [wm(24 * d, 10 - d, 9 - d) for d in range(7, 3, -1)]  # last advance 4 days ago
    [f] = entity_findings(daily, [], AnomalyRules(), NOW)
    assert f.check == "anomaly.watermark_stalled" and f.entity == "crm.account"
    assert f.numbers["hours_since_advance"] == 96 and f.numbers["usual_interval_hours"] == 24
    assert f.table == "bronze.account"
    same_value = [*daily, wm(1, 6, 6)]  # committed again, but not advanced: still stalled
    assert len(entity_findings(same_value, [], AnomalyRules(), NOW)) == 1
    fresh = [*daily, wm(1, 7, 6)]
    assert entity_findings(fresh, [], AnomalyRules(), NOW) == []

    def run(hours_ago: float, status: str, run_id: str) -> dict[str, object]:
        return {
            "EntityId": "crm.contact",
            "Layer": "bronze",
            "SchemaName": "bronze",
            "TableName": "contact",
            "EventTime": NOW - timedelta(hours=hours_ago),
            "Status": status,
            "RunId": run_id,
        }

    runs = [run(100, "Succeeded", "r0"), run(72, "Failed", "r1"), run(71, "Failed", "r1")]
    runs += [run(48, "Failed", "r2"), run(24, "Failed", "r3")]
    [f] = entity_findings([], runs, AnomalyRules(), NOW)
    assert f.check == "anomaly.failing_runs" and f.severity == "HIGH"
    assert f.numbers["failed_runs_in_a_row"] == 3  # r1 retried counts once
    assert entity_findings([], [*runs, run(1, "Succeeded", "r4")], AnomalyRules(), NOW) == []
    assert entity_findings([], runs, AnomalyRules(failing_runs=4), NOW) == []


@pytest.mark.parametrize(
    "values",
    [
        {"active_drop_share": 0},
        {"active_drop_share": 1.5},
        {"baseline_points": 2},
        {"failing_runs": 2.5},
        {"lookback_days": True},
        {"mad_multiplier": "lots"},
        {"min_baseline_points": 8},
        {"no_such_rule": 1},
    ],
)
def test_rules_out_of_bounds_are_refused_naming_the_rule(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(values))):
        AnomalyRules(**values)  # type: ignore[arg-type]


def test_rules_accept_numeric_text_from_pipelines() -> None:
    rules = AnomalyRules(active_drop_share="0.2", failing_runs="5")  # type: ignore[arg-type]
    assert (rules.active_drop_share, rules.failing_runs) == (0.2, 5)
