"""The rollback scenario of the issue, on real Delta tables (delta-rs in a temporary lakehouse).

Three related tables (account <- contact, account <- donation) with tracking columns, a validated
DailyBatch checkpoint, then a bad sync: accounts flagged deleted, contacts flagged purged,
donations physically deleted and new ones appended through the run ledger (with a watermark).
The dry run reports the exact row deltas and changes nothing; execution without the token is
refused; with it every table equals its checkpoint version row for row; a table made to fail
(an engine wrapper whose RESTORE raises) leaves the other two restored and is resumed by a re-run
under the same run id; the post-validation score is 100; the PreRollback checkpoint undoes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fmd_runtime as fmd
from fmd_runtime.engine import Column, CommitOptions, RestoreResult, arrow_schema
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import ApprovalError, EngineError, RollbackError
from fmd_runtime.tables import TableRef

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


def _rows(table: str, ids: list[int]) -> pa.Table:
    data: dict[str, Any] = {
        KEYS[table]: ids,
        "IsDeleted": [False] * len(ids),
        "IsPurged": [False] * len(ids),
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
    lakehouse: Path
    pinned: dict[str, int]
    flagged_deleted: list[int]
    flagged_purged: list[int]
    deleted_donations: list[int]
    appended_donations: list[int]


def build(lakehouse: Path) -> Scenario:
    """Three synced days' worth of state, a validated checkpoint, then the bad sync."""
    rt = fmd.connect(lakehouse=lakehouse, run_id="setup", triggered_by="setup")
    eng = rt.engine
    for table in TABLES:
        ref = rt.table(table)
        eng.create(ref, COLUMNS[table])
        eng.write(ref, _rows(table, list(range(1, SIZES[table] + 1))))
        related = [ACCOUNT] if table != ACCOUNT else []
        rt.configure_table(
            table,
            primary_key=[KEYS[table]],
            deleted_flag="IsDeleted",
            purged_flag="IsPurged",
            related_tables=related,
            foreign_keys={"AccountId": f"{ACCOUNT}.AccountId"} if related else {},
        )
        # a normal day: a few rows flagged deleted, a few purged (never both)
        key = KEYS[table]
        eng.update(ref, {key: [2, 3]}, {"IsDeleted": True})
        eng.update(ref, {key: [5]}, {"IsPurged": True})
    cp = rt.checkpoints.create(list(TABLES), kind="DailyBatch", name=CHECKPOINT)
    assert cp is not None and cp.validation_status == "Validated"
    pinned = {t.table: t.version for t in cp.tables}
    rt.close()

    bad = fmd.connect(lakehouse=lakehouse, run_id="bad-sync", pipeline_run_id="bad-pipe")
    commit = CommitOptions(metadata={"fmd.runId": "bad-sync"})
    deleted = list(range(10, 34))  # 24 active accounts flagged deleted
    bad.engine.update(
        bad.table(ACCOUNT), {"AccountId": deleted}, {"IsDeleted": True}, commit=commit
    )
    purged = list(range(20, 50))  # 30 active contacts flagged purged
    bad.engine.update(bad.table(CONTACT), {"ContactId": purged}, {"IsPurged": True}, commit=commit)
    gone = list(range(100, 110))  # 10 donations physically deleted (an overwrite without them)
    current = bad.engine.read(bad.table(DONATION))
    keep = pc.invert(pc.is_in(current["DonationId"], value_set=pa.array(gone, pa.int64())))
    bad.engine.write(bad.table(DONATION), current.filter(keep), mode="overwrite", commit=commit)
    window = bad.watermarks.begin("crm.donation", kind="int", table=DONATION, layer="bronze")
    appended = list(range(1000, 1020))  # 20 new donations loaded through the run ledger
    res = bad.runs.write(
        "crm.donation", DONATION, _rows(DONATION, appended), layer="bronze", watermark="1019"
    )
    bad.watermarks.commit(window, 1019, table_version=res.version)
    bad.close()
    return Scenario(lakehouse, pinned, deleted, purged, gone, appended)


class FailingRestore(DeltaRsEngine):
    """The real embedded engine, except that RESTORE of the named tables raises."""

    def __init__(self, root: Path, fail: set[str]) -> None:
        super().__init__(root)
        self.fail = fail

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        if table.name in self.fail:
            raise EngineError(
                "restore failed: DeltaError: Generic error: injected storage outage",
                table=table.name,
                hint="retry when storage is back",
            )
        return super().restore(table, version, commit=commit)


class SilentRestore(DeltaRsEngine):
    """An engine whose RESTORE commits a version that changes no file (the delta-rs bug shape)."""

    def __init__(self, root: Path, silent: set[str]) -> None:
        super().__init__(root)
        self.silent = silent

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        if table.name not in self.silent:
            return super().restore(table, version, commit=commit)
        before = self.version(table)
        self.set_properties(table, {"test.noopRestore": "1"})
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=self.version(table),
        )


def connect(lakehouse: Path, run_id: str, engine: Any = None) -> fmd.Runtime:
    return fmd.connect(
        lakehouse=lakehouse,
        engine=engine,
        run_id=run_id,
        pipeline_run_id=f"pipe-{run_id}",
        triggered_by="ops@example.org",
    )


def rows_of(rt: fmd.Runtime, table: str, version: int | None = None) -> list[dict[str, Any]]:
    rows = rt.engine.read(rt.table(table), version).to_pylist()
    return sorted(rows, key=lambda r: r[KEYS[table]])


def counts(rt: fmd.Runtime, table: str, version: int | None = None) -> dict[str, int]:
    t = rt.engine.read(rt.table(table), version)
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
def scenario(lakehouse: Path) -> Scenario:
    return build(lakehouse)


# ---------------------------------------------------------------------------------------------
def test_dry_run_reports_the_exact_row_deltas_and_changes_nothing(scenario: Scenario) -> None:
    rt = connect(scenario.lakehouse, "rb-dry")
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
    assert [c.run_id for c in account.commits if c.operation == "MERGE"] == ["bad-sync"]
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
    rt = connect(scenario.lakehouse, "rb-refused")
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
    rt = connect(scenario.lakehouse, "rb-ok")
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
    again = connect(scenario.lakehouse, "bad-sync-rerun")
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
    failing = FailingRestore(scenario.lakehouse, {CONTACT})
    rt = connect(scenario.lakehouse, "rb-resume", engine=failing)
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
    again = connect(scenario.lakehouse, "rb-resume")
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
    rt = connect(scenario.lakehouse, "rb-forward")
    bad_state = {t: rows_of(rt, t) for t in TABLES}
    plan = rt.rollback.plan(CHECKPOINT)
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-9")
    assert result.status == "Succeeded" and result.pre_checkpoint
    rt.close()
    undo = connect(scenario.lakehouse, "rb-undo")
    back = undo.rollback.plan(result.pre_checkpoint)
    assert back.checkpoint.checkpoint_type == "PreRollback"
    res = undo.rollback.execute(back, back.approval_token, reason="the rollback was a mistake")
    assert res.status == "Succeeded" and res.quality_score == 100.0, res.to_text()
    assert {t: rows_of(undo, t) for t in TABLES} == bad_state
    undo.close()


def test_a_restore_that_commits_nothing_is_caught_by_post_validation(scenario: Scenario) -> None:
    rt = connect(
        scenario.lakehouse, "rb-silent", engine=SilentRestore(scenario.lakehouse, {ACCOUNT})
    )
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
    rt = connect(scenario.lakehouse, "rb-invalid")
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
    Path(rt.engine.path(ref), lost).unlink()
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
    rt = connect(scenario.lakehouse, "rb-subset")
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
    rt = connect(scenario.lakehouse, "rb-latest")
    plan = rt.rollback.plan("latest", kind="DailyBatch")
    assert plan.checkpoint_name == CHECKPOINT
    result = rt.rollback.execute(plan, plan.approval_token, reason="INC-5")
    assert result.status == "Succeeded"
    rt.close()
    # a second rollback to the same checkpoint finds every table already there: all no-ops
    again = connect(scenario.lakehouse, "rb-latest-2")
    plan = again.rollback.plan(CHECKPOINT)
    assert {t.action for t in plan.tables} == {"NoOp"} and plan.totals.tables_to_restore == 0
    assert "Nothing to restore" in plan.to_text()
    res = again.rollback.execute(plan, plan.approval_token, reason="check")
    assert res.status == "Succeeded" and sorted(res.skipped) == sorted(TABLES)
    assert res.quality_score == 100.0 and res.pre_checkpoint is None and res.post_checkpoint is None
    again.close()
