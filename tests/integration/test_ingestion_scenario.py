"""A scripted incremental load over several runs with a failure injected between copy and commit.

Each run is what a bronze notebook does: guard, begin, copy the window from the source, write
exactly once, commit the watermark. The failure is injected at three points; in every case the
stored watermark never advances on the failed run, the re-run copies the window at most once,
and the target ends with every source key exactly once. Every scenario runs on every engine
(delta-rs; Spark + Delta under ``-m spark_delta``); the crash after the data commit is a
`FaultyEngine` fault on the real engine.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from engines import connect, keys

import fmd_runtime as fmd
from fmd_runtime.engine import Column, DeltaEngine
from fmd_runtime.testing import FaultyEngine
from fmd_runtime.watermarks import Window, high_from, to_native

ENTITY, TABLE = "crm.account", "bronze.account"
APP_ID = "fmd:bronze:crm.account"
DAY = datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
SCHEMA = pa.schema(
    [
        pa.field("AccountId", pa.int64(), nullable=False),
        pa.field("Name", pa.string()),
        pa.field("ModifiedOn", pa.timestamp("us", tz="UTC")),
    ]
)
COLUMNS = [
    Column(name="AccountId", type="bigint", nullable=False),
    Column(name="Name", type="string"),
    Column(name="ModifiedOn", type="timestamp"),
]


class InjectedFailure(RuntimeError):
    """The notebook died here."""


def crash_after_the_data_commit(engine: FaultyEngine) -> None:
    """Arm the next data write: it lands, then the driver is 'lost' (metadata writes unharmed)."""
    engine.fail(
        "write",
        tables={TABLE},
        when="after",
        error=InjectedFailure("driver lost right after the data commit"),
        times=1,
    )


class Source:
    """The source system: rows keyed by AccountId with a ModifiedOn cursor; counts window copies."""

    def __init__(self) -> None:
        self.rows = pa.Table.from_pylist([], schema=SCHEMA)
        self.copies: Counter[str | None] = Counter()

    def add(self, first: int, count: int, when: datetime) -> None:
        ids = list(range(first, first + count))
        new = pa.table(
            {"AccountId": ids, "Name": [f"A{i}" for i in ids], "ModifiedOn": [when] * count},
            schema=SCHEMA,
        )
        self.rows = pa.concat_tables([self.rows, new])

    def copy(self, w: Window) -> pa.Table:
        """SELECT * FROM Account WHERE <w.predicate('ModifiedOn')>, evaluated on the Arrow rows."""
        assert w.predicate("ModifiedOn").startswith("[ModifiedOn] >" if w.low else "1 = 1")
        self.copies[w.effective_low] += 1
        if w.effective_low is None:
            return self.rows
        low = pa.scalar(to_native(w.effective_low, "datetime"), SCHEMA.field("ModifiedOn").type)
        return self.rows.filter(pc.greater(self.rows["ModifiedOn"], low))


def run_pipeline(
    engine: FaultyEngine, source: Source, *, run_id: str, batch: str, fail_at: str | None = None
) -> str:
    """One notebook run; returns what it did: skipped, loaded or failed."""
    rt = connect(engine, run_id, pipeline_run_id=batch, triggered_by="test")
    try:
        if rt.runs.should_skip(ENTITY, "bronze"):
            return "skipped"
        w = rt.watermarks.begin(ENTITY, kind="datetime", table=TABLE, layer="bronze")
        rows = source.copy(w)
        high = high_from(rows, "ModifiedOn", "datetime")
        if fail_at == "before_write":
            raise InjectedFailure("notebook died after the copy, before the write")
        if fail_at == "after_landing":
            crash_after_the_data_commit(engine)
        res = rt.runs.write(ENTITY, TABLE, rows, layer="bronze", watermark=high)
        if fail_at == "before_commit":
            raise InjectedFailure("notebook died after the write, before the watermark commit")
        rt.watermarks.commit(w, high, table_version=res.version)
        return "loaded"
    except InjectedFailure:
        return "failed"
    finally:
        rt.close()


def account_table(engine: DeltaEngine) -> fmd.TableRef:
    ref = fmd.TableRef.parse(TABLE)
    engine.create(ref, COLUMNS)
    return ref


FAIL_POINTS = ["before_write", "after_landing", "before_commit"]
# Spark runs the failures between the data commit and the watermark commit (a four-run scenario
# costs ~40 commits there); the failure before any write involves no engine behaviour of its own.
SCENARIOS = [pytest.param("deltars", f, id=f"deltars-{f}") for f in FAIL_POINTS] + [
    pytest.param("spark", f, id=f"spark-{f}", marks=pytest.mark.spark_delta)
    for f in ("after_landing", "before_commit")
]


@pytest.mark.parametrize(("engine", "fail_at"), SCENARIOS, indirect=["engine"])
def test_incremental_load_with_a_failure_between_copy_and_commit(
    engine: DeltaEngine, fail_at: str
) -> None:
    faulty = FaultyEngine(engine)
    ref = account_table(engine)
    source = Source()
    watch = connect(engine, "observer")
    day1, day2, day3 = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)
    canon = {d: d.isoformat(timespec="microseconds") for d in (day1, day2, day3)}

    # run 1: the first load
    source.add(1, 5, day1)
    assert run_pipeline(faulty, source, run_id="run-1", batch="batch-1") == "loaded"
    assert watch.watermarks.current(ENTITY) == canon[day1]

    # run 2: new rows arrive; the run fails between copy and commit
    source.add(6, 3, day2)
    assert (
        run_pipeline(faulty, source, run_id="run-2", batch="batch-2", fail_at=fail_at) == "failed"
    )
    assert watch.watermarks.current(ENTITY) == canon[day1]  # never advanced on the failed run
    assert source.copies[canon[day1]] == 1

    # run 3: the re-run of batch 2
    outcome = run_pipeline(faulty, source, run_id="run-3", batch="batch-2")
    landed = keys(engine, ref, "AccountId")
    assert landed == list(range(1, 9)) and len(landed) == len(set(landed))  # no duplicate keys
    if fail_at == "before_write":
        # nothing landed: the re-run copies the same window once and loads it once
        assert outcome == "loaded" and source.copies[canon[day1]] == 2
        assert watch.watermarks.current(ENTITY) == canon[day2]
    elif fail_at == "after_landing":
        # the data landed but nobody recorded it: begin() recovers the watermark from the
        # commit's metadata instead of copying the window again
        assert outcome == "loaded" and source.copies[canon[day1]] == 1
        assert source.copies[canon[day2]] == 1  # the re-run's window starts after the landed load
        state = watch.watermarks.state(ENTITY)
        assert (state.operation, state.value) == (
            "Recover",
            canon[day2],
        )  # the new window was empty
        where = {"EntityId": ENTITY, "Operation": "Recover"}
        # the recovery is one ledger row that also carries the watermark (one commit)
        assert watch.store.read("Watermarks", where) == []
        recover = watch.runs.watermark_events(where)
        assert [r["Value"] for r in recover] == [canon[day2]] and recover[0]["RunId"] == "run-2"
    else:
        # the load completed in the ledger: the re-run skips it (audited); the watermark lags
        # until the next begin() recovers it from the landed commit
        assert outcome == "skipped" and source.copies[canon[day1]] == 1
        assert watch.watermarks.current(ENTITY) == canon[day1]
        watch.audit.flush()
        assert watch.store.read(
            "SyncAuditLog", {"Operation": "SkippedAlreadyProcessed", "RunId": "run-3"}
        )

    # run 4: the next day loads only the new rows
    source.add(9, 2, day3)
    assert run_pipeline(faulty, source, run_id="run-4", batch="batch-3") == "loaded"
    landed = keys(engine, ref, "AccountId")
    assert landed == list(range(1, 11)) and len(landed) == len(set(landed))
    assert watch.watermarks.current(ENTITY) == canon[day3]
    assert source.copies[canon[day1]] == (
        2 if fail_at == "before_write" else 1
    )  # never a third time
    # every appended version carried the entity's idempotent identity
    assert engine.transaction_version(ref, APP_ID) == len(
        [e for e in engine.history(ref) if e.user_metadata.get("fmd.entity") == ENTITY]
    )
    watch.close()


def test_a_retry_of_the_same_window_is_skipped_by_delta_when_recovery_is_off(
    engine: DeltaEngine,
) -> None:
    faulty = FaultyEngine(engine)
    ref = account_table(engine)
    source = Source()
    source.add(1, 4, DAY)
    rt = connect(faulty, "run-1", pipeline_run_id="batch-1")
    w = rt.watermarks.begin(ENTITY, kind="datetime", table=TABLE, layer="bronze")
    rows = source.copy(w)
    crash_after_the_data_commit(faulty)
    with pytest.raises(InjectedFailure):
        rt.runs.write(
            ENTITY, TABLE, rows, layer="bronze", watermark=high_from(rows, "ModifiedOn", "datetime")
        )
    rt.close()
    landed_version = engine.version(ref)
    assert engine.transaction_version(ref, APP_ID) == 1  # the data commit carried txn 1
    retry = connect(faulty, "run-2", pipeline_run_id="batch-1")
    w = retry.watermarks.begin(ENTITY, kind="datetime", table=TABLE, layer="bronze", recover=False)
    assert w.is_first_load
    rows = source.copy(w)  # the same window, copied again
    res = retry.runs.write(
        ENTITY, TABLE, rows, layer="bronze", watermark=high_from(rows, "ModifiedOn", "datetime")
    )
    assert not res.applied and res.txn_version == 1  # Delta already has txn 1 for this app id
    retry.watermarks.commit(w, high_from(rows, "ModifiedOn", "datetime"), table_version=res.version)
    assert keys(engine, ref, "AccountId") == [1, 2, 3, 4]
    assert engine.version(ref) == landed_version  # the retried write added no commit
    retry.close()


def test_a_repeated_idempotent_write_adds_nothing(engine: DeltaEngine) -> None:
    """The engine itself refuses a (txnAppId, txnVersion) it has seen: no rows, no commit."""
    from fmd_runtime.engine import CommitOptions

    ref = account_table(engine)
    data = pa.table(
        {"AccountId": [1, 2], "Name": ["A1", "A2"], "ModifiedOn": [DAY, DAY]}, schema=SCHEMA
    )
    commit = CommitOptions(metadata={"fmd.runId": "run-1"}, app_id=APP_ID, app_version=1)
    first = engine.write(ref, data, commit=commit)
    assert engine.write(ref, data, commit=commit) == first == engine.version(ref)
    assert keys(engine, ref, "AccountId") == [1, 2]
    assert engine.transaction_version(ref, APP_ID) == 1


def test_exactly_once_recovery_and_widening_on_every_engine(engine: DeltaEngine) -> None:
    """The same guarantees through the engine port, with a widening rewrite in between."""
    ref = fmd.TableRef.parse("bronze.account")
    engine.create(
        ref, [Column(name="Id", type="bigint", nullable=False), Column(name="Score", type="int")]
    )

    def data(ids: range, score_type: pa.DataType | None = None) -> pa.Table:
        score_type = score_type or pa.int32()  # the table's own type until the widening
        return pa.table(
            {"Id": pa.array(list(ids), pa.int64()), "Score": pa.array(list(ids), score_type)}
        )

    rt = connect(engine, "run-1", pipeline_run_id="batch-1")
    w = rt.watermarks.begin("acc", kind="int", table=ref.name, layer="bronze")
    first = rt.runs.write("acc", ref.name, data(range(1, 4)), layer="bronze", watermark="3")
    assert first.applied and first.txn_version == 1
    rt.close()  # the run dies before rt.watermarks.commit(w, "3")

    retry = connect(engine, "run-2", pipeline_run_id="batch-1")
    assert retry.runs.should_skip("acc", "bronze")
    again = retry.runs.write("acc", ref.name, data(range(1, 4)), layer="bronze", watermark="3")
    assert not again.applied and keys(engine, ref, "Id") == [1, 2, 3]
    retry.close()

    nxt = connect(engine, "run-3", pipeline_run_id="batch-2")
    w = nxt.watermarks.begin("acc", table=ref.name, layer="bronze")
    assert (w.recovered, w.low, w.predicate("Id")) == ("3", "3", "[Id] > 3")
    res = nxt.drift.enforce(data(range(4, 6), pa.int64()), ref.name, layer="bronze")
    assert res.evolved_version is not None
    out = nxt.runs.write(
        "acc", ref.name, res.frame, layer="bronze", watermark="5", schema_mode=res.schema_mode
    )
    assert out.applied and out.txn_version == 2
    assert nxt.watermarks.commit(w, "5", table_version=out.version) == "5"
    assert keys(engine, ref, "Id") == [1, 2, 3, 4, 5]
    assert [c.type for c in engine.snapshot(ref).columns] == ["bigint", "bigint"]
    assert engine.transaction_version(ref, "fmd:bronze:acc") == 2
    nxt.close()
