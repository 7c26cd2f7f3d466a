"""The run ledger: re-run guard, exactly-once writes through Delta txn identity, rollback invalidation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime import ContractViolation
from fmd_runtime.engine import Column
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.runs import RunLedger
from fmd_runtime.testing import FaultyEngine

COLS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]


def _data(*ids: int) -> pa.Table:
    return pa.table({"Id": pa.array(ids, pa.int64()), "Name": [f"n{i}" for i in ids]})


def crash(engine: FaultyEngine, when: str) -> None:
    """Data writes fail (the ledger's own metadata writes go through): "after" lets the commit
    land then raises (the process died before the ledger heard of it), "before" raises before
    anything is written. ``engine.clear()`` ends it."""
    engine.fail(
        "write",
        when="after" if when == "after" else "before",
        error=ConnectionError(
            "driver lost after the commit"
            if when == "after"
            else "network dropped before the commit"
        ),
        match=lambda t, a, kw: t is not None and t.schema_name != "metadata",
    )


def _connect(lakehouse, run_id: str, batch: str | None = None, engine=None):
    return fmd.connect(
        lakehouse=lakehouse,
        engine=engine,
        run_id=run_id,
        pipeline_run_id=batch,
        triggered_by="pytest",
    )


@pytest.fixture
def table(rt):
    rt.engine.create(rt.table("bronze.acc"), COLS)
    return rt.table("bronze.acc")


def _ids(rt, ref) -> list[int]:
    return sorted(rt.engine.read(ref, columns=["Id"]).column("Id").to_pylist())


def _audit(rt, operation: str) -> list[dict]:
    rt.audit.flush()
    return rt.store.read("SyncAuditLog", {"Operation": operation}, order_by="EventTime")


def test_app_id_and_argument_checks(rt, table) -> None:
    assert RunLedger.app_id("acc", "bronze") == "fmd:bronze:acc"
    with pytest.raises(ContractViolation, match="layer"):
        rt.runs.should_skip("acc", "")
    with pytest.raises(ContractViolation, match="canonical text"):
        rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze", watermark=5)  # type: ignore[arg-type]


def test_should_skip_after_complete_is_audited_and_force_overrides(rt, table) -> None:
    assert not rt.runs.should_skip("acc", "bronze")
    res = rt.runs.write("acc", "bronze.acc", _data(1, 2), layer="bronze", watermark="2")
    assert (
        res.applied
        and res.rows_written == 2
        and res.txn_version == 1
        and res.batch_id == "pipe-run"
    )
    assert rt.runs.should_skip("acc", "bronze")
    skip = _audit(rt, "SkippedAlreadyProcessed")[-1]
    assert (skip["Status"], skip["EntityId"], skip["Layer"], skip["TableName"]) == (
        "Skipped",
        "acc",
        "bronze",
        "acc",
    )
    assert json.loads(skip["Details"])["table_version"] == res.version
    assert not rt.runs.should_skip("acc", "bronze", force=True)
    assert _audit(rt, "ForcedReprocess")[-1]["Status"] == "Info"
    assert not rt.runs.should_skip("acc", "silver") and not rt.runs.should_skip("other", "bronze")


def test_batch_id_carries_the_guard_across_runs(rt, table, lakehouse) -> None:
    rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze")
    rerun = _connect(lakehouse, "run-2", batch="pipe-run")  # a new run of the same pipeline run
    assert rerun.runs.should_skip("acc", "bronze")
    other = _connect(lakehouse, "run-3", batch="pipe-run-2")
    assert not other.runs.should_skip("acc", "bronze")
    assert other.runs.should_skip("acc", "bronze", batch_id="pipe-run")
    for r in (rerun, other):
        r.close()


def test_second_write_in_the_same_run_is_not_applied(rt, table) -> None:
    first = rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze")
    again = rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze")
    assert not again.applied and again.version == first.version and _ids(rt, table) == [1]
    assert rt.engine.version(table) == first.version


def test_parts_of_a_chunked_load_are_each_written_once(rt, table) -> None:
    a = rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze", part="2025-01")
    b = rt.runs.write("acc", "bronze.acc", _data(2), layer="bronze", part="2025-02")
    again = rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze", part="2025-01")
    assert (a.txn_version, b.txn_version, again.applied) == (1, 2, False)
    assert _ids(rt, table) == [1, 2]
    assert rt.runs.should_skip("acc", "bronze", part="2025-02") and not rt.runs.should_skip(
        "acc", "bronze"
    )


def test_a_retry_after_a_crash_that_landed_is_skipped_by_the_same_txn_version(lakehouse) -> None:
    engine = FaultyEngine(DeltaRsEngine(lakehouse))
    rt = _connect(lakehouse, "run-1", batch="batch-7", engine=engine)
    ref = rt.table("bronze.acc")
    engine.create(ref, COLS)
    crash(engine, "after")
    with pytest.raises(ConnectionError):
        rt.runs.write("acc", "bronze.acc", _data(1, 2), layer="bronze", watermark="2")
    assert _ids(rt, ref) == [1, 2]  # the data landed
    assert engine.transaction_version(ref, "fmd:bronze:acc") == 1
    rt.close()

    engine.clear()
    retry = _connect(lakehouse, "run-2", batch="batch-7", engine=engine)
    assert not retry.runs.should_skip("acc", "bronze")  # the ledger never heard of the success
    res = retry.runs.write("acc", "bronze.acc", _data(1, 2), layer="bronze", watermark="2")
    assert (res.applied, res.txn_version, res.watermark) == (False, 1, "2")
    assert _ids(retry, ref) == [1, 2]  # no duplicates
    assert retry.runs.should_skip("acc", "bronze")
    statuses = [r["Status"] for r in retry.runs.entries("acc", "bronze")]
    assert statuses == ["Failed", "Succeeded"]  # nothing is written before the data commit
    retry.close()


def test_a_retry_after_a_crash_before_landing_writes_with_the_same_txn_version(lakehouse) -> None:
    engine = FaultyEngine(DeltaRsEngine(lakehouse))
    rt = _connect(lakehouse, "run-1", batch="batch-7", engine=engine)
    ref = rt.table("bronze.acc")
    engine.create(ref, COLS)
    crash(engine, "before")
    with pytest.raises(ConnectionError):
        rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze")
    assert _ids(rt, ref) == [] and _audit(rt, "EntityFailed")[-1]["Severity"] == "HIGH"
    engine.clear()
    res = _connect(lakehouse, "run-2", batch="batch-7", engine=engine).runs.write(
        "acc", "bronze.acc", _data(1), layer="bronze"
    )
    assert (res.applied, res.txn_version) == (True, 1) and _ids(rt, ref) == [1]
    rt.close()


def test_commit_metadata_and_landed_commits(rt, table) -> None:
    res = rt.runs.write(
        "acc", "bronze.acc", _data(1), layer="bronze", watermark="0x0000000000000001"
    )
    md = rt.engine.history(table, 1)[0].user_metadata
    assert {
        k: md[k]
        for k in ("fmd.runId", "fmd.entity", "fmd.watermark", "fmd.layer", "fmd.txnVersion")
    } == {
        "fmd.runId": "test-run",
        "fmd.entity": "acc",
        "fmd.watermark": "0x0000000000000001",
        "fmd.layer": "bronze",
        "fmd.txnVersion": "1",
    }
    rt.engine.write(table, _data(5))  # a write outside the library is ignored
    landed = rt.runs.landed("bronze.acc", "acc")
    assert [(c.version, c.run_id, c.watermark, c.undone) for c in landed] == [
        (res.version, "test-run", "0x0000000000000001", False)
    ]
    rt.engine.restore(table, 0)
    assert rt.runs.landed("bronze.acc", "acc")[0].undone  # a RESTORE went back before it
    assert rt.runs.landed("bronze.nope", "acc") == []


def test_complete_and_fail_directly(rt, table) -> None:
    row = rt.runs.complete(
        "acc", "silver", table="bronze.acc", version=4, rows_written=10, watermark="9"
    )
    assert row["Status"] == "Succeeded" and row["BatchId"] == "pipe-run"
    assert rt.runs.should_skip("acc", "silver")
    rt.runs.fail("x", "silver", table="bronze.acc", error=RuntimeError("Password=hunter2 failed"))
    failed = [r for r in rt.runs.entries("x") if r["Status"] == "Failed"][0]
    assert "hunter2" not in failed["Details"] and not rt.runs.should_skip("x", "silver")


def test_invalidate_after_reopens_loads_and_takes_a_txn_version_above_delta(
    rt, table, lakehouse
) -> None:
    r1 = rt.runs.write("acc", "bronze.acc", _data(1), layer="bronze")
    rt.close()
    run2 = _connect(lakehouse, "run-2", batch="batch-2")
    r2 = run2.runs.write("acc", "bronze.acc", _data(2), layer="bronze")
    assert r2.txn_version == 2
    after = rt.runs.version_times("bronze.acc")[r1.version]
    rt.engine.restore(table, r1.version)  # RESTORE keeps Delta's txn identifiers
    assert rt.engine.transaction_version(table, "fmd:bronze:acc") == 2
    out = run2.runs.invalidate_after("bronze.acc", after, by_run_id="rollback-9")
    assert [(o["run_id"], o["status"], o["table_version"]) for o in out] == [
        ("run-2", "Succeeded", r2.version)
    ]
    assert all(o["invalidated_by"] == "rollback-9" for o in out)
    assert not run2.runs.should_skip("acc", "bronze")
    again = run2.runs.write("acc", "bronze.acc", _data(2), layer="bronze")
    assert again.applied and again.txn_version == 3  # 2 would be skipped by the engine
    assert _ids(run2, table) == [1, 2]
    assert rt.runs.should_skip("acc", "bronze")  # run 1's load stayed valid
    rows = [r for r in run2.runs.entries("acc") if r["Invalidated"]]
    assert len(rows) == 1 and all(r["InvalidatedBy"] == "rollback-9" for r in rows)
    assert _audit(run2, "RunsInvalidated")[-1]["Severity"] == "MEDIUM"
    assert run2.runs.invalidate_after("bronze.acc", datetime.now(timezone.utc), by_run_id="x") == []
    run2.close()
