"""The rollback scenario of the issue, on real Delta tables, on every engine.

Three related tables (account <- contact, account <- donation) with tracking columns, a validated
DailyBatch checkpoint, then a bad sync: accounts flagged deleted, contacts flagged purged,
donations physically deleted and new ones appended through the run ledger (with a watermark).
The dry run reports the exact row deltas and changes nothing; execution without the token is
refused; with it every table equals its checkpoint version row for row; a table made to fail
(a `FaultyEngine` whose RESTORE raises) leaves the other two restored and is resumed by a re-run
under the same run id; the post-validation score is 100; the PreRollback checkpoint undoes it.
On Spark, a deletion-vector table goes through the same checkpoint -> bad sync -> rollback.

Each test runs on delta-rs and on Spark + Delta (the ``engine`` fixture of the root conftest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from engines import connect, keys, read, rows, table_dir

import fmd_runtime as fmd
from fmd_runtime.checkpoints import manifest_digest
from fmd_runtime.engine import Column, CommitOptions, DeltaEngine, arrow_schema
from fmd_runtime.errors import ApprovalError, EngineError, RollbackError
from fmd_runtime.tables import TableRef
from fmd_runtime.testing import FaultyEngine

ACCOUNT, CONTACT, DONATION = "bronze.account", "bronze.contact", "bronze.donation"
TABLES = (ACCOUNT, CONTACT, DONATION)
KEYS = {ACCOUNT: "AccountId", CONTACT: "ContactId", DONATION: "DonationId"}
TRACKING = [
    Column(name="IsDeleted", type="boolean", nullable=False),
    Column(name="IsPurged", type="boolean", nullable=False),
]
COLUMNS = {
    ACCOUNT: [
        Column(name="AccountId", type="bigint", nullable=False),
        Column(name="Name", type="string"),
        *TRACKING,
    ],
    CONTACT: [
        Column(name="ContactId", type="bigint", nullable=False),
        Column(name="AccountId", type="bigint"),
        *TRACKING,
    ],
    DONATION: [
        Column(name="DonationId", type="bigint", nullable=False),
        Column(name="AccountId", type="bigint"),
        Column(name="Amount", type="double"),
        *TRACKING,
    ],
}
SIZES = {ACCOUNT: 60, CONTACT: 90, DONATION: 150}
CHECKPOINT = "bronze_batch_good"
SPARK_ONLY = [pytest.param("spark", marks=pytest.mark.spark_delta)]


def _rows(
    table: str, ids: list[int], deleted: tuple[int, ...] = (), purged: tuple[int, ...] = ()
) -> pa.Table:
    data: dict[str, Any] = {
        KEYS[table]: ids,
        "IsDeleted": [i in deleted for i in ids],
        "IsPurged": [i in purged for i in ids],
    }
    if table == ACCOUNT:
        data["Name"] = [f"Account {i}" for i in ids]
    else:
        data["AccountId"] = [1 + i % SIZES[ACCOUNT] for i in ids]
    if table == DONATION:
        data["Amount"] = [float(i) * 1.5 for i in ids]
    return pa.table(data, schema=arrow_schema(COLUMNS[table]))


@dataclass
class Scenario:
    engine: DeltaEngine
    pinned: dict[str, int]
    flagged_deleted: list[int]
    flagged_purged: list[int]
    deleted_donations: list[int]
    appended_donations: list[int]
    update_operation: str
    """The operation name the engine commits an `update` under (MERGE on delta-rs, UPDATE on
    Spark): the bad sync's flagging commit as the plan lists it."""


def build(engine: DeltaEngine) -> Scenario:
    """Three synced days' worth of state, a validated checkpoint, then the bad sync."""
    rt = connect(engine, "setup", triggered_by="setup")
    for table in TABLES:
        ref = rt.table(table)
        engine.create(ref, COLUMNS[table])
        # the synced days so far, in one commit (a Delta commit costs seconds on Spark): a few
        # rows flagged deleted, a few purged (never both)
        ids = list(range(1, SIZES[table] + 1))
        engine.write(ref, _rows(table, ids, deleted=(2, 3), purged=(5,)))
        related = [ACCOUNT] if table != ACCOUNT else []
        rt.configure_table(
            table,
            primary_key=[KEYS[table]],
            deleted_flag="IsDeleted",
            purged_flag="IsPurged",
            related_tables=related,
            foreign_keys={"AccountId": f"{ACCOUNT}.AccountId"} if related else {},
        )
    cp = rt.checkpoints.create(list(TABLES), kind="DailyBatch", name=CHECKPOINT)
    assert cp is not None and cp.validation_status == "Validated"
    pinned = {t.table: t.version for t in cp.tables}
    rt.close()

    bad = connect(engine, "bad-sync", pipeline_run_id="bad-pipe")
    commit = CommitOptions(metadata={"fmd.runId": "bad-sync"})
    deleted = list(range(10, 34))  # 24 active accounts flagged deleted
    engine.update(bad.table(ACCOUNT), {"AccountId": deleted}, {"IsDeleted": True}, commit=commit)
    update_operation = engine.history(bad.table(ACCOUNT), 1)[0].operation
    purged = list(range(20, 50))  # 30 active contacts flagged purged
    engine.update(bad.table(CONTACT), {"ContactId": purged}, {"IsPurged": True}, commit=commit)
    gone = list(range(100, 110))  # 10 donations physically deleted (an overwrite without them)
    current = read(engine, DONATION).cast(arrow_schema(COLUMNS[DONATION]))
    keep = pc.invert(pc.is_in(current["DonationId"], value_set=pa.array(gone, pa.int64())))
    engine.write(bad.table(DONATION), current.filter(keep), mode="overwrite", commit=commit)
    window = bad.watermarks.begin("crm.donation", kind="int", table=DONATION, layer="bronze")
    appended = list(range(1000, 1020))  # 20 new donations loaded through the run ledger
    res = bad.runs.write(
        "crm.donation", DONATION, _rows(DONATION, appended), layer="bronze", watermark="1019"
    )
    bad.watermarks.commit(window, 1019, table_version=res.version)
    bad.close()
    return Scenario(engine, pinned, deleted, purged, gone, appended, update_operation)


def ops_connect(engine: DeltaEngine, run_id: str) -> fmd.Runtime:
    """A Runtime as the rollback notebook opens one (the operator, the pipeline run)."""
    return connect(engine, run_id, pipeline_run_id=f"pipe-{run_id}", triggered_by="ops@example.org")


def rows_of(rt: fmd.Runtime, table: str, version: int | None = None) -> list[dict[str, Any]]:
    return rows(rt.engine, table, KEYS[table], version)


def counts(rt: fmd.Runtime, table: str, version: int | None = None) -> dict[str, int]:
    t = read(rt.engine, table, version)
    d, p = t["IsDeleted"], t["IsPurged"]
    return {
        "total": t.num_rows,
        "deleted": pc.sum(pc.cast(d, pa.int64())).as_py() or 0,
        "purged": pc.sum(pc.cast(p, pa.int64())).as_py() or 0,
        "active": pc.sum(pc.cast(pc.invert(pc.or_(d, p)), pa.int64())).as_py() or 0,
    }


def versions(rt: fmd.Runtime) -> dict[str, int]:
    return {t: rt.engine.version(rt.table(t)) for t in TABLES}


def audit(rt: fmd.Runtime, run_id: str) -> list[dict[str, Any]]:
    return rt.store.read("SyncAuditLog", {"RunId": run_id}, order_by="EventTime")


@pytest.fixture
def scenario(engine: DeltaEngine) -> Scenario:
    return build(engine)


# ---------------------------------------------------------------------------------------------
def test_dry_run_reports_the_exact_row_deltas_and_changes_nothing(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-dry")
    before = versions(rt)
    plan = rt.rollback.plan(CHECKPOINT)
    for table in TABLES:
        impact = plan.table(table)
        now, then = counts(rt, table), counts(rt, table, scenario.pinned[table])
        assert impact.action == "Restore" and impact.pinned_version == scenario.pinned[table]
        assert impact.current.model_dump() == now and impact.pinned.model_dump() == then
        assert impact.delta.model_dump() == {k: then[k] - now[k] for k in now}
    account, contact, donation = (plan.table(t) for t in TABLES)
    assert (account.delta.active, account.delta.deleted, account.rows_changed) == (24, -24, 24)
    assert (contact.delta.active, contact.delta.purged, contact.rows_changed) == (30, -30, 30)
    assert donation.delta.total == len(scenario.deleted_donations) - len(
        scenario.appended_donations
    )
    assert donation.rows_gone == 10 and donation.rows_back == 0
    # risk by share of rows changed: 24/60 and 30/90 are High, the donations' 30/160 too
    assert account.risk == contact.risk == "High" and plan.totals.risk == "High"
    # the commits undone, newest first, with the writer's metrics
    ops = [c.operation for c in donation.commits]
    assert ops[0] == "WRITE" and "WRITE" in ops[1:] and donation.commits_undone == len(ops)
    assert donation.commits[0].rows_touched == 20
    flagging = [c.run_id for c in account.commits if c.operation == scenario.update_operation]
    assert flagging == ["bad-sync"]
    # file-level effect known in advance = what Delta's RESTORE will report
    assert account.files_to_add >= 1 and account.files_to_remove >= 1
    assert plan.totals.tables_to_restore == 3 and plan.approval_token.startswith("rb-")
    assert versions(rt) == before  # planning changed nothing
    dry = rt.rollback.execute(plan, dry_run=True)
    assert dry.status == "Planned" and dry.dry_run and versions(rt) == before
    # renders: text, HTML, JSON
    text = plan.to_text()
    assert "bronze.account" in text and plan.approval_token in text and "+24" in text
    assert "<table>" in plan._repr_html_()
    assert (
        json.loads(json.dumps(plan.model_dump(mode="json")))["approval_token"]
        == plan.approval_token
    )
    rt.close()
    events = audit(rt, "rb-dry")
    ops = [(e["Operation"], e["Status"]) for e in events]
    assert ("RollbackValidation", "Succeeded") in ops
    assert sum(op == "RollbackImpactAnalysis" for op, _ in ops) == 4  # 3 tables + the aggregate
    assert all(e["DryRun"] for e in events if e["Operation"].startswith("Rollback"))
    assert all(e["PipelineRunId"] == "pipe-rb-dry" for e in events)


def test_execution_without_the_token_or_with_a_stale_one_is_refused(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-refused")
    plan = rt.rollback.plan(CHECKPOINT)
    before = versions(rt)
    with pytest.raises(ApprovalError, match="approval required") as exc:
        rt.rollback.execute(plan, reason="INC-1")
    assert plan.approval_token in str(exc.value)
    with pytest.raises(ApprovalError, match="does not match"):
        rt.rollback.execute(plan, "rb-0000", reason="INC-1")
    assert versions(rt) == before
    # someone writes to a table after the plan was approved: the same token is refused
    rt.engine.update(rt.table(CONTACT), {"ContactId": [1]}, {"IsDeleted": True})
    with pytest.raises(ApprovalError, match=r"tables changed since the plan: bronze\.contact"):
        rt.rollback.execute(plan, plan.approval_token, reason="INC-1")
    # the new plan's token no longer equals the old one; the old one is explained
    fresh = rt.rollback.plan(CHECKPOINT)
    assert fresh.approval_token != plan.approval_token
    with pytest.raises(
        ApprovalError, match=r"changed since that token was issued: bronze\.contact"
    ):
        rt.rollback.execute(fresh, plan.approval_token)
    assert {t: v for t, v in versions(rt).items() if t != CONTACT} == {
        t: v for t, v in before.items() if t != CONTACT
    }
    rt.close()
    events = audit(rt, "rb-refused")
    refusals = [e for e in events if e["Operation"] == "RollbackApproval"]
    assert len(refusals) == 4 and {e["Status"] for e in refusals} == {"Failed"}
    summaries = [json.loads(e["Details"])["status"] for e in events if e["Operation"] == "Rollback"]
    assert summaries.count("Refused") == 4


def test_execute_restores_every_table_row_for_row_and_proves_it(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-ok")
    plan = rt.rollback.plan(CHECKPOINT)
    lines: list[str] = []
    result = rt.rollback.execute(
        plan, plan.approval_token, reason="INC-42 bad sync", progress=lines.append
    )
    assert result.status == "Succeeded", result.to_text()
    assert result.quality_score == 100.0 and not result.failed_checks
    assert sorted(result.succeeded) == sorted(TABLES) and not result.failed and not result.skipped
    assert [line.split(": ")[0] for line in lines] == [
        f"Restoring table {i} of 3" for i in (1, 2, 3)
    ]
    assert sorted(line.split(": ")[1] for line in lines) == sorted(TABLES)
    for table in TABLES:
        assert rows_of(rt, table) == rows_of(rt, table, scenario.pinned[table]), table
        outcome = result.table(table)
        impact = plan.table(table)
        # Delta's RESTORE metrics equal the plan's file-level effect computed beforehand
        assert outcome.metrics["numRestoredFile"] == impact.files_to_add
        assert outcome.metrics["numRemovedFile"] == impact.files_to_remove
        restore = next(h for h in rt.engine.history(rt.table(table)) if h.operation == "RESTORE")
        assert restore.user_metadata["fmd.rollbackRunId"] == "rb-ok"
        assert restore.user_metadata["fmd.checkpointName"] == CHECKPOINT
        assert restore.parameters["version"] == scenario.pinned[table]
    # RESTORE rewinds table properties; the retention raised for the checkpoints is kept
    props = rt.engine.properties(rt.table(ACCOUNT))
    assert props.get("delta.deletedFileRetentionDuration", "").startswith("interval")
    # key-level comparison of the pre-state and the restored version
    comp = {c.table: c for c in result.comparisons}
    assert comp[ACCOUNT].state_changes == {"Deleted->Active": 24}
    assert comp[CONTACT].state_changes == {"Purged->Active": 30}
    assert (comp[DONATION].restored, comp[DONATION].removed) == (10, 20)
    assert comp[ACCOUNT].restored == comp[ACCOUNT].removed == 0 and not comp[ACCOUNT].anomalies
    assert comp[ACCOUNT].unchanged == SIZES[ACCOUNT] - 24
    # the undo point and the new restore point
    assert result.pre_checkpoint and result.post_checkpoint
    post = rt.checkpoints.get(result.post_checkpoint)
    assert (
        post.checkpoint_type == "PostRollback" and post.parent_checkpoint_id == plan.checkpoint_id
    )
    assert post.validation_status == "Validated"
    # idempotency repair: the bad load is invalidated and its watermark rewound
    assert [r["entity"] for r in result.invalidated_runs] == ["crm.donation"]
    assert [w["entity"] for w in result.rewound_watermarks] == ["crm.donation"]
    assert rt.watermarks.current("crm.donation") is None
    again = ops_connect(scenario.engine, "bad-sync-rerun")
    assert not again.runs.should_skip("crm.donation", "bronze", batch_id="bad-pipe")
    again.close()
    rt.close()
    # everything recorded under the rollback run id
    store = rt.store
    snaps = store.read("RollbackStateSnapshots", {"RollbackRunId": "rb-ok"})
    assert sorted((s["SnapshotType"], s["TableName"]) for s in snaps) == sorted(
        (k, t.split(".")[1]) for k in ("Pre", "Post") for t in TABLES
    )
    pre_account = next(
        s for s in snaps if s["SnapshotType"] == "Pre" and s["TableName"] == "account"
    )
    assert pre_account["DeletedRows"] == 2 + 24 and json.loads(pre_account["SampleKeys"])[:3] == [
        1,
        2,
        3,
    ]
    reports = store.read("RollbackComparisonReports", {"RollbackRunId": "rb-ok"})
    assert len(reports) == 3 and {r["CheckpointId"] for r in reports} == {plan.checkpoint_id}
    [report] = store.read("RollbackValidationReports", {"RollbackRunId": "rb-ok"})
    assert report["Status"] == "Succeeded" and report["QualityScore"] == 100.0
    assert report["TriggeredBy"] == "ops@example.org" and report["Reason"] == "INC-42 bad sync"
    assert "quality score 100" in report["ReportText"] and json.loads(report["Recommendations"])
    checks = store.read("DataValidation", {"RunId": "rb-ok", "Context": "PostRollback"})
    names = {c["CheckName"] for c in checks}
    assert {
        "ManifestMatchesCheckpoint",
        "TotalRowsMatchCheckpoint",
        "CountsAddUp",
        "NoNullPrimaryKeys",
        "TrackingConsistent",
        "ReferentialIntegrity",
    } <= names
    assert all(c["ValidationPassed"] for c in checks)
    events = audit(rt, "rb-ok")
    ops = [e["Operation"] for e in events]
    for op in (
        "RollbackApproval",
        "PreRollbackCheckpoint",
        "TableRestore",
        "PostRollbackValidation",
        "PostRollbackCheckpoint",
        "RollbackIdempotencyRepair",
        "Rollback",
    ):
        assert op in ops, op
    assert all(
        e["PipelineRunId"] == "pipe-rb-ok" and e["TriggeredBy"] == "ops@example.org" for e in events
    )
    final = json.loads(next(e for e in reversed(events) if e["Operation"] == "Rollback")["Details"])
    assert final["status"] == "Succeeded" and final["reason"] == "INC-42 bad sync"
    assert final["tables"] == ",".join(sorted(TABLES)) and final["quality_score"] == 100.0


def test_a_failing_table_leaves_the_others_restored_and_a_rerun_resumes_it(
    scenario: Scenario,
) -> None:
    failing = FaultyEngine(scenario.engine).fail(
        "restore",
        tables={CONTACT},
        error=EngineError(
            "restore failed: DeltaError: Generic error: injected storage outage",
            table=CONTACT,
            hint="retry when storage is back",
        ),
    )
    rt = ops_connect(failing, "rb-resume")
    plan = rt.rollback.plan(CHECKPOINT)
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-7")
    assert result.status == "PartiallyFailed"
    assert result.failed == [CONTACT] and sorted(result.succeeded) == [ACCOUNT, DONATION]
    assert "injected storage outage" in (result.table(CONTACT).error or "")
    assert result.quality_score is not None and result.quality_score < 100
    for table in (ACCOUNT, DONATION):
        assert rows_of(rt, table) == rows_of(rt, table, scenario.pinned[table])
    assert rows_of(rt, CONTACT) != rows_of(rt, CONTACT, scenario.pinned[CONTACT])
    assert any("run the rollback again with run id rb-resume" in r for r in result.recommendations)
    rt.close()
    alerts = [e for e in audit(rt, "rb-resume") if e["Operation"] == "ValidationAlert"]
    assert alerts and alerts[0]["Severity"] == "CRITICAL"
    assert "bronze.contact" in json.loads(alerts[0]["Details"])["errors"]

    # the storage is back: the same rollback run id resumes, restoring only what is left
    again = ops_connect(scenario.engine, "rb-resume")
    replan = again.rollback.plan(CHECKPOINT)
    assert {t.table: t.action for t in replan.tables} == {
        ACCOUNT: "Resume",
        CONTACT: "Restore",
        DONATION: "Resume",
    }
    done = again.rollback.execute(replan, replan.approval_token, reason="INC-7 resumed")
    assert done.status == "Succeeded" and done.quality_score == 100.0, done.to_text()
    assert done.succeeded == [CONTACT] and sorted(done.skipped) == [ACCOUNT, DONATION]
    assert {done.table(t).status for t in (ACCOUNT, DONATION)} == {"Resumed"}
    assert done.pre_checkpoint == result.pre_checkpoint  # the first run's undo point is reused
    for table in TABLES:
        assert rows_of(again, table) == rows_of(again, table, scenario.pinned[table])
    restores = [h for h in again.engine.history(again.table(ACCOUNT)) if h.operation == "RESTORE"]
    assert len(restores) == 1  # not restored twice
    again.close()


def test_the_prerollback_checkpoint_undoes_the_rollback(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-forward")
    bad_state = {t: rows_of(rt, t) for t in TABLES}
    plan = rt.rollback.plan(CHECKPOINT)
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-9")
    assert result.status == "Succeeded" and result.pre_checkpoint
    rt.close()
    undo = ops_connect(scenario.engine, "rb-undo")
    back = undo.rollback.plan(result.pre_checkpoint)
    assert back.checkpoint.checkpoint_type == "PreRollback"
    res = undo.rollback.execute(back, back.approval_token, reason="the rollback was a mistake")
    assert res.status == "Succeeded" and res.quality_score == 100.0, res.to_text()
    assert {t: rows_of(undo, t) for t in TABLES} == bad_state
    undo.close()


def test_a_restore_that_commits_nothing_is_caught_by_post_validation(scenario: Scenario) -> None:
    silent = FaultyEngine(scenario.engine).fail("restore", tables={ACCOUNT}, when="silent")
    rt = ops_connect(silent, "rb-silent")
    plan = rt.rollback.plan(CHECKPOINT)
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-3")
    assert result.status == "PartiallyFailed"
    failed = {(c.table, c.check_name) for c in result.failed_checks}
    assert (ACCOUNT, "ManifestMatchesCheckpoint") in failed
    assert (ACCOUNT, "ActiveRowsMatchCheckpoint") in failed
    manifest = next(c for c in result.failed_checks if c.check_name == "ManifestMatchesCheckpoint")
    assert "did not take effect" in (manifest.message or "")
    assert result.quality_score is not None and result.quality_score < 100
    assert result.post_checkpoint is not None
    post = rt.checkpoints.get(result.post_checkpoint)
    assert not post.is_active and "post-validation failed for bronze.account" in (post.notes or "")
    assert any("is not a restore point" in w for w in result.warnings)
    rt.close()
    [alert] = [e for e in audit(rt, "rb-silent") if e["Operation"] == "ValidationAlert"]
    assert alert["Severity"] == "CRITICAL"


def test_validation_refuses_with_recommended_actions(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-invalid")
    with pytest.raises(RollbackError, match="does not exist") as exc:
        rt.rollback.plan("bronze_batch_goo")
    assert "did you mean bronze_batch_good" in str(exc.value)
    with pytest.raises(RollbackError, match="not in checkpoint"):
        rt.rollback.plan(CHECKPOINT, tables="bronze.account,bronze.other")
    with pytest.raises(RollbackError, match="is a DailyBatch checkpoint, not PrePurge"):
        rt.rollback.plan(CHECKPOINT, kind="PrePurge")
    rt.store.update("CheckpointHistory", {"CheckpointName": CHECKPOINT}, {"IsActive": False})
    with pytest.raises(RollbackError, match="no longer active") as exc:
        rt.rollback.plan(CHECKPOINT)
    assert exc.value.details["recommended_actions"]
    rt.store.update(
        "CheckpointHistory",
        {"CheckpointName": CHECKPOINT},
        {"IsActive": True, "ValidationStatus": "Failed"},
    )
    with pytest.raises(RollbackError, match="validation status is Failed"):
        rt.rollback.plan(CHECKPOINT)
    rt.store.update(
        "CheckpointHistory", {"CheckpointName": CHECKPOINT}, {"ValidationStatus": "Validated"}
    )
    # VACUUM-like loss of a file the pinned donation version needs: unrestorable
    ref = rt.table(DONATION)
    needed = {f.path for f in rt.engine.files(ref, scenario.pinned[DONATION])}
    current = {f.path for f in rt.engine.files(ref)}
    lost = sorted(needed - current)[0]
    (table_dir(rt.engine, DONATION) / lost).unlink()
    with pytest.raises(RollbackError, match="bronze.donation is unrestorable") as exc:
        rt.rollback.plan(CHECKPOINT)
    assert "tables='bronze.account,bronze.contact'" in str(exc.value)
    plan = rt.rollback.plan(CHECKPOINT, tables="bronze.account,bronze.contact")
    assert plan.scope == (ACCOUNT, CONTACT)
    rt.close()
    events = audit(rt, "rb-invalid")
    refused = [
        e for e in events if e["Operation"] == "RollbackValidation" and e["Status"] == "Failed"
    ]
    assert len(refused) == 6 and all(e["DryRun"] for e in refused)


def test_a_subset_flags_related_tables_left_at_another_point_in_time(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-subset")
    plan = rt.rollback.plan(CHECKPOINT, tables=DONATION)
    assert [(g.table, g.related) for g in plan.dependencies] == [(DONATION, ACCOUNT)]
    assert plan.dependencies[0].related_in_checkpoint
    assert any("add it to the scope" in w for w in plan.warnings)
    plan = rt.rollback.plan(CHECKPOINT, tables=ACCOUNT)
    assert sorted((g.table, g.related) for g in plan.dependencies) == [
        (ACCOUNT, CONTACT),
        (ACCOUNT, DONATION),
    ]
    # the whole checkpoint leaves nothing behind
    assert rt.rollback.plan(CHECKPOINT).dependencies == ()
    rt.close()


def test_latest_checkpoint_of_a_kind_and_noop_tables(scenario: Scenario) -> None:
    rt = ops_connect(scenario.engine, "rb-latest")
    plan = rt.rollback.plan("latest", kind="DailyBatch")
    assert plan.checkpoint_name == CHECKPOINT
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-5")
    assert result.status == "Succeeded"
    rt.close()
    # a second rollback to the same checkpoint finds every table already there: all no-ops
    again = ops_connect(scenario.engine, "rb-latest-2")
    plan = again.rollback.plan(CHECKPOINT)
    assert {t.action for t in plan.tables} == {"NoOp"} and plan.totals.tables_to_restore == 0
    assert "Nothing to restore" in plan.to_text()
    res = again.rollback.execute(plan, plan.approval_token, reason="check")
    assert res.status == "Succeeded" and sorted(res.skipped) == sorted(TABLES)
    assert res.quality_score == 100.0 and res.pre_checkpoint is None and res.post_checkpoint is None
    again.close()


# -- deletion vectors (Spark + Delta: delta-rs cannot write them) ------------------------------
DV_TABLE = "bronze.gift"
DV_COLUMNS = [
    Column(name="GiftId", type="bigint", nullable=False),
    Column(name="Amount", type="double"),
    *TRACKING,
]


def _gifts(ids: list[int]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "GiftId": ids,
            "Amount": [i * 2.5 for i in ids],
            "IsDeleted": [False] * n,
            "IsPurged": [False] * n,
        },
        schema=arrow_schema(DV_COLUMNS),
    )


def _dvs(engine: DeltaEngine, table: TableRef) -> set[tuple[str, str]]:
    """The (data file, deletion-vector id) pairs of the current version's deletion vectors."""
    return {(f.path, f.deletion_vector) for f in engine.files(table) if f.deletion_vector}


@pytest.mark.parametrize("engine", SPARK_ONLY, indirect=True)
def test_a_deletion_vector_table_is_rolled_back_row_for_row(engine: DeltaEngine) -> None:
    spark: Any = engine.spark  # type: ignore[attr-defined]
    rt = ops_connect(engine, "dv-setup")
    ref = rt.table(DV_TABLE)
    engine.create(ref, DV_COLUMNS, properties={"delta.enableDeletionVectors": "true"})
    engine.write(ref, _gifts(list(range(1, 41))))
    rt.configure_table(
        DV_TABLE, primary_key=["GiftId"], deleted_flag="IsDeleted", purged_flag="IsPurged"
    )
    # a normal day: an UPDATE and a DELETE, both written as deletion vectors
    engine.update(ref, {"GiftId": [2, 3]}, {"IsDeleted": True})
    spark.sql(f"DELETE FROM {ref.quoted} WHERE GiftId IN (39, 40)")
    day = _dvs(engine, ref)
    assert day, "the UPDATE/DELETE wrote no deletion vector"
    cp = rt.checkpoints.create([DV_TABLE], kind="DailyBatch", name="gifts_good")
    assert cp is not None and cp.validation_status == "Validated"
    pinned = cp.table(DV_TABLE)
    rt.close()

    # the bad sync: more flags, more rows physically deleted (new deletion vectors)
    engine.update(ref, {"GiftId": list(range(10, 20))}, {"IsPurged": True})
    spark.sql(f"DELETE FROM {ref.quoted} WHERE GiftId BETWEEN 30 AND 34")
    assert _dvs(engine, ref) - day, "the bad sync wrote no new deletion vector"
    assert manifest_digest(engine.files(ref)) != pinned.manifest_digest

    rt = ops_connect(engine, "dv-rb")
    plan = rt.rollback.plan("gifts_good")
    impact = plan.table(DV_TABLE)
    assert impact.action == "Restore" and impact.pinned_version == pinned.version
    assert (impact.delta.total, impact.delta.purged, impact.rows_back) == (5, -10, 5)
    with pytest.raises(ApprovalError, match="approval required"):
        rt.rollback.execute(plan, reason="INC-DV")
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-DV")
    assert result.status == "Succeeded" and result.quality_score == 100.0, result.to_text()
    assert rows(engine, DV_TABLE, "GiftId") == rows(engine, DV_TABLE, "GiftId", pinned.version)
    assert keys(engine, DV_TABLE, "GiftId") == list(range(1, 39))
    # the restored version needs exactly the pinned files and deletion vectors
    restored = engine.files(ref)
    assert _dvs(engine, ref) == day
    assert manifest_digest(restored) == pinned.manifest_digest
    assert sorted((f.path, f.deletion_vector) for f in restored) == sorted(
        (f.path, f.deletion_vector) for f in engine.files(ref, pinned.version)
    )
    assert {c.check_name for c in result.checks if c.table == DV_TABLE} >= {
        "ManifestMatchesCheckpoint",
        "TotalRowsMatchCheckpoint",
    }
    rt.close()
