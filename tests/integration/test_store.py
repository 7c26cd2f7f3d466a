"""The metadata store on real Delta tables: ensure, batched writes, concurrency, typed reads."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest

from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import ConfigError, StoreError
from fmd_runtime.store import MetadataStore
from fmd_runtime.store.schemas import ALL_TABLES


def audit_row(i: int, run: str = "r") -> dict:
    return {
        "EventId": f"e{i}",
        "EventTime": datetime(2025, 1, 15, tzinfo=timezone.utc),
        "RunId": run,
        "Operation": "Start",
        "Status": "Started",
        "Severity": "INFO",
    }


def test_ensure_creates_every_table_once_and_upgrades_missing_columns(lakehouse) -> None:
    engine = DeltaRsEngine(lakehouse)
    store = MetadataStore(engine)
    assert set(store.ensure()) == {t.name for t in ALL_TABLES}
    assert store.ensure() == []
    for t in ALL_TABLES:
        cols = engine.snapshot(store.ref(t.name)).columns
        assert [c.name for c in cols] == list(t.column_names)
        required = {c.name for c in t.columns if not c.nullable}
        assert {c.name for c in cols if not c.nullable} == required
    # An older deployment without the newest columns gets them added, nothing else changes.
    ref = store.ref("CheckpointHistory")
    (lakehouse / "Tables" / "metadata" / "CheckpointHistory").rename(lakehouse / "old")
    from fmd_runtime.store.schemas import CHECKPOINT_HISTORY

    engine.create(ref, CHECKPOINT_HISTORY.columns[:9])
    assert store.ensure() == ["CheckpointHistory"]
    assert [c.name for c in engine.snapshot(ref).columns] == list(CHECKPOINT_HISTORY.column_names)


def test_buffer_writes_one_commit_per_flush(lakehouse) -> None:
    store = MetadataStore(DeltaRsEngine(lakehouse), buffer_rows=10_000)
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


def test_concurrent_appends_from_eight_threads_lose_nothing(lakehouse) -> None:
    store = MetadataStore(DeltaRsEngine(lakehouse), buffer_rows=50)
    store.ensure()
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            buf = store.buffer("SyncAuditLog")
            for i in range(200):
                buf.add(audit_row(t * 1000 + i, run=f"run{t}"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    store.flush()
    assert not errors
    rows = store.read("SyncAuditLog", columns=["EventId", "RunId"])
    assert len(rows) == 1600
    assert len({r["EventId"] for r in rows}) == 1600
    assert {r["RunId"] for r in rows} == {f"run{t}" for t in range(8)}


def test_direct_concurrent_appends_each_commit(lakehouse) -> None:
    store = MetadataStore(DeltaRsEngine(lakehouse))
    store.ensure()

    def worker(t: int) -> None:
        for i in range(5):
            store.append("SyncAuditLog", [audit_row(t * 100 + i * 10 + j) for j in range(10)])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store.read("SyncAuditLog", columns=["EventId"])) == 400


def test_rows_are_validated_before_they_are_queued(lakehouse) -> None:
    store = MetadataStore(DeltaRsEngine(lakehouse))
    with pytest.raises(StoreError, match="unknown column"):
        store.buffer("SyncAuditLog").add({**audit_row(1), "Bogus": 1})
    with pytest.raises(StoreError, match="RunId"):
        store.append("SyncAuditLog", [{k: v for k, v in audit_row(1).items() if k != "RunId"}])
    with pytest.raises(StoreError, match="unknown metadata table"):
        store.read("NoSuchTable")


def test_failed_flush_keeps_rows(lakehouse) -> None:
    class FailingEngine(DeltaRsEngine):
        fail = True

        def write(self, table, data, **kw):  # fault injected into the real engine
            if self.fail and table.table == "SyncAuditLog":
                from fmd_runtime.errors import EngineError

                raise EngineError("storage unavailable", table=table.name)
            return super().write(table, data, **kw)

    engine = FailingEngine(lakehouse)
    store = MetadataStore(engine)
    store.ensure()
    buf = store.buffer("SyncAuditLog")
    for i in range(5):
        buf.add(audit_row(i))
    with pytest.raises(StoreError, match="storage unavailable"):
        buf.flush()
    assert len(buf) == 5
    engine.fail = False
    assert buf.flush() == 5
    assert len(store.read("SyncAuditLog")) == 5


def test_read_filters_bind_values_and_update(lakehouse) -> None:
    store = MetadataStore(DeltaRsEngine(lakehouse))
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


def test_configure_table_upserts_one_row(rt) -> None:
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
