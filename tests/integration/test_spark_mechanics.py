"""Spark + Delta mechanics the scenario suites rely on (Spark only, under ``-m spark_delta``).

- Commit metadata: every kind of commit the library makes on Spark (CREATE TABLE, CTAS, WRITE,
  UPDATE, ADD COLUMNS, SET TBLPROPERTIES, OPTIMIZE, RESTORE) carries its caller's ``fmd.runId``,
  also when four threads commit at once on one session, each with its own run id: the session's
  ``commitInfo.userMetadata`` conf is shared, so no commit may pick up another thread's.
- RESTORE rewinds table properties; the rollback path puts the retention properties back.
- Spark's errors map to the FmdError tree: a commit conflict is a `ConcurrentWriteError` that
  `fmd_runtime.retry` retries; a missing data file and an unreadable protocol are engine errors
  (`EngineError`) that are not retried.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, keys, rows, run_threads, table_dir

from fmd_runtime.checkpoints import BASELINE_PREFIX
from fmd_runtime.engine import DELETED_FILE_RETENTION, Column, CommitOptions, arrow_schema
from fmd_runtime.engine.spark import SparkEngine
from fmd_runtime.errors import ConcurrentWriteError, EngineError, TableNotFoundError
from fmd_runtime.retry import RetryStats, is_transient, retrying
from fmd_runtime.rollback._execute import restore_table
from fmd_runtime.tables import TableRef

SPARK = [pytest.param("spark", marks=pytest.mark.spark_delta)]
COLUMNS = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]


def batch(ids: range, name: str = "n") -> pa.Table:
    return pa.table(
        {"Id": list(ids), "Name": [f"{name}{i}" for i in ids]}, schema=arrow_schema(COLUMNS)
    )


def table_with_rows(engine: SparkEngine, name: str, ids: range = range(4)) -> TableRef:
    ref = TableRef.parse(name)
    engine.create(ref, COLUMNS)
    engine.write(ref, batch(ids))
    return ref


# -- (a) commit metadata ------------------------------------------------------------------------
def _two_files(engine: SparkEngine) -> Any:
    return engine.spark.range(0, 4, 1, 2).selectExpr("id AS Id", "'n' AS Name")


def _created_updated(own: SparkEngine, ref: TableRef, commit: CommitOptions) -> None:
    own.create(ref, COLUMNS, commit=commit)
    own.write(ref, batch(range(4)), commit=commit)  # metadata as an option of the write
    own.update(ref, {"Id": 1}, {"Name": "u"}, commit=commit)


def _added_columns(own: SparkEngine, ref: TableRef, commit: CommitOptions) -> None:
    own.write(ref, batch(range(4)), commit=commit)  # creates the table: CTAS
    own.add_columns(ref, [Column(name="Extra", type="string")], commit=commit)
    own.write(ref, batch(range(4, 6)))  # no metadata of its own, and none of another thread


def _optimized(own: SparkEngine, ref: TableRef, commit: CommitOptions) -> None:
    own.write(ref, _two_files(own), commit=commit)
    assert own.optimize(ref, commit=commit).files_removed == 2  # OPTIMIZE committed


def _restored(own: SparkEngine, ref: TableRef, commit: CommitOptions) -> None:
    own.write(ref, batch(range(4)), commit=commit)
    own.set_properties(ref, {"fmd.test.run": str(commit.metadata["fmd.runId"])}, commit=commit)
    own.restore(ref, 0, commit=commit)


# each thread's commits (newest first) and the run id each carries (None: no metadata given)
THREADS = [
    (_created_updated, ["UPDATE", "WRITE", "CREATE TABLE"], [True] * 3),
    (_added_columns, ["WRITE", "ADD COLUMNS", "CREATE TABLE AS SELECT"], [False, True, True]),
    (_optimized, ["OPTIMIZE", "CREATE TABLE AS SELECT"], [True] * 2),
    (_restored, ["RESTORE", "SET TBLPROPERTIES", "CREATE TABLE AS SELECT"], [True] * 3),
]


@pytest.mark.parametrize("engine", SPARK, indirect=True)
def test_every_kind_of_commit_carries_its_own_run_id_from_four_threads(
    engine: SparkEngine,
) -> None:
    """Four threads on one session, each with its adapter and run id, commit at once."""

    def work(t: int) -> None:
        own = SparkEngine(engine.spark)  # a Runtime of its own: its own adapter, the same session
        commit = CommitOptions(metadata={"fmd.runId": f"run-{t}"})
        THREADS[t][0](own, TableRef.parse(f"mech{t}.t"), commit)

    run_threads(len(THREADS), work)
    for t, (_, operations, stamped) in enumerate(THREADS):
        history = engine.history(TableRef.parse(f"mech{t}.t"))
        assert [e.operation for e in history] == operations
        runs = [e.user_metadata.get("fmd.runId") for e in history]
        assert runs == [f"run-{t}" if s else None for s in stamped], operations
    assert engine.spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None


# -- (b) RESTORE and table properties -----------------------------------------------------------
@pytest.mark.parametrize("engine", SPARK, indirect=True)
def test_restore_rewinds_properties_and_the_rollback_puts_retention_back(
    engine: SparkEngine,
) -> None:
    ref = table_with_rows(engine, "mech.props")  # v0 create, v1 write
    # after version 1: the retention a restore point needs, and a property of no one's
    retention = {
        DELETED_FILE_RETENTION: "interval 10 days",
        BASELINE_PREFIX + DELETED_FILE_RETENTION: "default",
    }
    engine.set_properties(ref, {**retention, "fmd.test.late": "1"})  # v2
    rt = connect(engine, "rollback-run", ensure=False)
    ex = SimpleNamespace(plan=SimpleNamespace(checkpoint_name="cp", checkpoint_id="cp-1"))
    # the rollback path: RESTORE to version 1 (v3), then the rewound retention put back (v4)
    outcome = restore_table(rt, ex, SimpleNamespace(table=ref.name, pinned_version=1))
    assert outcome.properties_kept == retention  # RESTORE had taken them away
    props = engine.properties(ref)
    assert {k: props.get(k) for k in retention} == retention
    assert "fmd.test.late" not in props  # rewound by RESTORE, and not put back
    assert outcome.version_after == engine.version(ref) == 4
    last = engine.history(ref, 2)
    assert [e.operation for e in last] == ["SET TBLPROPERTIES", "RESTORE"]
    assert [e.user_metadata.get("fmd.rollbackRunId") for e in last] == ["rollback-run"] * 2
    assert keys(engine, ref, "Id") == [0, 1, 2, 3]


# -- (c) errors ---------------------------------------------------------------------------------
def _wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("engine", SPARK, indirect=True)
def test_a_commit_conflict_is_a_concurrent_write_error_and_is_retried(
    engine: SparkEngine, tmp_path: Path
) -> None:
    from pyspark.sql import functions as F

    ref = table_with_rows(engine, "mech.conflict")
    started, go = str(tmp_path / "started"), str(tmp_path / "go")

    @F.udf(returnType="bigint", useArrow=False)
    def held(value: int) -> int:  # runs in a Python worker while the overwrite's txn is open
        import os
        import time

        open(started, "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    # one partition: the held task takes one of local[2]'s two slots, the UPDATE gets the other
    data = engine.spark.range(0, 4, 1, 1).select(
        held("id").alias("Id"), F.concat(F.lit("o"), F.col("id").cast("string")).alias("Name")
    )
    stats, seen, done = RetryStats(), [], []

    @retrying("table_operation", wait_seconds=0, stats=stats)
    def overwrite() -> int:
        try:
            return engine.write(
                ref, data, mode="overwrite", commit=CommitOptions(metadata={"fmd.runId": "w"})
            )
        except Exception as exc:
            seen.append(exc)
            raise

    writer = threading.Thread(target=lambda: done.append(overwrite()))
    writer.start()
    try:
        _wait_for(Path(started))  # the overwrite has read the table and is writing its files
        engine.update(ref, {"Id": 1}, {"Name": "u"}, commit=CommitOptions(metadata={"x": "u"}))
    finally:
        Path(go).touch()
        writer.join(180)
    assert not writer.is_alive() and done, seen
    (error,) = seen
    assert isinstance(error, ConcurrentWriteError) and error.transient and is_transient(error)
    # Delta's conflict, converted to its Python class or still a py4j error (Spark 4.1)
    conflicts = ("ConcurrentAppend", "ConcurrentDeleteRead", "ConcurrentDeleteDelete")
    assert any(n in f"{type(error.__cause__).__name__} {error.__cause__}" for n in conflicts)
    assert any(n in error.message for n in conflicts)  # named in the message either way
    assert (stats.attempts, stats.retries, stats.errors) == (2, 1, ["ConcurrentWriteError"])
    assert rows(engine, ref, "Id") == [{"Id": i, "Name": f"o{i}"} for i in range(4)]


def _not_retried(engine: SparkEngine, ref: TableRef) -> EngineError:
    """Read the table under the retry policy; return its error after checking it ran once."""
    calls: list[int] = []

    @retrying("table_operation", wait_seconds=0)
    def read() -> Any:
        calls.append(1)
        return rows(engine, ref, "Id")

    with pytest.raises(EngineError) as info:
        read()
    assert calls == [1]  # not retried
    error = info.value
    assert not isinstance(error, (ConcurrentWriteError, TableNotFoundError))
    assert not error.transient and not is_transient(error) and error.__cause__ is not None
    return error


@pytest.mark.parametrize("engine", SPARK, indirect=True)
def test_a_missing_data_file_is_an_engine_error_that_is_not_retried(engine: SparkEngine) -> None:
    ref = table_with_rows(engine, "mech.missing")
    (gone,) = [f.path for f in engine.files(ref)]
    (table_dir(engine, ref) / gone).unlink()
    assert engine.missing_files(ref) == [gone]
    error = _not_retried(engine, ref)
    assert "query failed" in error.message


def _unknown_reader_feature(current: dict[str, Any]) -> dict[str, Any]:
    features = sorted({*current["readerFeatures"], "fmdUnknownFeature"})
    writer = sorted({*current["writerFeatures"], *features})
    return {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": features,
        "writerFeatures": writer,
    }


def _reader_version_beyond_support(current: dict[str, Any]) -> dict[str, Any]:
    return {
        "minReaderVersion": 4,
        "minWriterVersion": 7,
        "readerFeatures": [],
        "writerFeatures": [],
    }


@pytest.mark.parametrize("engine", SPARK, indirect=True)
@pytest.mark.parametrize("protocol", [_unknown_reader_feature, _reader_version_beyond_support])
def test_an_unreadable_protocol_is_an_engine_error_that_is_not_retried(
    engine: SparkEngine, protocol: Any
) -> None:
    ref = table_with_rows(engine, "mech.protocol")
    snap = engine.snapshot(ref).protocol
    current = {"readerFeatures": snap.reader_features, "writerFeatures": snap.writer_features}
    # a newer writer upgraded the table's protocol: the commit it left in the log
    commit = table_dir(engine, ref) / "_delta_log" / f"{engine.version(ref) + 1:020d}.json"
    info = {"timestamp": int(time.time() * 1000), "operation": "UPGRADE PROTOCOL"}
    commit.write_text(
        json.dumps({"commitInfo": info}) + "\n" + json.dumps({"protocol": protocol(current)}) + "\n"
    )
    try:
        error = _not_retried(engine, ref)
        assert "DELTA_" in error.message  # Spark's error class travels in the message
    finally:
        os.unlink(commit)  # the catalog can drop the table again
