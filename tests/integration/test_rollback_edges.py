"""Rollback edge cases on real Delta tables, on every engine: a table nobody configured (no keys,
no tracking columns), an inconsistent pre-rollback state (its PreRollback checkpoint fails
validation and the undo needs ``allow_failed_validation``), and a schema change since the
checkpoint."""

from __future__ import annotations

import pyarrow as pa
import pytest
from engines import connect, rows

from fmd_runtime.engine import Column, DeltaEngine, arrow_schema
from fmd_runtime.errors import RollbackError, StoreError

COLS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
TRACKED = [
    *COLS,
    Column(name="IsDeleted", type="boolean", nullable=False),
    Column(name="IsPurged", type="boolean", nullable=False),
]


def _data(cols: list[Column], ids: list[int]) -> pa.Table:
    values = {"Id": ids, "Name": [f"n{i}" for i in ids]}
    if len(cols) > 2:
        values |= {"IsDeleted": [False] * len(ids), "IsPurged": [False] * len(ids)}
    return pa.table(values, schema=arrow_schema(cols))


def _rows(engine: DeltaEngine, table: str, version: int | None = None) -> list[dict[str, object]]:
    return rows(engine, table, "Id", version)


def test_an_unconfigured_table_is_compared_by_count(engine: DeltaEngine) -> None:
    rt = connect(engine, "rb-plain")
    ref = rt.table("bronze.plain")
    engine.create(ref, COLS)
    engine.write(ref, _data(COLS, list(range(10))))
    cp = rt.checkpoints.create(["bronze.plain"], kind="Manual", name="plain_cp")
    assert cp is not None and cp.validation_status == "Validated"
    pinned = cp.table("bronze.plain").version
    engine.write(ref, _data(COLS, list(range(10, 15))))
    plan = rt.rollback.plan("plain_cp")
    impact = plan.table("bronze.plain")
    assert not impact.tracked and impact.delta.total == -5 and impact.delta.active is None
    assert impact.rows_changed == 5 and impact.rows_gone == 5
    result = rt.rollback.execute(plan, plan.approval_token, reason="plain")
    assert result.status == "Succeeded" and result.quality_score == 100.0, result.to_text()
    [comparison] = result.comparisons
    assert not comparison.key_level and comparison.removed == 5 and comparison.unchanged is None
    assert "compared by count only" in comparison.anomalies[0]
    assert {c.check_name for c in result.checks} == {
        "ManifestMatchesCheckpoint",
        "TotalRowsMatchCheckpoint",
        "NoNegativeCounts",
    }
    assert _rows(engine, "bronze.plain") == _rows(engine, "bronze.plain", pinned)
    rt.close()


def test_an_inconsistent_state_is_undone_only_when_asked(engine: DeltaEngine) -> None:
    rt = connect(engine, "rb-setup")
    ref = rt.table("bronze.acc")
    engine.create(ref, TRACKED)
    engine.write(ref, _data(TRACKED, list(range(20))))
    rt.configure_table(
        "bronze.acc", primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged"
    )
    assert rt.checkpoints.create(["bronze.acc"], kind="Manual", name="good") is not None
    # the bad sync flags rows both deleted and purged: counts no longer add up
    engine.update(ref, {"Id": [1, 2, 3]}, {"IsDeleted": True, "IsPurged": True})
    bad = _rows(engine, "bronze.acc")
    rt.close()

    fix = connect(engine, "rb-fix")
    plan = fix.rollback.plan("good")
    result = fix.rollback.execute(plan, plan.approval_token, reason="flags")
    assert result.status == "Succeeded" and result.quality_score == 100.0
    assert any("failed validation" in w and "allow_failed_validation" in w for w in result.warnings)
    assert result.pre_checkpoint is not None
    fix.close()

    undo = connect(engine, "rb-undo")
    with pytest.raises(RollbackError, match="validation status is Failed") as exc:
        undo.rollback.plan(result.pre_checkpoint)
    assert "allow_failed_validation=True" in str(exc.value)
    plan = undo.rollback.plan(result.pre_checkpoint, allow_failed_validation=True)
    back = undo.rollback.execute(plan, plan.approval_token, reason="back to the flagged state")
    assert _rows(engine, "bronze.acc") == bad
    # the restored state is the inconsistent one, and validation says so
    assert back.status == "Failed"
    assert {c.check_name for c in back.failed_checks} >= {"CountsAddUp", "TrackingConsistent"}
    undo.close()


def test_a_schema_change_since_the_checkpoint_is_warned_and_reverted(engine: DeltaEngine) -> None:
    rt = connect(engine, "rb-schema")
    ref = rt.table("bronze.wide")
    engine.create(ref, COLS)
    engine.write(ref, _data(COLS, [1, 2, 3]))
    rt.configure_table("bronze.wide", primary_key=["Id"])
    assert rt.checkpoints.create(["bronze.wide"], kind="Manual", name="narrow") is not None
    engine.add_columns(ref, [Column(name="Extra", type="string")])
    plan = rt.rollback.plan("narrow")
    impact = plan.table("bronze.wide")
    assert impact.schema_changed and impact.action == "Restore"
    assert any("brings back the old schema" in w for w in impact.warnings)
    result = rt.rollback.execute(plan, plan.approval_token, reason="schema")
    assert result.status == "Succeeded", result.to_text()
    assert [c.name for c in engine.snapshot(ref).columns] == ["Id", "Name"]
    rt.close()


def test_a_failure_to_record_the_checks_does_not_lose_the_outcome(
    engine: DeltaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = connect(engine, "rb-store")
    ref = rt.table("bronze.t")
    engine.create(ref, COLS)
    engine.write(ref, _data(COLS, [1, 2]))
    rt.configure_table("bronze.t", primary_key=["Id"])
    cp = rt.checkpoints.create(["bronze.t"], kind="Manual", name="t_cp")
    assert cp is not None
    engine.write(ref, _data(COLS, [3]))
    plan = rt.rollback.plan("t_cp")

    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("could not append 9 row(s) to metadata.DataValidation: disk full")

    monkeypatch.setattr(rt.checkpoints, "record_validations", broken)
    result = rt.rollback.execute(plan, plan.approval_token, reason="store down")
    assert result.succeeded == ["bronze.t"] and result.status == "PartiallyFailed"
    [check] = result.failed_checks
    assert check.table is None and "disk full" in (check.message or "")
    assert _rows(engine, "bronze.t") == _rows(engine, "bronze.t", cp.table("bronze.t").version)
    [report] = rt.store.read("RollbackValidationReports", {"RollbackRunId": "rb-store"})
    assert report["Status"] == "PartiallyFailed"
    rt.close()
