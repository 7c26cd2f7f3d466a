"""The drift story end to end: the same source change meets bronze, silver and silver in warn mode,
on every engine (delta-rs; Spark + Delta under ``-m spark_delta``)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from engines import rows as rows_of

import fmd_runtime as fmd
from fmd_runtime.engine import Column
from fmd_runtime.runs import WriteResult

COLUMNS = [
    Column(name="AccountId", type="bigint", nullable=False),
    Column(name="Visits", type="int"),
    Column(name="Name", type="string"),
]


def _yesterday() -> pa.Table:
    return pa.table(
        {
            "AccountId": pa.array([1, 2], pa.int64()),
            "Visits": pa.array([3, 4], pa.int32()),
            "Name": ["a", "b"],
        }
    )


def _today() -> pa.Table:
    # the source added Segment and retyped Visits to bigint
    return pa.table(
        {
            "AccountId": pa.array([3], pa.int64()),
            "Visits": pa.array([5_000_000_000], pa.int64()),
            "Name": ["c"],
            "Segment": ["SMB"],
        }
    )


def _load(rt, layer: str) -> WriteResult:
    table = f"{layer}.account"
    res = rt.drift.enforce(_today(), table, layer=layer)
    return rt.runs.write("account", table, res.frame, layer=layer, schema_mode=res.schema_mode)


def test_one_source_change_three_outcomes(any_rt: fmd.Runtime) -> None:
    rt = any_rt
    for layer in ("bronze", "silver"):
        ref = rt.table(f"{layer}.account")
        rt.engine.create(ref, COLUMNS)
        rt.runs.write("account", ref.name, _yesterday(), layer=layer, part="initial")
    bronze = rt.table("bronze.account")
    before = rt.engine.version(bronze)

    # bronze (additive): passes and evolves the target
    res = _load(rt, "bronze")
    assert res.applied and res.rows_written == 1
    snap = rt.engine.snapshot(bronze)
    assert [(c.name, c.type) for c in snap.columns] == [
        ("AccountId", "bigint"),
        ("Visits", "bigint"),
        ("Name", "string"),
        ("Segment", "string"),
    ]
    rows = rows_of(rt.engine, bronze, "AccountId")
    assert [r["Visits"] for r in rows] == [3, 4, 5_000_000_000] and rows[0]["Segment"] is None
    # the evolution is one audited rewrite, and the table can still go back before it
    history = rt.engine.history(bronze)
    ops = [e.operation for e in history][:2]
    assert ops == ["WRITE", "WRITE"] and history[1].user_metadata["fmd.operation"] == "SchemaEvolve"
    assert [e.version for e in history[:2]] == [before + 2, before + 1]  # one rewrite, one load
    assert history[1].user_metadata["fmd.runId"] == rt.context.run_id
    assert (
        rt.engine.transaction_version(bronze, "fmd:bronze:account") == 2
    )  # kept across the rewrite
    rt.engine.restore(bronze, before)
    assert [c.type for c in rt.engine.snapshot(bronze).columns] == ["bigint", "int", "string"]

    # silver (strict): fails naming both columns, nothing written
    silver = rt.table("silver.account")
    version = rt.engine.version(silver)
    with pytest.raises(fmd.SchemaDriftError) as info:
        _load(rt, "silver")
    assert "`Visits` changed type int -> bigint" in str(info.value)
    assert "`Segment` was added (string)" in str(info.value)
    assert rt.engine.version(silver) == version and not rt.runs.should_skip("account", "silver")

    # silver in warn mode: passes, with the full drift report audited and an alert raised
    rt.configure_table("silver.account", drift_warn_only=True)
    assert _load(rt, "silver").applied
    rt.audit.flush()
    drift = rt.store.read(
        "SyncAuditLog",
        {"Operation": "SchemaDrift", "TableName": "account", "SchemaName": "silver"},
        order_by="EventTime",
    )
    assert [d["Status"] for d in drift] == ["Failed", "Warning"]
    details = json.loads(drift[-1]["Details"])
    changes = {(c["column"], c["change"]) for c in details["report"]["changes"]}
    assert {("Visits", "type_changed"), ("Segment", "added")} <= changes
    assert details["decision"]["warn"] is True and len(details["decision"]["violations"]) == 2
    alerts = rt.store.read("SyncAuditLog", {"Operation": "Alert"})
    assert any("silver.account" in (a["Details"] or "") for a in alerts)
