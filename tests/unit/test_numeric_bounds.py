"""Numeric parameters of public methods are checked where they enter (issue 11, item 5): absurd
retentions (10^9 hours, 3,000,000 days, 10^12 hours) end in a ConfigError naming the parameter and
its bounds, before anything is written, instead of breaking checkpoints or Arrow later."""

from __future__ import annotations

import pyarrow as pa
import pytest
from written import snapshot

from fmd_runtime import ConfigError
from fmd_runtime.engine import Column


@pytest.fixture
def table(rt):
    ref = rt.table("bronze.acc")
    rt.engine.create(ref, [Column(name="Id", type="bigint")])
    rt.engine.write(ref, pa.table({"Id": pa.array([1, 2], pa.int64())}), mode="append")
    rt.configure_table("bronze.acc", primary_key=["Id"])
    return ref


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda rt: rt.maintenance.plan(min_retention_hours=10**9), "'min_retention_hours'"),
        (lambda rt: rt.maintenance.plan(min_retention_hours=10**12), "between 0 and 87600 hours"),
        (lambda rt: rt.maintenance.plan(min_retention_hours="a week"), "must be a number"),
        (lambda rt: rt.maintenance.plan(tables=123), "parameter 'tables'"),
        (
            lambda rt: rt.maintenance.set_retention("bronze.acc", log_days=3_000_000),
            "'log_days' is out of bounds",
        ),
        (
            lambda rt: rt.maintenance.set_retention("bronze.acc", deleted_file_days=10**9),
            "between 0 and 3650 days",
        ),
        (
            lambda rt: rt.maintenance.set_retention("bronze.acc", log_days=1.5, dry_run=False),
            "'log_days' must be a whole number",
        ),
        (lambda rt: rt.maintenance.run("plan"), "parameter 'plan' must be a MaintenancePlan"),
        (
            lambda rt: rt.maintenance.run(rt.maintenance.plan(), expected_duration_minutes=10**12),
            "'expected_duration_minutes' is out of bounds",
        ),
        (
            lambda rt: rt.maintenance.run(rt.maintenance.plan(), max_plan_age_minutes=-1),
            "'max_plan_age_minutes' is out of bounds",
        ),
        (
            lambda rt: rt.checkpoints.create_table("bronze.acc", retention_days=3_000_000),
            "'retention_days' is out of bounds",
        ),
    ],
)
def test_public_numeric_parameters_are_bounded(rt, table, call, named: str) -> None:
    rt.maintenance.plan()  # a plan is audited: take the snapshot after the one the call makes
    before = snapshot(rt, audit=False)
    with pytest.raises(ConfigError, match=named):
        call(rt)
    assert snapshot(rt, audit=False) == before  # bronze.acc's version included


def test_a_huge_checkpoint_retention_cannot_reach_a_daily_batch(rt, table) -> None:
    """Before: 3,000,000 days stored in PipelineConfig made every DailyBatch return None."""
    with pytest.raises(ConfigError, match="checkpoint_retention_days"):
        rt.configure_table("bronze.acc", checkpoint_retention_days=3_000_000)
    cp = rt.checkpoints.create(["bronze.acc"])
    assert cp is not None and cp.validation_status == "Validated"
    assert rt.checkpoints.verify(cp.checkpoint_name).status == "Restorable"
