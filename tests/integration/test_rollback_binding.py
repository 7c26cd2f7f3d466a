"""A rollback plan is bound to the exact work it describes (issue 11, item 3).

`Rollback.execute` re-derives the work from the lakehouse it runs on (the checkpoint's rows in
that store, the tables' versions now) and refuses, before the first RESTORE, a plan made on
another lakehouse or a plan whose checkpoint, scope, target versions or actions were altered:
each refusal names the plan's value and the store's, is audited, and changes no table. The honest
path (plan, approve, execute) still restores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime.engine import Column, arrow_schema
from fmd_runtime.errors import ApprovalError
from fmd_runtime.rollback import RollbackPlan, approval_token

COLS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="IsDeleted", type="boolean", nullable=False),
]
TABLES = ("bronze.acc", "bronze.con")


def _data(ids: list[int], deleted: bool = False) -> pa.Table:
    return pa.table({"Id": ids, "IsDeleted": [deleted] * len(ids)}, schema=arrow_schema(COLS))


def _setup(root: Path, run_id: str) -> fmd.Runtime:
    """Two tables, checkpoint ``early`` (version 1), more data, checkpoint ``good``, a bad sync."""
    root.mkdir(exist_ok=True)
    rt = fmd.connect(lakehouse=root, run_id=run_id)
    for name in TABLES:
        ref = rt.table(name)
        rt.engine.create(ref, COLS)
        rt.engine.write(ref, _data(list(range(10))))
        rt.configure_table(name, primary_key=["Id"], deleted_flag="IsDeleted")
    assert rt.checkpoints.create(list(TABLES), kind="Manual", name="early") is not None
    for name in TABLES:
        rt.engine.write(rt.table(name), _data(list(range(10, 20))))
    assert rt.checkpoints.create(list(TABLES), kind="Manual", name="good") is not None
    for name in TABLES:  # the bad sync
        rt.engine.update(rt.table(name), {"Id": [1, 2, 3]}, {"IsDeleted": True})
    return rt


def _versions(rt: fmd.Runtime) -> dict[str, int]:
    return {name: rt.engine.version(rt.table(name)) for name in TABLES}


def _refusals(rt: fmd.Runtime) -> list[dict[str, object]]:
    rt.audit.flush()
    return rt.store.read("SyncAuditLog", {"Operation": "RollbackApproval", "Status": "Failed"})


def _assert_refused_and_untouched(
    rt: fmd.Runtime, plan: RollbackPlan, token: str | None, *needles: str
) -> ApprovalError:
    before = _versions(rt)
    checkpoints = len(rt.checkpoints.list(active_only=False))
    refusals = len(_refusals(rt))
    with pytest.raises(ApprovalError) as caught:
        rt.rollback.execute(plan, token, reason="tampered")
    message = str(caught.value)
    for needle in needles:
        assert needle in message, message
    assert _versions(rt) == before  # no RESTORE, no property commit
    assert len(rt.checkpoints.list(active_only=False)) == checkpoints  # no PreRollback either
    assert len(_refusals(rt)) == refusals + 1  # the refusal is audited
    return caught.value


@pytest.fixture
def rt(lakehouse: Path) -> fmd.Runtime:
    runtime = _setup(lakehouse, "rb-bind")
    yield runtime
    runtime.close()


def test_a_plan_made_on_another_lakehouse_is_refused_there(tmp_path: Path) -> None:
    a = _setup(tmp_path / "a", "rb-a")
    b = _setup(tmp_path / "b", "rb-b")  # same table and checkpoint names, other store
    plan = a.rollback.plan("good")
    assert plan.lakehouse != b.rollback.plan("good").lakehouse
    a_before = _versions(a)
    err = _assert_refused_and_untouched(
        b, plan, plan.approval_token, "lakehouse:", str(tmp_path / "a"), str(tmp_path / "b")
    )
    assert err.details["differences"]
    assert _versions(a) == a_before  # the plan's own lakehouse is not touched either
    # relabelled as B's, the plan still names a checkpoint B's store does not have
    relabelled = plan.model_copy(update={"lakehouse": b.rollback.plan("good").lakehouse})
    _assert_refused_and_untouched(
        b, relabelled, relabelled.approval_token, "not in this lakehouse's metadata store"
    )
    # a dry run makes the same checks: it does not report Planned for another lakehouse's plan
    with pytest.raises(ApprovalError, match="lakehouse:"):
        b.rollback.execute(plan, dry_run=True)
    a.close()
    b.close()


def test_another_metadata_schema_is_another_store(lakehouse: Path) -> None:
    rt = _setup(lakehouse, "rb-schema")
    plan = rt.rollback.plan("good")
    other = fmd.connect(lakehouse=lakehouse, run_id="rb-other", metadata_schema="meta2")
    before = _versions(rt)
    with pytest.raises(ApprovalError, match="metadata schema: the plan's is 'metadata'"):
        other.rollback.execute(plan, plan.approval_token, reason="wrong store")
    assert _versions(rt) == before
    other.close()
    rt.close()


def test_the_same_lakehouse_spelled_another_way_is_the_same_lakehouse(
    lakehouse: Path, tmp_path: Path
) -> None:
    rt = _setup(lakehouse, "rb-same")
    plan = rt.rollback.plan("good")
    link = tmp_path / "link"
    link.symlink_to(lakehouse, target_is_directory=True)
    again = fmd.connect(lakehouse=link, run_id="rb-same")
    result = again.rollback.execute(plan, plan.approval_token, reason="same lakehouse")
    assert result.status == "Succeeded", result.to_text()
    again.close()
    rt.close()


def test_a_tampered_target_version_is_refused_before_any_restore(rt: fmd.Runtime) -> None:
    plan = rt.rollback.plan("good")
    early = rt.checkpoints.get("early").table("bronze.acc").version
    good = plan.table("bronze.acc").pinned_version
    tampered = tuple(
        t.model_copy(update={"pinned_version": early}) if t.table == "bronze.acc" else t
        for t in plan.tables
    )
    bad = plan.model_copy(update={"tables": tampered})
    _assert_refused_and_untouched(
        rt,
        bad,
        plan.approval_token,
        f"bronze.acc target version: the plan's is {early}, the checkpoint's in the store is {good}",
    )
    # a token recomputed over the tampered plan does not help: the store decides the targets
    forged = approval_token(
        bad.checkpoint_id,
        {t.table: t.current_version for t in bad.tables},
        targets={t.table: t.pinned_version for t in bad.tables},
        actions={t.table: t.action for t in bad.tables},
        lakehouse=bad.lakehouse,
        metadata_schema=bad.metadata_schema,
    )
    forged_plan = bad.model_copy(update={"approval_token": forged})
    _assert_refused_and_untouched(rt, forged_plan, forged, "target version")
    # the embedded checkpoint's pin edited to match does not help either
    cp = plan.checkpoint
    pins = tuple(
        p.model_copy(update={"version": early}) if p.table == "bronze.acc" else p for p in cp.tables
    )
    both = forged_plan.model_copy(update={"checkpoint": cp.model_copy(update={"tables": pins})})
    _assert_refused_and_untouched(rt, both, forged, "checkpoint version: the plan's is")
    # without approval the same checks hold
    _assert_refused_and_untouched(
        rt, bad.model_copy(update={"require_approval": False}), None, "target version"
    )


def test_a_tampered_scope_is_refused(rt: fmd.Runtime) -> None:
    plan = rt.rollback.plan("good")
    subset = plan.model_copy(update={"tables": plan.tables[:1]})
    _assert_refused_and_untouched(
        rt, subset, plan.approval_token, "scope: the plan says All but covers ['bronze.acc']"
    )
    twice = plan.model_copy(update={"tables": (plan.tables[0], *plan.tables)})
    _assert_refused_and_untouched(rt, twice, plan.approval_token, "more than once")
    stranger = plan.tables[0].model_copy(update={"table": "bronze.other"})
    _assert_refused_and_untouched(
        rt,
        plan.model_copy(update={"tables": (*plan.tables, stranger)}),
        plan.approval_token,
        "scope: the plan's ['bronze.other'] are not in checkpoint 'good'",
    )
    # a subset plan approves only that subset: the full plan's token does not approve it
    part = rt.rollback.plan("good", tables="bronze.acc")
    _assert_refused_and_untouched(
        rt, part, plan.approval_token, "the approval token does not match this plan"
    )


def test_a_tampered_checkpoint_is_refused(rt: fmd.Runtime) -> None:
    plan = rt.rollback.plan("good")
    early = rt.checkpoints.get("early")
    swapped = plan.model_copy(update={"checkpoint": early})
    err = _assert_refused_and_untouched(
        rt, swapped, plan.approval_token, "target version: the plan's is"
    )
    assert "checkpoint version" in str(err) or "target version" in str(err)
    ghost = plan.checkpoint.model_copy(update={"checkpoint_id": "no-such-id"})
    _assert_refused_and_untouched(
        rt,
        plan.model_copy(update={"checkpoint": ghost}),
        plan.approval_token,
        "checkpoint: the plan's 'no-such-id' (good) is not in this lakehouse's metadata store",
    )
    # the token of the early plan does not approve the good plan, nor the other way round
    early_plan = rt.rollback.plan("early")
    _assert_refused_and_untouched(
        rt, plan, early_plan.approval_token, "the approval token does not match this plan"
    )


def test_a_tampered_action_or_token_is_refused(rt: fmd.Runtime) -> None:
    plan = rt.rollback.plan("good")
    skipped = tuple(t.model_copy(update={"action": "NoOp"}) for t in plan.tables)
    _assert_refused_and_untouched(
        rt,
        plan.model_copy(update={"tables": skipped}),
        plan.approval_token,
        "the plan was altered after it was made",
    )


def test_a_plan_round_tripped_through_json_still_executes(rt: fmd.Runtime) -> None:
    plan = rt.rollback.plan("good")
    again = RollbackPlan.model_validate(json.loads(plan.model_dump_json()))
    pinned = {t.table: t.pinned_version for t in plan.tables}
    result = rt.rollback.execute(again, plan.approval_token, reason="honest")
    assert result.status == "Succeeded", result.to_text()
    assert result.succeeded == list(TABLES)
    for name in TABLES:
        ref = rt.table(name)
        assert rt.engine.read(ref).num_rows == rt.engine.read(ref, pinned[name]).num_rows
        flagged = rt.engine.sql('SELECT COUNT(*) AS n FROM {t} WHERE "IsDeleted"', {"t": ref})
        assert flagged.to_pylist()[0]["n"] == 0
    [approved] = rt.store.read(
        "SyncAuditLog", {"Operation": "RollbackApproval", "Status": "Succeeded"}
    )
    assert json.loads(approved["Details"])["plan_digest"] == plan.approval_token


def test_the_token_digests_lakehouse_schema_targets_and_actions() -> None:
    base = dict(
        targets={"bronze.a": 1},
        actions={"bronze.a": "Restore"},
        lakehouse="/a",
        metadata_schema="metadata",
    )
    token = approval_token("cp", {"bronze.a": 3}, **base)  # type: ignore[arg-type]
    for change in (
        {"targets": {"bronze.a": 2}},
        {"actions": {"bronze.a": "NoOp"}},
        {"lakehouse": "/b"},
        {"metadata_schema": "meta2"},
    ):
        assert approval_token("cp", {"bronze.a": 3}, **(base | change)) != token  # type: ignore[arg-type]
    assert approval_token("cp", {"BRONZE.A": 3}, **base) == token  # type: ignore[arg-type]
