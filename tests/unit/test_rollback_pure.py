"""Rollback's pure parts: token, risk, row and file arithmetic, quality score, rendering."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fmd_runtime.checkpoints import Checkpoint, CheckpointTable, ValidationCheck
from fmd_runtime.engine import DataFile
from fmd_runtime.rollback import (
    ComparisonReport,
    Counts,
    PlanTotals,
    RollbackPlan,
    RollbackResult,
    RollbackRun,
    TableImpact,
    TableOutcome,
    approval_token,
    comparison_sql,
    file_effect,
    orphan_sql,
    quality_score,
    risk_level,
    rows_changed,
    rows_touched,
    state_sql,
)
from fmd_runtime.tables import quote_identifier

NOW = datetime(2025, 1, 16, 3, 0, tzinfo=timezone.utc)


def test_token_covers_checkpoint_scope_and_every_version() -> None:
    base = approval_token("cp-1", {"bronze.a": 3, "bronze.b": 7})
    assert base.startswith("rb-") and len(base) == 23
    assert base == approval_token("cp-1", {"bronze.b": 7, "BRONZE.A": 3})  # order, case
    assert base != approval_token("cp-2", {"bronze.a": 3, "bronze.b": 7})  # checkpoint
    assert base != approval_token("cp-1", {"bronze.a": 3})  # scope
    assert base != approval_token("cp-1", {"bronze.a": 3, "bronze.b": 8})  # a version


@pytest.mark.parametrize(
    ("pct", "risk"), [(0.0, "Low"), (0.99, "Low"), (1.0, "Medium"), (9.9, "Medium"), (10.0, "High")]
)
def test_risk_thresholds(pct: float, risk: str) -> None:
    assert risk_level(pct, high_pct=10.0, medium_pct=1.0) == risk


def test_rows_changed_from_state_deltas() -> None:
    flagged = Counts(total=0, active=40, deleted=-40, purged=0)  # a bad sync flagged 40 deleted
    assert rows_changed(flagged, tracked=True) == 40
    appended = Counts(total=-20, active=-20, deleted=0, purged=0)  # 20 rows the rollback removes
    assert rows_changed(appended, tracked=True) == 20
    mixed = Counts(total=5, active=15, deleted=-10, purged=0)
    assert rows_changed(mixed, tracked=True) == 15
    assert rows_changed(Counts(total=-7), tracked=False) == 7


@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
)
def test_rows_changed_is_at_least_the_net_change(a: int, d: int, p: int) -> None:
    delta = Counts(total=a + d + p, active=a, deleted=d, purged=p)
    assert rows_changed(delta, tracked=True) >= abs(delta.total or 0)
    assert rows_changed(delta, tracked=True) >= max(abs(a), abs(d), abs(p)) / 2


def test_rows_touched_reads_both_engines_metric_names() -> None:
    assert rows_touched({"num_added_rows": 20, "execution_time_ms": 3}) == 20
    assert rows_touched({"numTargetRowsUpdated": "40", "numTargetRowsInserted": "2"}) == 42
    assert rows_touched({"numRemovedFile": 2}) is None


def test_file_effect_compares_path_and_deletion_vector() -> None:
    a = DataFile(path="a.parquet", size_bytes=10)
    b = DataFile(path="b.parquet", size_bytes=20)
    b_dv = DataFile(path="b.parquet", size_bytes=20, deletion_vector="u1@1")
    add, remove = file_effect([a, b_dv], [a, b])
    assert [(f.path, f.deletion_vector) for f in add] == [("b.parquet", None)]
    assert [(f.path, f.deletion_vector) for f in remove] == [("b.parquet", "u1@1")]
    assert file_effect([a], [a]) == ([], [])


def test_quality_score() -> None:
    ok = ValidationCheck(table="b.t", check_name="x", passed=True)
    bad = ValidationCheck(table="b.t", check_name="y", passed=False)
    assert quality_score([ok, ok]) == 100.0 and quality_score([ok, bad, ok]) == 66.67
    assert quality_score([]) is None


def test_sql_quotes_identifiers_and_binds_no_value() -> None:
    q = quote_identifier
    assert state_sql(q, None, None) == "'Active'"
    sql = comparison_sql(q, ["Id", "Part"], "IsDeleted", "IsPurged")
    assert "a.k0 = b.k0 AND a.k1 = b.k1" in sql and "`IsPurged`" in sql
    assert sql.count("{pre}") == 1 and sql.count("{post}") == 1
    with pytest.raises(ValueError):
        comparison_sql(q, ["Id; DROP TABLE x"], None, None)
    assert "`AccountId`" in orphan_sql(q, "AccountId", "AccountId")


# -- rendering ---------------------------------------------------------------------------------
def _checkpoint() -> Checkpoint:
    t = CheckpointTable(
        schema_name="bronze",
        table_name="account",
        version=4,
        version_timestamp=datetime(2025, 1, 15, 2, 0, tzinfo=timezone.utc),
        total_rows=100,
        active_rows=90,
        deleted_rows=8,
        purged_rows=2,
        count_source="scan",
        schema_fingerprint="s",
        manifest_digest="m",
        file_count=1,
        total_bytes=10,
        validation_status="Validated",
    )
    return Checkpoint(
        checkpoint_id="cp-1",
        checkpoint_name="bronze_batch_2025-01-15",
        checkpoint_type="DailyBatch",
        created_date=datetime(2025, 1, 15, 2, 5, tzinfo=timezone.utc),
        tables=(t,),
        tables_included=1,
        total_rows=100,
        validation_status="Validated",
        retention_date=date(2025, 1, 22),
        is_active=True,
    )


def _plan() -> RollbackPlan:
    impact = TableImpact(
        table="bronze.account",
        action="Restore",
        pinned_version=4,
        current_version=6,
        tracked=True,
        current=Counts(total=100, active=50, deleted=48, purged=2),
        pinned=Counts(total=100, active=90, deleted=8, purged=2),
        delta=Counts(total=0, active=40, deleted=-40, purged=0),
        rows_changed=40,
        changed_pct=40.0,
        risk="High",
        time_back_seconds=86400 + 3600,
        commits_undone=1,
        files_to_add=1,
        bytes_to_add=2048,
        files_to_remove=1,
        bytes_to_remove=4096,
        warnings=("RESTORE re-adds 1 file(s) <as new data>",),
    )
    totals = PlanTotals(
        tables_in_scope=1,
        tables_to_restore=1,
        tables_noop=0,
        rows_changed=40,
        rows_back=0,
        rows_gone=0,
        net_rows=0,
        files_to_add=1,
        bytes_to_add=2048,
        files_to_remove=1,
        bytes_to_remove=4096,
        risk="High",
        estimated_seconds=2.5,
    )
    return RollbackPlan(
        run_id="rb-1",
        created_at=NOW,
        lakehouse="/lh/Tables/metadata/CheckpointHistory",
        metadata_schema="metadata",
        checkpoint=_checkpoint(),
        scope_text="All",
        tables=(impact,),
        warnings=("bronze.account: RESTORE re-adds 1 file(s) <as new data>",),
        totals=totals,
        approval_token="rb-abc",
    )


def test_plan_renders_as_text_html_and_json() -> None:
    plan = _plan()
    text = plan.to_text()
    assert "bronze_batch_2025-01-15" in text
    assert "6 -> 4" in text and "+40" in text and "-40" in text and "1d 1h" in text
    assert "approval_token='rb-abc'" in text and "High" in text
    page = plan._repr_html_()
    assert "<table>" in page and "&lt;as new data&gt;" in page and "<as new" not in page
    data = plan.model_dump(mode="json")
    assert RollbackPlan.model_validate(json.loads(json.dumps(data))) == plan
    assert plan.to_exit_dict()["tables"][0]["risk"] == "High"


def test_result_and_run_render_and_exit_value_is_compact_json() -> None:
    plan = _plan()
    result = RollbackResult(
        run_id="rb-1",
        status="PartiallyFailed",
        checkpoint_id="cp-1",
        checkpoint_name=plan.checkpoint_name,
        started_at=NOW,
        finished_at=NOW,
        approval_token="rb-abc",
        tables=(
            TableOutcome(
                table="bronze.account",
                status="Failed",
                pinned_version=4,
                version_before=6,
                error="restore failed: boom",
            ),
        ),
        checks=(
            ValidationCheck(
                table="bronze.account",
                check_name="RestoredToCheckpoint",
                passed=False,
                expected="version 4 restored",
                actual="restore failed",
            ),
        ),
        quality_score=0.0,
        comparisons=(
            ComparisonReport(
                table="bronze.account",
                pre_version=6,
                post_version=6,
                key_level=True,
                rows_before=100,
                rows_after=100,
                restored=0,
                removed=0,
                unchanged=100,
                pct_restored=0.0,
                pct_removed=0.0,
                pct_unchanged=100.0,
                anomalies=("version 6 is not after the pre-state version 6",),
            ),
        ),
    )
    text = result.to_text()
    assert "PartiallyFailed" in text and "FAILED bronze.account: restore failed: boom" in text
    assert "ANOMALY bronze.account" in text and "<table>" in result._repr_html_()
    assert result.failed == ["bronze.account"] and result.succeeded == []
    run = RollbackRun(
        status="PartiallyFailed", run_id="rb-1", dry_run=False, plan=plan, result=result
    )
    value = json.loads(run.exit_value())
    assert value["status"] == "PartiallyFailed" and value["run_id"] == "rb-1"
    assert value["tables"][0]["error"] == "restore failed: boom"
    assert run.exit_value() == json.dumps(value, sort_keys=True, separators=(",", ":"))
