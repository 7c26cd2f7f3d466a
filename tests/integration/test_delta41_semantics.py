"""Delta 4.1+ retention semantics (Fabric Runtime 2.0), on every engine through the port.

On Delta 4.1 and later (the ``.venv-rt20`` tier: Spark 4.1 / Delta 4.2) the table properties are
the only protection a restore point has: VACUUM ignores ``RETAIN n HOURS`` unless n is 0, time
travel and RESTORE are refused past ``delta.deletedFileRetentionDuration``, and the file retention
may not exceed the log retention. The port says which semantics an engine has
(`DeltaEngine.vacuum_reads_table_retention`); on Delta 3.2 and delta-rs the older ones hold. The
same test bodies prove both, and that raising the properties (what checkpoints do) is what keeps
an old version restorable on 4.1+.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from engines import age, rows

from fmd_runtime.engine import (
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    Column,
    DeltaEngine,
    log_retention_cover,
)
from fmd_runtime.errors import RetentionError
from fmd_runtime.tables import TableRef


def _table(engine: DeltaEngine, versions: int = 3) -> TableRef:
    ref = TableRef.parse(f"c{uuid.uuid4().hex[:10]}.items")
    engine.create(ref, [Column(name="Id", type="bigint"), Column(name="V", type="string")])
    for v in range(versions):  # overwrites: every version removes the previous one's file
        ids = list(range(v * 10, v * 10 + 5))
        engine.write(
            ref,
            pa.table({"Id": pa.array(ids, pa.int64()), "V": [f"v{v}"] * 5}),
            mode="overwrite",
        )
    return ref


def test_vacuum_retention_is_the_one_the_engine_really_uses(engine: DeltaEngine) -> None:
    ref = _table(engine, versions=2)
    same = engine.vacuum(ref, retention_hours=168, dry_run=True)  # = the table property
    assert same.dry_run and same.retention_hours == 168
    if engine.vacuum_reads_table_retention:
        # Delta 4.1+ would run with the property's 168 h: refused rather than silently different
        with pytest.raises(RetentionError, match="ignores RETAIN 200 HOURS"):
            engine.vacuum(ref, retention_hours=200, dry_run=True)
        engine.set_properties(ref, {DELETED_FILE_RETENTION: "interval 200 hours"})
    assert engine.vacuum(ref, retention_hours=200, dry_run=True).retention_hours == 200


def test_an_old_version_restores_once_the_properties_cover_it(engine: DeltaEngine) -> None:
    ref = _table(engine, versions=3)
    pinned = rows(engine, ref, "Id", 2)
    age(engine, ref, {0: 12, 1: 11, 2: 10, 3: 10})  # the table as it will be 10 days from now
    if engine.vacuum_reads_table_retention:
        with pytest.raises(RetentionError, match="deletedFileRetentionDuration"):
            rows(engine, ref, "Id", 2)
        with pytest.raises(RetentionError, match="deletedFileRetentionDuration"):
            engine.restore(ref, 2)
    # what a checkpoint does when it is created: cover its version, log retention included
    raise_to = {DELETED_FILE_RETENTION: "interval 21 days"}
    engine.set_properties(ref, raise_to | log_retention_cover(engine.properties(ref), raise_to))
    assert rows(engine, ref, "Id", 2) == pinned
    engine.restore(ref, 2)
    assert rows(engine, ref, "Id") == pinned


def test_a_file_retention_raise_always_keeps_log_retention_above_it(engine: DeltaEngine) -> None:
    ref = _table(engine, versions=1)
    raise_to = {DELETED_FILE_RETENTION: "interval 40 days"}  # above the 30-day log default
    if engine.vacuum_reads_table_retention:
        with pytest.raises(RetentionError, match="logRetentionDuration"):
            engine.set_properties(ref, raise_to)
    cover = log_retention_cover(engine.properties(ref), raise_to)
    assert cover == {LOG_RETENTION: "interval 40 days"}
    engine.set_properties(ref, raise_to | cover)
    props = engine.properties(ref)
    assert props[DELETED_FILE_RETENTION] == props[LOG_RETENTION] == "interval 40 days"
