"""Bronze-to-silver merges (`rt.runs.merge`) on every engine: the deletion circuit breaker stops
a sync after a source outage with nothing committed, a normal day's churn commits, a merge
killed after its data commit and re-run changes nothing, and the counts equal the diff."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, rows

import fmd_runtime as fmd
from fmd_runtime.engine import DeltaEngine
from fmd_runtime.testing import FaultyEngine

ENTITY, TABLE = "crm.account", "silver.account"
SCHEMA = pa.schema(
    [pa.field("AccountId", pa.int64(), nullable=False), ("Name", pa.string()), ("Tier", pa.int32())]
)


class InjectedFailure(RuntimeError):
    """The notebook died here."""


def source(ids: range | list[int], *, renamed: set[int] = frozenset(), tier: int = 1) -> pa.Table:  # type: ignore[assignment]
    ids = list(ids)
    return pa.table(
        {
            "AccountId": ids,
            "Name": [f"acct {i}" + (" (renamed)" if i in renamed else "") for i in ids],
            "Tier": [tier] * len(ids),
        },
        schema=SCHEMA,
    )


def runtime(engine: DeltaEngine, run: str) -> fmd.Runtime:
    rt = connect(engine, run, pipeline_run_id=f"pipe-{run}")
    rt.configure_table(
        TABLE, primary_key=["AccountId"], deleted_flag="IsDeleted", purged_flag="IsPurged"
    )
    return rt


def state(engine: DeltaEngine) -> dict[int, dict[str, Any]]:
    return {r["AccountId"]: r for r in rows(engine, TABLE, "AccountId")}


def audit(rt: fmd.Runtime, operation: str) -> list[dict[str, Any]]:
    rt.audit.flush()
    return rt.store.read("SyncAuditLog", {"Operation": operation})


def test_a_snapshot_after_a_source_outage_is_refused_and_a_normal_days_churn_commits(
    engine: DeltaEngine,
) -> None:
    rt = runtime(engine, "day1")
    first = rt.runs.merge(ENTITY, TABLE, source(range(100)), layer="silver", mode="snapshot")
    assert first.applied and first.counts is not None and first.counts.inserted == 100
    version = engine.version(fmd.TableRef.parse(TABLE))

    # Day 2: the CRM extract stopped after 60 of 100 accounts.
    rt2 = runtime(engine, "day2")
    with pytest.raises(fmd.DeletionLimitError) as caught:
        rt2.runs.merge(ENTITY, TABLE, source(range(60)), layer="silver", mode="snapshot")
    err = caught.value
    assert "soft-delete 40 of 100 active rows (40.0%; limit 10.0%)" in str(err)
    assert "nothing was committed" in str(err) and "override_reason" in str(err)
    assert err.details["counts"]["deleted"] == 40 and err.details["counts"]["unchanged"] == 60
    assert {k["AccountId"] for k in err.details["sample_keys"]} <= set(range(60, 100))
    assert engine.version(fmd.TableRef.parse(TABLE)) == version, "nothing committed"
    assert not any(r["IsDeleted"] for r in state(engine).values())
    refused = audit(rt2, "MergeRefused")
    assert len(refused) == 1 and refused[0]["Severity"] == "HIGH"
    assert json.loads(refused[0]["Details"])["breaker"]["tripped"] == ["delete_share"]
    alerts = [a for a in audit(rt2, "Alert") if a["Severity"] == "HIGH"]
    assert len(alerts) == 1 and "Merge into silver.account refused" in alerts[0]["Details"]
    assert rt2.runs.entries(ENTITY, "silver")[-1]["Status"] == "Failed"

    # Day 3: a normal day: 2 accounts closed, 3 renamed, 4 new.
    rt3 = runtime(engine, "day3")
    res = rt3.runs.merge(
        ENTITY,
        TABLE,
        source([*range(2, 100), *range(100, 104)], renamed={10, 11, 12}),
        layer="silver",
        mode="snapshot",
    )
    c = res.counts
    assert res.committed and c is not None
    assert (c.inserted, c.updated, c.deleted, c.reactivated, c.unchanged) == (4, 3, 2, 0, 95)
    assert (
        res.breaker is not None and res.breaker.tripped == () and res.breaker.delete_share == 0.02
    )
    after = state(engine)
    assert after[0]["IsDeleted"] and after[1]["IsDeleted"] and not after[2]["IsDeleted"]
    completed = json.loads(audit(rt3, "EntityCompleted")[-1]["Details"])
    assert completed["merge"]["deleted"] == 2 and completed["merge"]["inserted"] == 4


def test_an_explicit_override_commits_the_refused_merge_and_is_audited_with_its_reason(
    engine: DeltaEngine,
) -> None:
    rt = runtime(engine, "load")
    rt.runs.merge(ENTITY, TABLE, source(range(20)), layer="silver", mode="snapshot")
    with pytest.raises(fmd.ContractViolation, match="override_reason"):
        rt.runs.merge(
            ENTITY, TABLE, source(range(5)), layer="silver", mode="snapshot", override_reason=" "
        )
    rt2 = runtime(engine, "archive")
    reason = "CRM archived the 2019 accounts (CHG-1234)"
    res = rt2.runs.merge(
        ENTITY, TABLE, source(range(5)), layer="silver", mode="snapshot", override_reason=reason
    )
    assert res.committed and res.counts is not None and res.counts.deleted == 15
    assert res.breaker is not None and res.breaker.overridden
    assert res.breaker.override_reason == reason
    override = audit(rt2, "MergeOverride")
    assert len(override) == 1 and json.loads(override[0]["Details"])["reason"] == reason
    assert sum(r["IsDeleted"] for r in state(engine).values()) == 15


def test_a_change_far_above_the_usual_volume_is_refused(engine: DeltaEngine) -> None:
    rt = runtime(engine, "base")
    rt.runs.merge(ENTITY, TABLE, source(range(200)), layer="silver")
    for day in range(3):  # three ordinary days: 12 renames each
        renamed = set(range(day * 12 + 12))  # 12 more each day
        rtd = runtime(engine, f"d{day}")
        rtd.runs.merge(ENTITY, TABLE, source(range(200), renamed=renamed), layer="silver")
    rtx = runtime(engine, "bulk")
    with pytest.raises(
        fmd.DeletionLimitError,
        match=r"change 200 rows, 16.667x the usual 12 \(median of the last 3 merges; limit 3x\)",
    ):
        rtx.runs.merge(ENTITY, TABLE, source(range(200), tier=2), layer="silver")
    assert not any(r["Tier"] == 2 for r in state(engine).values())


def test_a_merge_killed_after_its_data_commit_and_re_run_changes_nothing(
    engine: DeltaEngine,
) -> None:
    faulty = FaultyEngine(engine)
    rt = runtime(faulty, "day1")  # type: ignore[arg-type]
    rt.runs.merge(ENTITY, TABLE, source(range(50)), layer="silver", mode="snapshot")
    day2 = source([*range(1, 50), 50, 51], renamed={7})
    faulty.fail(
        "merge", tables={TABLE}, when="after", error=InjectedFailure("driver lost"), times=1
    )
    rt2 = runtime(faulty, "day2")  # type: ignore[arg-type]
    with pytest.raises(InjectedFailure):
        rt2.runs.merge(
            ENTITY, TABLE, day2, layer="silver", mode="snapshot", watermark="2025-01-16T00:00:00Z"
        )
    ref = fmd.TableRef.parse(TABLE)
    landed, before = engine.version(ref), state(engine)
    # The re-run: a new notebook run of the same pipeline run (batch).
    rt3 = connect(faulty, "day2-retry", pipeline_run_id="pipe-day2")  # type: ignore[arg-type]
    again = rt3.runs.merge(
        ENTITY, TABLE, day2, layer="silver", mode="snapshot", watermark="2025-01-16T00:00:00Z"
    )
    assert not again.applied and not again.committed and again.version == landed
    assert engine.version(ref) == landed and state(engine) == before
    assert again.counts is not None and (again.counts.inserted, again.counts.deleted) == (2, 1)
    assert len(before) == 52 and sum(r["IsDeleted"] for r in before.values()) == 1
    assert rt3.runs.entries(ENTITY, "silver")[-1]["Status"] == "Succeeded"
    third = rt3.runs.merge(ENTITY, TABLE, day2, layer="silver", mode="snapshot")
    assert not third.applied and engine.version(ref) == landed


def test_an_upsert_updates_changed_rows_only_and_never_deletes(engine: DeltaEngine) -> None:
    rt = runtime(engine, "u1")
    rt.runs.merge(ENTITY, TABLE, source(range(10)), layer="silver")
    res = runtime(engine, "u2").runs.merge(
        ENTITY, TABLE, source([3, 4, 10], renamed={4}), layer="silver"
    )
    c = res.counts
    assert c is not None and (c.inserted, c.updated, c.unchanged, c.deleted) == (1, 1, 1, 0)
    assert res.rows_written == 2
    after = state(engine)
    assert len(after) == 11 and not any(r["IsDeleted"] for r in after.values())


def test_bad_input_is_refused_before_anything_is_committed(engine: DeltaEngine) -> None:
    runtime(engine, "good").runs.merge(ENTITY, TABLE, source(range(3)), layer="silver")
    rt = runtime(engine, "bad")
    version = engine.version(fmd.TableRef.parse(TABLE))
    dup = source([1, 2, 2])
    with pytest.raises(fmd.ContractViolation, match=r"AccountId.*duplicated.*\"AccountId\": 2"):
        rt.runs.merge(ENTITY, TABLE, dup, layer="silver")
    with pytest.raises(fmd.ConfigError, match="differ from the configured primary key"):
        rt.runs.merge(ENTITY, TABLE, source([1]), layer="silver", keys=["Name"])
    with pytest.raises(fmd.ConfigError, match="merge mode 'replace' is not valid"):
        rt.runs.merge(ENTITY, TABLE, source([1]), layer="silver", mode="replace")  # type: ignore[arg-type]
    rt.configure_table("silver.other", primary_key=["AccountId"])
    with pytest.raises(fmd.ConfigError, match="snapshot merge needs a deleted flag"):
        rt.runs.merge(ENTITY, "silver.other", source([1]), layer="silver", mode="snapshot")
    assert engine.version(fmd.TableRef.parse(TABLE)) == version
