"""Retention: policies per kind, table and call; enforcement deactivates exactly the expired,
allowed checkpoints, never deletes a row, and audits every decision; on every engine (delta-rs,
Spark + Delta)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime.config import CHECKPOINT_KINDS, DEFAULT_RETENTION_DAYS
from fmd_runtime.engine import Column


@pytest.fixture
def rt(any_rt: fmd.Runtime) -> fmd.Runtime:
    """Every scenario of this module runs on every engine (`any_rt`: delta-rs, Spark + Delta)."""
    return any_rt


@pytest.fixture
def table(rt: fmd.Runtime) -> str:
    t = rt.table("bronze.account")
    rt.engine.create(t, [Column(name="Id", type="bigint")])
    rt.engine.write(t, pa.table({"Id": pa.array([1, 2], pa.int64())}))
    return t.name


def test_retention_date_follows_the_kind_then_the_table_then_the_call(
    rt: fmd.Runtime, table: str
) -> None:
    for kind in CHECKPOINT_KINDS:
        cp = rt.checkpoints.create([table], kind=kind, protect_retention=False)
        assert cp is not None
        assert (cp.retention_date - cp.created_date.date()).days == DEFAULT_RETENTION_DAYS[kind], (
            kind
        )
    rt.configure_table(table, checkpoint_retention_days=3)
    daily = rt.checkpoints.create_table(table, protect_retention=False)
    pre_purge = rt.checkpoints.create([table], kind="PrePurge", protect_retention=False)
    call = rt.checkpoints.create(
        [table], kind="PrePurge", retention_days=400, protect_retention=False
    )
    assert daily and pre_purge and call
    assert (daily.retention_date - daily.created_date.date()).days == 3  # the table's own setting
    assert (pre_purge.retention_date - pre_purge.created_date.date()).days == 365  # never shortened
    assert (call.retention_date - call.created_date.date()).days == 400


def test_batch_retention_is_the_longest_of_its_tables(rt: fmd.Runtime, table: str) -> None:
    other = rt.table("bronze.contact")
    rt.engine.create(other, [Column(name="Id", type="bigint")])
    rt.configure_table(table, checkpoint_retention_days=10)
    rt.configure_table(other, checkpoint_retention_days=4)
    cp = rt.checkpoints.create([table, other.name], protect_retention=False)
    assert cp is not None and (cp.retention_date - cp.created_date.date()).days == 10


def test_enforcement_over_every_kind_deactivates_exactly_the_expired_allowed_ones(
    rt: fmd.Runtime, table: str
) -> None:
    made = {}
    for kind in CHECKPOINT_KINDS:
        for state in ("expired", "current"):
            cp = rt.checkpoints.create(
                [table], kind=kind, name=f"{kind}_{state}", protect_retention=False
            )
            assert cp is not None
            made[cp.checkpoint_name] = cp
    manual_marked = rt.checkpoints.create(
        [table], kind="Manual", name="Manual_marked", protect_retention=False
    )
    assert manual_marked is not None
    made["Manual_marked"] = manual_marked
    rt.checkpoints.mark_for_deletion("Manual_marked", reason="superseded")
    today = date.today() + timedelta(days=1)
    expired_ids = [c.checkpoint_id for n, c in made.items() if n.endswith(("_expired", "_marked"))]
    rt.store.update(
        "CheckpointHistory",
        {"CheckpointId": expired_ids},
        {"RetentionDate": today - timedelta(days=1)},
    )
    rt.store.update(
        "CheckpointHistory", {"CheckpointName": "Manual_current"}, {"MarkedForDeletion": True}
    )

    preview = rt.checkpoints.enforce_retention(today=today)
    should = sorted(f"{k}_expired" for k in CHECKPOINT_KINDS if k != "Manual") + ["Manual_marked"]
    assert preview.dry_run and sorted(d.checkpoint_name for d in preview.deactivated) == sorted(
        should
    )
    assert [d.checkpoint_name for d in preview.kept] == ["Manual_expired"]
    assert "not marked for deletion" in preview.kept[0].reason
    assert len(rt.checkpoints.list()) == len(made)  # a dry run changes nothing

    done = rt.checkpoints.enforce_retention(dry_run=False, today=today)
    assert sorted(d.checkpoint_name for d in done.deactivated) == sorted(should)
    history = rt.store.read("CheckpointHistory")
    assert len(history) == len(made)  # never deleted
    inactive = sorted(r["CheckpointName"] for r in history if not r["IsActive"])
    assert inactive == sorted(should)
    assert all(r["DeactivatedDate"] is not None for r in history if not r["IsActive"])
    assert sorted(c.checkpoint_name for c in rt.checkpoints.list()) == sorted(
        set(made) - set(should)
    )
    assert len(rt.checkpoints.list(active_only=False)) == len(made)

    events = rt.store.read("SyncAuditLog", {"Operation": "CheckpointRetentionEnforcement"})
    applied = [json.loads(e["Details"]) for e in events if not e["DryRun"]]
    assert sorted(d["checkpoint"] for d in applied if d["action"] == "Deactivate") == sorted(should)
    assert sum(1 for e in events if e["DryRun"]) == len(should) + 1  # the dry run, kept one too
    # nothing is left to do
    assert rt.checkpoints.enforce_retention(dry_run=False, today=today).deactivated == ()


def test_list_filters_and_pinned_versions(rt: fmd.Runtime, table: str) -> None:
    a = rt.checkpoints.create([table], kind="Manual", name="a", protect_retention=False)
    rt.engine.write(rt.table(table), pa.table({"Id": pa.array([3], pa.int64())}))
    other = rt.table("silver.account")
    rt.engine.create(other, [Column(name="Id", type="bigint")])
    b = rt.checkpoints.create(
        [table, other.name], kind="DailyBatch", name="b", protect_retention=False
    )
    assert a and b
    assert [c.checkpoint_name for c in rt.checkpoints.list()] == ["b", "a"]
    assert [c.checkpoint_name for c in rt.checkpoints.list(kind="Manual")] == ["a"]
    assert [c.checkpoint_name for c in rt.checkpoints.list(table="silver.account")] == ["b"]
    assert rt.checkpoints.list(since=b.created_date + timedelta(seconds=1)) == []
    assert len(rt.checkpoints.list(since=date.today() - timedelta(days=1))) == 2
    assert rt.checkpoints.pinned_versions() == {"bronze.account": [1, 2], "silver.account": [0]}
    rt.store.update("CheckpointHistory", {"CheckpointName": "a"}, {"IsActive": False})
    assert rt.checkpoints.pinned_versions() == {"bronze.account": [2], "silver.account": [0]}
    assert rt.checkpoints.pinned_versions(active_only=False)["bronze.account"] == [1, 2]
