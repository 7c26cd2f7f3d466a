"""Batch checkpoints never pin a half-loaded batch (issue 16), on every engine.

A load of the batch still in flight makes the checkpoint wait, then (past the limit) record itself
``InFlight``: never a rollback target, an alert naming the table and the run. Every pinned table
records the load its version reflects; a table pinned before its own load of the batch fails.
The stalled notebook is a real load on the real engine, held inside its data write.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime.engine import Column, TableRef
from fmd_runtime.errors import ConfigError
from fmd_runtime.testing import FaultyEngine

BATCH = "batch-2025-01-15"
TABLES = ["bronze.account", "bronze.contact"]
COLUMNS = [Column(name="Id", type="bigint"), Column(name="IsDeleted", type="boolean")]


def rows(n0: int, n: int) -> pa.Table:
    return pa.table({"Id": pa.array(range(n0, n0 + n), pa.int64()), "IsDeleted": [False] * n})


@dataclass
class HeldLoad:
    """A stalled load on the real engine, through `FaultyEngine` hooks: a load's data write into
    ``table`` waits until ``release`` is set (``held`` says it started); `after_next_read` runs
    something once right after the next snapshot of that table is read."""

    engine: FaultyEngine
    table: str
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        def stall(table: TableRef | None, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
            if not self.release.is_set():
                self.held.set()
                assert self.release.wait(300), "the held load was never released"

        def loading(table: TableRef | None, args: tuple[Any, ...], kw: dict[str, Any]) -> bool:
            commit = kw.get("commit")
            return commit is not None and commit.app_id is not None  # `rt.runs.write`'s data

        self.engine.on("write", stall, tables={self.table}, match=loading)

    def after_next_read(self, hook: Callable[[], Any]) -> None:
        self.engine.on(
            "snapshot", lambda t, a, kw: hook(), tables={self.table}, when="after", times=1
        )


@pytest.fixture
def held(engine: Any) -> Iterator[HeldLoad]:
    stalled = HeldLoad(FaultyEngine(engine), "bronze.contact")
    yield stalled
    stalled.release.set()


def runtime(engine: Any, run_id: str) -> fmd.Runtime:
    return fmd.connect(
        engine=engine,
        run_id=run_id,
        pipeline_run_id=BATCH,
        triggered_by="pytest",
        config={"checkpoint_load_poll_seconds": 0.1},
    )


def prepare(engine: Any) -> fmd.Runtime:
    rt = runtime(engine, "checkpoint-run")
    for name in TABLES:
        rt.engine.create(rt.table(name), COLUMNS)
        rt.engine.write(rt.table(name), rows(1, 5))  # yesterday's state, no library load
    return rt


def load(engine: Any, run_id: str, table: str, n0: int) -> Any:
    loader = runtime(engine, run_id)
    entity = table.split(".")[1]
    try:
        # the notebook pattern: the load in its activity, whose Start is written at once
        with loader.audit.activity("LoadBronze", entity=entity, table=table, layer="bronze"):
            return loader.runs.write(entity, table, rows(n0, 3), layer="bronze")
    finally:
        loader.close()


def test_a_load_in_flight_is_waited_for_then_the_checkpoint_is_inflight_and_names_it(
    held: HeldLoad,
) -> None:
    rt = prepare(held.engine)
    account = load(held.engine, "load-account", "bronze.account", 100)
    stalled = threading.Thread(
        target=load, args=(held.engine, "load-contact", "bronze.contact", 200)
    )
    stalled.start()
    assert held.held.wait(300)

    start = time.monotonic()
    cp = rt.checkpoints.create(TABLES, kind="DailyBatch", wait_for_loads_seconds=1.0)
    assert time.monotonic() - start >= 1.0  # it waited for the load before pinning
    assert cp is not None and cp.validation_status == "InFlight"
    assert cp.batch_id == BATCH and not cp.is_restore_target
    assert cp.pin_window_start is not None and cp.pin_window_end is not None
    assert cp.pin_window_start <= cp.pin_window_end
    pinned = {t.table: t for t in cp.tables}
    assert pinned["bronze.account"].load_batch_id == BATCH
    assert pinned["bronze.account"].load_version == account.version
    assert pinned["bronze.contact"].load_version is None  # its load has not landed
    assert "no library load" in pinned["bronze.contact"].load_text(BATCH)

    checks = rt.store.read("DataValidation", {"CheckpointId": cp.checkpoint_id})
    (check,) = [c for c in checks if not c["ValidationPassed"]]
    assert check["CheckName"] == "LoadsCompleted" and check["TableName"] == "contact"
    assert "load-contact" in check["Message"] and "InFlight" in check["Message"]
    alerts = [
        json.loads(a["Details"]) for a in rt.store.read("SyncAuditLog", {"Operation": "Alert"})
    ]
    assert [(a["severity"], a["tables"]) for a in alerts] == [("HIGH", ["bronze.contact"])]
    assert "in flight" in alerts[0]["title"] and "load-contact" in str(alerts[0]["errors"])
    # never the default rollback target
    assert [c.checkpoint_name for c in rt.checkpoints.list() if c.is_restore_target] == []

    # The next batch checkpoint waits, the load finishes meanwhile, and it is Validated.
    threading.Timer(0.5, held.release.set).start()
    again = rt.checkpoints.create(TABLES, kind="DailyBatch", name="after_the_load")
    stalled.join(60)
    assert again is not None and again.validation_status == "Validated", again
    contact = again.table("bronze.contact")
    assert contact.load_batch_id == BATCH and contact.load_run_id == "load-contact"
    assert contact.load_version == contact.version
    assert contact.load_text(BATCH).startswith(f"bronze.contact v{contact.version} = batch {BATCH}")
    stored = rt.checkpoints.get("after_the_load").table("bronze.contact")
    assert (stored.load_run_id, stored.load_version) == ("load-contact", contact.version)
    plan = rt.rollback.plan("after_the_load")
    assert f"bronze.contact v{contact.version} = batch {BATCH}" in plan.to_text()
    rt.close()


def test_a_table_pinned_before_its_own_load_of_the_batch_fails_naming_both_versions(
    held: HeldLoad,
) -> None:
    rt = prepare(held.engine)
    held.release.set()  # no stall here: the load lands between the pin and the ledger check
    before = rt.engine.version(rt.table("bronze.contact"))
    landed: list[Any] = []
    held.after_next_read(
        lambda: landed.append(load(held.engine, "late-load", "bronze.contact", 300))
    )
    cp = rt.checkpoints.create(TABLES, kind="DailyBatch", wait_for_loads_seconds=0)
    assert cp is not None and cp.validation_status == "Failed"
    (late,) = landed
    assert cp.table("bronze.contact").version == before < late.version
    checks = rt.store.read("DataValidation", {"CheckpointId": cp.checkpoint_id})
    (check,) = [c for c in checks if not c["ValidationPassed"]]
    assert check["CheckName"] == "PinnedAfterBatchLoad"
    assert f"v{before}" in check["Message"] and f"v{late.version}" in check["Message"]
    assert BATCH in check["Message"]
    rt.close()


def test_a_checkpoint_without_a_batch_does_not_wait_and_says_no_library_load(
    engine: Any,
) -> None:
    rt = prepare(engine)
    cp = rt.checkpoints.create(TABLES, kind="Manual", name="by_hand")
    assert cp is not None and cp.validation_status == "Validated" and cp.batch_id is None
    assert all(t.load_version is None for t in cp.tables)
    assert [t.load_text() for t in cp.tables] == [
        f"{t.table} v{t.version} = no library load" for t in cp.tables
    ]
    rt.close()


@pytest.mark.parametrize("bad", [-1, "soon", 10**6, True])
def test_a_bad_wait_is_refused_before_anything_is_read_or_written(engine: Any, bad: Any) -> None:
    rt = prepare(engine)
    versions = {n: rt.engine.version(rt.table(n)) for n in TABLES}
    with pytest.raises(ConfigError, match="wait_for_loads_seconds"):
        rt.checkpoints.create(TABLES, kind="DailyBatch", wait_for_loads_seconds=bad)
    assert rt.store.read("CheckpointHistory") == [] and rt.store.read("CheckpointTables") == []
    assert {n: rt.engine.version(rt.table(n)) for n in TABLES} == versions
    rt.close()
