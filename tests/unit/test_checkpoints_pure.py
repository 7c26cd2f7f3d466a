"""Pure parts of checkpoints: digests, fingerprints, intervals, names, the one-pass SQL, checks."""

from __future__ import annotations

import typing
from datetime import date, datetime, timezone

import pytest

import fmd_runtime.checkpoints as package
from fmd_runtime.checkpoints import (
    BASELINE_PREFIX,
    NAME_WORDS,
    Checkpoint,
    CheckpointKind,
    CheckpointTable,
    TableMeasure,
    aggregation_sql,
    check_measure,
    default_name,
    manifest_digest,
    parse_interval_days,
    property_days,
    schema_fingerprint,
)
from fmd_runtime.checkpoints._record import free_name
from fmd_runtime.config import CHECKPOINT_KINDS
from fmd_runtime.engine import Column, DataFile, Protocol_, TableSnapshot
from fmd_runtime.errors import CheckpointError
from fmd_runtime.tables import TableRef


def _snap(columns: list[Column], **kw: object) -> TableSnapshot:
    base: dict[str, object] = {
        "table": "bronze.t",
        "version": 3,
        "timestamp": None,
        "columns": tuple(columns),
        "protocol": Protocol_(min_reader_version=1, min_writer_version=2),
    }
    base.update(kw)
    return TableSnapshot(**base)  # type: ignore[arg-type]


def test_manifest_digest_is_order_free_and_sees_path_size_and_deletion_vector() -> None:
    a = DataFile(path="a.parquet", size_bytes=10)
    b = DataFile(path="b.parquet", size_bytes=20)
    assert manifest_digest([a, b]) == manifest_digest([b, a])
    assert manifest_digest([a, b]) != manifest_digest([a])
    assert manifest_digest([a]) != manifest_digest([a.model_copy(update={"size_bytes": 11})])
    with_dv = a.model_copy(update={"deletion_vector": "uabc@1"})
    assert manifest_digest([a]) != manifest_digest([with_dv])
    assert len(manifest_digest([])) == 64


def test_schema_fingerprint_ignores_properties_but_sees_columns_and_protocol() -> None:
    cols = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
    base = _snap(cols)
    assert schema_fingerprint(base) == schema_fingerprint(
        _snap(cols, properties={"delta.logRetentionDuration": "interval 60 days"}, version=9)
    )
    assert schema_fingerprint(base) != schema_fingerprint(_snap(cols[:1]))
    assert schema_fingerprint(base) != schema_fingerprint(
        _snap([cols[0], Column(name="Name", type="bigint")])
    )
    newer = Protocol_(
        min_reader_version=3, min_writer_version=7, reader_features=("deletionVectors",)
    )
    assert schema_fingerprint(base) != schema_fingerprint(_snap(cols, protocol=newer))


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("interval 7 days", 7.0),
        ("interval 168 hours", 7.0),
        ("INTERVAL 1 WEEK", 7.0),
        ("30 days", 30.0),
        ("interval 1 day 12 hours", 1.5),
        ("interval 1440 minutes", 1.0),
    ],
)
def test_parse_interval_days(text: str, days: float) -> None:
    assert parse_interval_days(text) == pytest.approx(days)


@pytest.mark.parametrize(
    "text", ["", "seven days", "interval 7 fortnights", "7", "interval 7 days x"]
)
def test_parse_interval_days_refuses_what_is_not_an_interval(text: str) -> None:
    with pytest.raises(CheckpointError, match="not a Delta interval"):
        parse_interval_days(text, table="bronze.t")


def test_property_days_defaults_are_deltas() -> None:
    assert property_days({}, "delta.deletedFileRetentionDuration") == 7.0
    assert property_days({}, "delta.logRetentionDuration") == 30.0
    assert (
        property_days(
            {"delta.logRetentionDuration": "interval 2 days"}, "delta.logRetentionDuration"
        )
        == 2.0
    )


def test_default_names_per_kind() -> None:
    day = date(2025, 1, 15)
    bronze = [TableRef.parse("bronze.account"), TableRef.parse("bronze.contact")]
    assert default_name("Daily", bronze[:1], day) == "bronze_backup_2025-01-15"
    assert default_name("DailyBatch", bronze, day) == "bronze_batch_2025-01-15"
    assert default_name("PrePurge", bronze, day) == "bronze_prepurge_2025-01-15"
    mixed = [*bronze, TableRef.parse("silver.account")]
    assert default_name("Manual", mixed, day) == "all_manual_2025-01-15"
    assert set(NAME_WORDS) == set(CHECKPOINT_KINDS)
    assert len(set(NAME_WORDS.values())) == len(NAME_WORDS)


def test_the_kind_literal_lists_the_configured_kinds() -> None:
    # public signatures take a CheckpointKind; the run-time check uses CHECKPOINT_KINDS
    assert typing.get_args(CheckpointKind) == CHECKPOINT_KINDS


def test_the_facade_exports_what_it_lists() -> None:
    assert all(hasattr(package, name) for name in package.__all__)
    models = {"Checkpoint", "CheckpointTable", "VerifyResult", "TableVerification"}
    assert models | {"RetentionResult", "RetentionDecision", "CheckpointKind"} <= set(
        package.__all__
    )


def test_free_name_adds_a_suffix_and_never_reuses() -> None:
    assert free_name("b_2025", set()) == "b_2025"
    assert free_name("b_2025", {"b_2025"}) == "b_2025_2"
    assert free_name("B_2025", {"b_2025", "b_2025_2"}) == "B_2025_3"


def test_aggregation_sql_is_one_query_with_only_the_configured_parts() -> None:
    q = lambda c: f'"{c}"'  # noqa: E731
    full = aggregation_sql(q, deleted_flag="IsDeleted", purged_flag="IsPurged", keys=["A", "B"])
    assert full.startswith("SELECT COUNT(*) AS total, ") and full.endswith(
        ") AS null_keys FROM {t}"
    )
    assert 'COUNT(*) FILTER (WHERE "IsDeleted") AS deleted' in full
    assert (
        'COUNT(*) FILTER (WHERE NOT COALESCE("IsDeleted" OR "IsPurged", FALSE)) AS active' in full
    )
    assert '(SELECT COUNT(*) FROM {t} WHERE "A" IS NULL OR "B" IS NULL) AS null_keys' in full
    keys_only = aggregation_sql(q, deleted_flag=None, purged_flag=None, keys=["A"])
    assert "active" not in keys_only and "null_keys" in keys_only


def _m(**kw: int | None) -> TableMeasure:
    base: dict[str, object] = {"table": "bronze.t", "version": 1, "source": "scan"}
    base.update(kw)
    return TableMeasure(**base)  # type: ignore[arg-type]


def test_checks_pass_on_consistent_counts() -> None:
    checks = check_measure(
        _m(total=10, active=7, deleted=2, purged=1, null_keys=0), tracked=True, keyed=True
    )
    assert [c.check_name for c in checks] == [
        "TotalRowsKnown",
        "NoNegativeCounts",
        "CountsAddUp",
        "NoNullPrimaryKeys",
    ]
    assert all(c.passed for c in checks)


def test_a_row_counted_twice_fails_the_sum_at_zero_tolerance() -> None:
    checks = check_measure(_m(total=10, active=7, deleted=3, purged=1), tracked=True, keyed=False)
    bad = [c for c in checks if not c.passed]
    assert [c.check_name for c in bad] == ["CountsAddUp"]
    assert bad[0].table == "bronze.t" and bad[0].expected == "10" and bad[0].actual == "11"
    assert "1 row(s) off" in (bad[0].message or "") and bad[0].severity == "HIGH"


def test_tolerance_is_applied_to_the_sum_only_and_reported() -> None:
    checks = check_measure(
        _m(total=100, active=98, deleted=2, purged=1), tracked=True, keyed=False, tolerance=0.05
    )
    add_up = next(c for c in checks if c.check_name == "CountsAddUp")
    assert add_up.passed and add_up.tolerance == 0.05 and add_up.severity == "LOW"
    assert "within tolerance" in (add_up.message or "")


def test_negative_counts_and_null_keys_fail() -> None:
    checks = check_measure(
        _m(total=5, active=-1, deleted=6, purged=0, null_keys=2), tracked=True, keyed=True
    )
    failed = {c.check_name for c in checks if not c.passed}
    assert failed == {"NoNegativeCounts", "NoNullPrimaryKeys"}


def test_untracked_tables_only_need_a_known_total() -> None:
    checks = check_measure(_m(total=5, source="stats"), tracked=False, keyed=False)
    assert [c.check_name for c in checks] == ["TotalRowsKnown", "NoNegativeCounts"]
    assert all(c.passed for c in checks)


def test_baseline_prefix_is_the_one_maintenance_reads() -> None:
    maintenance = pytest.importorskip("fmd_runtime.maintenance")
    assert maintenance.BASELINE_PREFIX == BASELINE_PREFIX


def test_checkpoint_table_lookup() -> None:
    t = CheckpointTable(
        schema_name="bronze",
        table_name="account",
        version=4,
        version_timestamp=None,
        total_rows=1,
        active_rows=None,
        deleted_rows=None,
        purged_rows=None,
        count_source="stats",
        schema_fingerprint="f",
        manifest_digest="d",
        file_count=1,
        total_bytes=10,
        validation_status="Validated",
    )
    cp = Checkpoint(
        checkpoint_id="id",
        checkpoint_name="bronze_batch_2025-01-15",
        checkpoint_type="DailyBatch",
        created_date=datetime(2025, 1, 15, tzinfo=timezone.utc),
        tables=(t,),
        tables_included=1,
        total_rows=1,
        validation_status="Validated",
        retention_date=date(2025, 1, 22),
        is_active=True,
    )
    assert (
        cp.table("bronze.account") is t and cp.table("ACCOUNT") is t and t.table == "bronze.account"
    )
    assert cp.is_restore_target
    with pytest.raises(CheckpointError, match="does not cover table") as info:
        cp.table("bronze.contact")
    assert "bronze.account" in str(info.value)
