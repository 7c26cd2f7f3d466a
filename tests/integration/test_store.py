"""The metadata store on real Delta tables: ensure, batched writes, concurrency, typed reads,
on every engine (delta-rs; Spark + Delta under ``-m spark_delta``)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from engines import run_threads, size

import fmd_runtime as fmd
from fmd_runtime.engine import DeltaEngine, arrow_schema
from fmd_runtime.errors import ConfigError, EngineError, StoreError
from fmd_runtime.store import MetadataStore
from fmd_runtime.store.schemas import ALL_TABLES, CHECKPOINT_HISTORY
from fmd_runtime.testing import FaultyEngine


def audit_row(i: int, run: str = "r") -> dict:
    return {
        "EventId": f"e{i}",
        "EventTime": datetime(2025, 1, 15, tzinfo=timezone.utc),
        "RunId": run,
        "Operation": "Start",
        "Status": "Started",
        "Severity": "INFO",
    }


def test_ensure_creates_every_table_once_and_upgrades_missing_columns(engine: DeltaEngine) -> None:
    store = MetadataStore(engine, run_id="ensure-run")
    assert set(store.ensure()) == {t.name for t in ALL_TABLES}
    assert store.ensure() == []
    for t in ALL_TABLES:
        cols = engine.snapshot(store.ref(t.name)).columns
        assert [c.name for c in cols] == list(t.column_names)
        required = {c.name for c in t.columns if not c.nullable}
        assert {c.name for c in cols if not c.nullable} == required
    # the creating commits carry the run
    assert engine.history(store.ref("SyncAuditLog"))[0].user_metadata["fmd.runId"] == "ensure-run"
    # An older deployment without the newest columns gets them added, nothing else changes.
    ref = store.ref("CheckpointHistory")
    old = arrow_schema(CHECKPOINT_HISTORY.columns[:9])
    engine.write(ref, old.empty_table(), mode="overwrite", schema_mode="overwrite")
    assert [c.name for c in engine.snapshot(ref).columns] == list(
        CHECKPOINT_HISTORY.column_names[:9]
    )
    assert store.ensure() == ["CheckpointHistory"]
    assert [c.name for c in engine.snapshot(ref).columns] == list(CHECKPOINT_HISTORY.column_names)
    assert engine.history(ref)[0].user_metadata["fmd.runId"] == "ensure-run"  # ADD COLUMNS too


def test_buffer_writes_one_commit_per_flush(engine: DeltaEngine) -> None:
    store = MetadataStore(engine, buffer_rows=10_000)
    store.ensure()
    ref = store.ref("SyncAuditLog")
    v0 = store.engine.version(ref)
    buf = store.buffer("SyncAuditLog")
    for i in range(250):
        buf.add(audit_row(i))
    assert store.engine.version(ref) == v0  # nothing written yet
    assert store.flush() == {"SyncAuditLog": 250}
    assert store.engine.version(ref) == v0 + 1
    assert store.flush() == {}
    assert len(store.read("SyncAuditLog")) == 250


def test_concurrent_appends_from_eight_threads_lose_nothing(engine: DeltaEngine) -> None:
    threads, rows = size(engine, 8, 4), size(engine, 200, 25)
    store = MetadataStore(engine, buffer_rows=50)
    store.ensure()
    ref = store.ref("SyncAuditLog")
    v0 = engine.version(ref)
    buf = store.buffer("SyncAuditLog")

    def worker(t: int) -> None:
        for i in range(rows):
            store.buffer("SyncAuditLog").add(audit_row(t * 1000 + i, run=f"run{t}"))

    run_threads(threads, worker)
    store.flush()
    rows_read = store.read("SyncAuditLog", columns=["EventId", "RunId"])
    assert len(rows_read) == threads * rows
    assert len({r["EventId"] for r in rows_read}) == threads * rows
    assert {r["RunId"] for r in rows_read} == {f"run{t}" for t in range(threads)}
    assert buf.commits >= threads * rows // 50  # flushed when full, from whichever thread
    assert engine.version(ref) - v0 == buf.commits  # one commit per flush


def test_direct_concurrent_appends_each_commit(engine: DeltaEngine) -> None:
    threads, appends = size(engine, 8, 3), size(engine, 5, 2)
    store = MetadataStore(engine)
    store.ensure()
    ref = store.ref("SyncAuditLog")
    v0 = engine.version(ref)

    def worker(t: int) -> None:
        for i in range(appends):
            store.append("SyncAuditLog", [audit_row(t * 100 + i * 10 + j) for j in range(10)])

    run_threads(threads, worker)
    assert len(store.read("SyncAuditLog", columns=["EventId"])) == threads * appends * 10
    assert engine.version(ref) - v0 == threads * appends  # one commit per append


def test_rows_are_validated_before_they_are_queued(engine: DeltaEngine) -> None:
    store = MetadataStore(engine)
    with pytest.raises(StoreError, match="unknown column"):
        store.buffer("SyncAuditLog").add({**audit_row(1), "Bogus": 1})
    with pytest.raises(StoreError, match="RunId"):
        store.append("SyncAuditLog", [{k: v for k, v in audit_row(1).items() if k != "RunId"}])
    with pytest.raises(StoreError, match="unknown metadata table"):
        store.read("NoSuchTable")


def test_failed_flush_keeps_rows(engine: DeltaEngine) -> None:
    faulty = FaultyEngine(engine)  # the fault injected into the real engine
    faulty.fail(
        "write",
        tables={"SyncAuditLog"},
        error=lambda t: EngineError("storage unavailable", table=t.name if t else None),
    )
    store = MetadataStore(faulty)
    store.ensure()
    buf = store.buffer("SyncAuditLog")
    for i in range(5):
        buf.add(audit_row(i))
    with pytest.raises(StoreError, match="storage unavailable"):
        buf.flush()
    assert len(buf) == 5
    faulty.clear()
    assert buf.flush() == 5
    assert len(store.read("SyncAuditLog")) == 5


def test_read_filters_bind_values_and_update(engine: DeltaEngine) -> None:
    store = MetadataStore(engine)
    store.append(
        "CheckpointHistory",
        [
            {
                "CheckpointId": f"id{i}",
                "CheckpointName": f"bronze_backup_2025-01-1{i}' OR '1'='1"
                if i == 2
                else f"bronze_backup_2025-01-1{i}",
                "CheckpointType": "Daily",
                "CreatedDate": datetime(2025, 1, 10 + i, tzinfo=timezone.utc),
                "TablesIncluded": 1,
                "ValidationStatus": "Validated",
                "RetentionDate": date(2025, 1, 20 + i),
                "IsActive": True,
            }
            for i in range(4)
        ],
    )
    assert [
        r["CheckpointId"]
        for r in store.read("CheckpointHistory", {"CheckpointName": "bronze_backup_2025-01-11"})
    ] == ["id1"]
    assert len(store.read("CheckpointHistory", {"CheckpointName": "x' OR '1'='1"})) == 0
    rows = store.read(
        "CheckpointHistory",
        {"CheckpointId": ["id0", "id3"]},
        order_by="CreatedDate",
        descending=True,
    )
    assert [r["CheckpointId"] for r in rows] == ["id3", "id0"]
    assert rows[0]["CreatedDate"].tzinfo is not None
    assert (
        store.update("CheckpointHistory", {"CheckpointId": ["id0", "id1"]}, {"IsActive": False})
        == 2
    )
    assert {r["CheckpointId"] for r in store.read("CheckpointHistory", {"IsActive": True})} == {
        "id2",
        "id3",
    }
    assert store.read("CheckpointHistory", {"Notes": None}, columns=["CheckpointId"]) != []


def test_configure_table_upserts_one_row(any_rt: fmd.Runtime) -> None:
    rt = any_rt
    cfg = rt.configure_table(
        "bronze.account",
        primary_key=["AccountId"],
        deleted_flag="IsDeleted",
        purged_flag="IsPurged",
    )
    assert cfg.has_tracking and cfg.primary_key == ["AccountId"]
    again = rt.configure_table(
        "bronze.account", vacuum_retention_hours=240, related_tables=["bronze.donation"]
    )
    assert again.primary_key == ["AccountId"] and again.vacuum_retention_hours == 240
    rows = rt.store.read("PipelineConfig")
    assert (
        len(rows) == 1
        and rows[0]["VacuumRetentionHours"] == 240
        and rows[0]["RelatedTables"] == "bronze.donation"
    )
    assert rt.table_config("bronze.account") == again
    assert rt.table_config("bronze.unknown").vacuum_retention_hours == 168
    with pytest.raises(ConfigError, match="unknown configuration key"):
        rt.configure_table("bronze.account", retention=3)
    assert [c.table for c in rt.table_configs()] == ["bronze.account"]
    # the store's commits carry the run (UPDATE as well as WRITE)
    history = rt.engine.history(rt.store.ref("PipelineConfig"))
    assert history[0].operation in {"UPDATE", "MERGE"}
    assert history[0].user_metadata["fmd.runId"] == rt.context.run_id
    assert {"fmd.runId": rt.context.run_id}.items() <= history[1].user_metadata.items()
