"""Commit economy on every engine: an entity load makes at most one commit to the ingestion state
(``EntityRuns`` and ``Watermarks`` together) besides its data commit, a notebook that loads many
entities one for all of them, and a crash at each step of the protocol loses nothing and
duplicates nothing on re-run (data rows, watermark, ledger). Commits are counted from the
tables' own Delta versions."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from engines import connect, keys

import fmd_runtime as fmd
from fmd_runtime.engine import Column, DeltaEngine
from fmd_runtime.testing import FaultyEngine, ProcessKilled, kill

TABLE, LAYER = "bronze.account", "bronze"
STATE = ("EntityRuns", "Watermarks")


def ids(n0: int, n: int) -> pa.Table:
    return pa.table({"Id": pa.array(range(n0, n0 + n), pa.int64())})


def versions(rt: fmd.Runtime, names: tuple[str, ...] = (*STATE, "SyncAuditLog")) -> dict[str, int]:
    return {n: rt.engine.version(rt.store.ref(n)) for n in names}


def moved(before: dict[str, int], after: dict[str, int], names: tuple[str, ...] = STATE) -> int:
    """Commits made to ``names`` between two readings of their versions."""
    return sum(after[n] - before[n] for n in names)


def setup(engine: DeltaEngine, tables: list[str]) -> fmd.Runtime:
    rt = connect(engine, "setup")
    for t in tables:
        rt.engine.create(rt.table(t), [Column(name="Id", type="bigint")])
    return rt


def load(rt: fmd.Runtime, entity: str, table: str, source: pa.Table) -> str:
    """One entity's load, the notebook way: guard, window, exactly-once write, commit."""
    if rt.runs.should_skip(entity, LAYER):
        return "skipped"
    w = rt.watermarks.begin(entity, kind="int", table=table, layer=LAYER)
    low = int(w.low) if w.low is not None else -1
    rows = source.filter(pc.greater(source["Id"], low))
    high = rt.watermarks.high_from(rows, "Id", "int")
    res = rt.runs.write(entity, table, rows, layer=LAYER, watermark=high)
    rt.watermarks.commit(w, high, table_version=res.version)
    return "loaded" if res.applied else "landed before"


def notebook(engine: DeltaEngine, run: str, batch: str, source: pa.Table) -> str:
    """A one-entity notebook (as a pipeline ForEach runs them): the load in its activity."""
    rt = connect(engine, run, pipeline_run_id=batch)
    try:
        with rt.audit.activity("LoadBronze", entity="account", table=TABLE, layer=LAYER):
            return load(rt, "account", TABLE, source)
    finally:
        rt.close()


def test_a_load_costs_one_ingestion_commit_and_a_notebook_of_many_one_for_all(
    engine: DeltaEngine,
) -> None:
    tables = [f"bronze.t{i}" for i in range(4)]
    rt = setup(engine, [TABLE, *tables])
    before, data = versions(rt), rt.engine.version(rt.table(TABLE))

    assert notebook(engine, "nb-1", "batch-1", ids(1, 5)) == "loaded"
    after = versions(rt)
    assert rt.engine.version(rt.table(TABLE)) == data + 1  # its data commit
    assert moved(before, after) == 1  # ledger and watermark: one commit
    assert moved(before, after, ("SyncAuditLog",)) <= 2  # the Start at once, the rest at the end
    assert rt.watermarks.current("account") == "5"
    (row,) = [r for r in rt.runs.entries("account", LAYER) if r["Status"] == "Succeeded"]
    assert (row["WatermarkEvent"], row["WatermarkValue"], row["PreviousWatermark"]) == (
        "Commit",
        "5",
        None,
    )

    # without an activity: still one (the completion waits for the watermark commit)
    bare = connect(engine, "bare", pipeline_run_id="batch-2")
    before = versions(rt)
    assert load(bare, "account", TABLE, ids(1, 8)) == "loaded"
    assert moved(before, versions(rt)) == 1
    bare.close()
    assert rt.watermarks.current("account") == "8" and keys(engine, TABLE, "Id") == [*range(1, 9)]

    # a notebook that loads many entities: one commit for all of them, at the end
    many = connect(engine, "many", pipeline_run_id="batch-3")
    before = versions(rt)
    with many.audit.activity("LoadBronzeFanOut", layer=LAYER):
        for i, t in enumerate(tables):
            assert load(many, f"e{i}", t, ids(1, 3)) == "loaded"
            assert many.watermarks.current(f"e{i}") == "3"  # read back before it is written
            assert many.runs.should_skip(f"e{i}", LAYER)
        assert moved(before, versions(rt)) == 0  # held while the activity is open
    many.close()
    assert moved(before, versions(rt)) == 1
    assert [rt.watermarks.current(f"e{i}") for i in range(4)] == ["3"] * 4


class Step:
    """Where the notebook dies: armed on the real engine through `FaultyEngine`."""

    def __init__(self, method: str, table: str, when: str) -> None:
        self.method, self.table, self.when = method, table, when

    def arm(self, engine: FaultyEngine) -> None:
        engine.fail(self.method, tables={self.table}, when=self.when, error=ProcessKilled(), times=1)  # type: ignore[arg-type]


CRASHES = {
    "before_the_data_commit": Step("write", TABLE, "before"),
    "after_the_data_commit": Step("write", TABLE, "after"),
    "during_the_ingestion_commit": Step("write", "metadata.EntityRuns", "before"),
    "after_the_ingestion_commit": Step("write", "metadata.EntityRuns", "after"),
}


def crash_and_rerun(engine: DeltaEngine, step: Step) -> tuple[fmd.Runtime, str]:
    """Day 1 loads 1-5; day 2's notebook (1-9) dies at ``step``; its batch is re-run."""
    faulty = FaultyEngine(engine)
    rt = setup(faulty, [TABLE])
    assert notebook(faulty, "day-1", "batch-1", ids(1, 5)) == "loaded"
    step.arm(faulty)
    dying = connect(faulty, "day-2", pipeline_run_id="batch-2")
    with pytest.raises(ProcessKilled):
        with dying.audit.activity("LoadBronze", entity="account", table=TABLE, layer=LAYER):
            load(dying, "account", TABLE, ids(1, 9))
    kill(dying)  # what it held is lost with the process
    faulty.clear()
    return rt, notebook(faulty, "day-2-rerun", "batch-2", ids(1, 9))


def assert_once(rt: fmd.Runtime) -> None:
    landed = keys(rt.engine, TABLE, "Id")
    assert landed == list(range(1, 10))  # every row, none twice
    assert rt.watermarks.current("account") == "9"
    done = [
        r
        for r in rt.runs.entries("account", LAYER)
        if r["Status"] == "Succeeded" and r.get("BatchId") == "batch-2" and not r["Invalidated"]
    ]
    assert len(done) == 1  # one completion of the batch's load
    assert rt.runs.should_skip("account", LAYER, batch_id="batch-2")


@pytest.mark.parametrize("step", list(CRASHES))
def test_a_crash_at_each_step_loses_nothing_and_duplicates_nothing(
    engine: DeltaEngine, step: str
) -> None:
    rt, outcome = crash_and_rerun(engine, CRASHES[step])
    assert_once(rt)
    expected = {
        "before_the_data_commit": "loaded",  # nothing landed: loaded now
        "after_the_data_commit": "landed before",  # begin() recovered it; the write skipped
        "during_the_ingestion_commit": "landed before",
        "after_the_ingestion_commit": "skipped",  # the ledger knew: the guard skipped it
    }
    assert outcome == expected[step]


def test_a_crash_after_the_data_commit_is_completed_from_the_commit_in_one_row(
    engine: DeltaEngine,
) -> None:
    rt, outcome = crash_and_rerun(engine, CRASHES["after_the_data_commit"])
    assert outcome == "landed before"
    assert_once(rt)
    (recovered,) = rt.runs.watermark_events({"EntityId": "account", "Operation": "Recover"})
    assert (recovered["Value"], recovered["RunId"]) == ("9", "day-2")  # the run that landed it
    assert rt.store.read("Watermarks", {"EntityId": "account"}) == []  # ledger rows only


def test_a_retry_in_the_same_run_after_a_failure_raised_past_the_commit_writes_nothing_twice(
    engine: DeltaEngine,
) -> None:
    faulty = FaultyEngine(engine)
    rt = setup(faulty, [TABLE])
    loader = connect(faulty, "run-1", pipeline_run_id="batch-1")
    faulty.fail("write", tables={TABLE}, when="after", error=ConnectionError("reset"), times=1)
    with pytest.raises(ConnectionError):
        loader.runs.write("account", TABLE, ids(1, 3), layer=LAYER)
    res: Any = loader.runs.write("account", TABLE, ids(1, 3), layer=LAYER)  # the retry
    assert (res.applied, res.txn_version) == (False, 1)
    assert keys(faulty, TABLE, "Id") == [1, 2, 3]
    statuses = [r["Status"] for r in loader.runs.entries("account", LAYER)]
    assert statuses == ["Failed", "Succeeded"]
    loader.close()
    rt.close()
