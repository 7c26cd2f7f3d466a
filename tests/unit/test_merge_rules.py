"""The merge's pure rules: counts, the circuit breaker's decision, the spec and input checks."""

from __future__ import annotations

import pytest

from fmd_runtime.config import TableConfig
from fmd_runtime.engine import CommitOptions, MergeCounts
from fmd_runtime.engine._merge import MERGE_METADATA_KEY, with_counts
from fmd_runtime.errors import ConfigError, ContractViolation
from fmd_runtime.runs._breaker import describe, evaluate, median
from fmd_runtime.runs._merge import build_spec, check_keys, check_reason

CFG = TableConfig(table="silver.account", primary_key=["AccountId"], deleted_flag="IsDeleted")


def counts(**kw: int) -> MergeCounts:
    return MergeCounts(**kw)


def never() -> tuple[float | None, str | None, int]:
    raise AssertionError("the baseline must not be read for this merge")


def test_counts_round_trip_through_commit_metadata_and_derive_the_totals() -> None:
    c = counts(inserted=4, updated=3, deleted=2, reactivated=1, unchanged=90, active_before=100)
    assert (c.changed, c.active_after, c.delete_share) == (10, 103, 0.02)
    commit = with_counts(CommitOptions(metadata={"fmd.runId": "r"}, app_id="a", app_version=1), c)
    assert commit.metadata["fmd.runId"] == "r" and commit.app_version == 1
    assert MergeCounts.from_metadata(commit.metadata[MERGE_METADATA_KEY]) == c
    assert MergeCounts.from_metadata("not json") is None and MergeCounts.from_metadata(None) is None


@pytest.mark.parametrize(
    ("deleted", "tripped"), [(10, ()), (11, ("delete_share",)), (40, ("delete_share",))]
)
def test_the_delete_share_rule_trips_strictly_above_the_limit(
    deleted: int, tripped: tuple[str, ...]
) -> None:
    c = counts(deleted=deleted, unchanged=100 - deleted, active_before=100)
    assert evaluate(c, CFG, lambda: (None, None, 0)).tripped == tripped


def test_the_ratio_rule_needs_a_baseline_and_enough_changed_rows() -> None:
    big = counts(updated=400, unchanged=9600, active_before=10_000)
    assert evaluate(big, CFG, lambda: (100.0, "merges", 5)).tripped == ("change_ratio",)
    assert evaluate(big, CFG, lambda: (150.0, "merges", 5)).tripped == ()  # 2.67x
    assert evaluate(big, CFG, lambda: (None, None, 1)).tripped == ()  # no baseline yet
    # below 1% of the active rows, or 10 rows: the history is not even read
    assert evaluate(counts(updated=99, active_before=10_000), CFG, never).tripped == ()
    assert evaluate(counts(updated=10, active_before=20), CFG, never).tripped == ()
    zero = evaluate(counts(updated=50, active_before=100), CFG, lambda: (0.0, "merges", 3))
    assert zero.tripped == ("change_ratio",) and zero.change_ratio == 50.0


def test_the_limits_come_from_the_table_configuration() -> None:
    loose = CFG.model_copy(update={"max_delete_share": 0.5, "max_change_ratio": 10.0})
    c = counts(deleted=40, updated=400, active_before=1000)
    assert evaluate(c, loose, lambda: (50.0, "checkpoints", 4)).tripped == ()
    with pytest.raises(ConfigError, match="max_delete_share"):
        TableConfig(table="silver.a", max_delete_share=1.5)
    with pytest.raises(ConfigError, match="max_change_ratio"):
        TableConfig(table="silver.a", max_change_ratio="0.5")


def test_a_refusal_states_the_numbers() -> None:
    c = counts(deleted=40_000, unchanged=60_000, active_before=100_000)
    check = evaluate(c, CFG, lambda: (2000.0, "merges", 10))
    assert check.tripped == ("delete_share", "change_ratio")
    assert describe(check) == (
        "it would soft-delete 40,000 of 100,000 active rows (40.0%; limit 10.0%) and it would "
        "change 40,000 rows, 20x the usual 2,000 (median of the last 10 merges; limit 3x)"
    )
    assert median([5, 1, 9, 3]) == 4.0


def test_the_spec_keys_and_reason_are_checked_where_they_enter() -> None:
    assert check_keys(None, CFG, "silver.account") == ("AccountId",)
    assert check_keys("accountid", CFG, "silver.account") == ("accountid",)
    with pytest.raises(ConfigError, match="differ from the configured primary key"):
        check_keys(["Name"], CFG, "silver.account")
    with pytest.raises(ConfigError, match="none is given or configured"):
        check_keys(None, TableConfig(table="silver.b"), "silver.b")
    spec = build_spec(("AccountId",), "snapshot", "Name, City", CFG, "silver.account")
    assert spec.compare == ("Name", "City") and spec.tracking == ("IsDeleted",)
    with pytest.raises(ConfigError, match="snapshot merge needs a deleted flag"):
        build_spec(("Id",), "snapshot", None, TableConfig(table="silver.b"), "silver.b")
    with pytest.raises(ConfigError, match="merge mode 'delete' is not valid"):
        build_spec(("Id",), "delete", None, CFG, "silver.account")
    assert check_reason("  CHG-1 ") == "CHG-1" and check_reason(None) is None
    for bad in ("", "   ", "x" * 1001, 5):
        with pytest.raises(ContractViolation, match="override_reason"):
            check_reason(bad)
