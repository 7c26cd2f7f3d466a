"""The engine contract: one set of tests, run on every engine (delta-rs always; Spark+Delta under
``-m spark_delta``, skipped with its reason where the Delta jars do not resolve)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from fmd_runtime.engine import Column, CommitOptions, DeltaEngine, TableAt, arrow_schema
from fmd_runtime.errors import ConfigError, EngineError, TableNotFoundError
from fmd_runtime.tables import TableRef

COLUMNS = [
    Column(name="Id", type="bigint", nullable=False, comment="key"),
    Column(name="Name", type="string"),
    Column(name="IsDeleted", type="boolean"),
    Column(name="Amount", type="decimal(18,2)"),
    Column(name="SyncTime", type="timestamp"),
]


def fresh() -> TableRef:
    # Unique schema per test keeps Spark's shared metastore clean between tests.
    return TableRef.parse(f"c{uuid.uuid4().hex[:10]}.items")


def batch(ids: range, *, deleted: bool = False, name: str = "n") -> pa.Table:
    from decimal import Decimal

    now = datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
    return pa.table(
        {
            "Id": list(ids),
            "Name": [f"{name}{i}" for i in ids],
            "IsDeleted": [deleted] * len(ids),
            "Amount": [Decimal("1.50")] * len(ids),
            "SyncTime": [now] * len(ids),
        },
        schema=arrow_schema(COLUMNS),
    )


def write_versions(engine: DeltaEngine, table: TableRef, n: int = 3, size: int = 10) -> None:
    engine.create(table, COLUMNS, properties={"delta.logRetentionDuration": "interval 30 days"})
    for i in range(n):
        engine.write(table, batch(range(i * size, (i + 1) * size)), mode="append")


def ids_at(engine: DeltaEngine, table: TableRef, version: int | None = None) -> list[int]:
    res = engine.sql(
        "SELECT {q} AS id FROM {t} ORDER BY 1".replace("{q}", engine.quote("Id")),
        {"t": TableAt(table=table, version=version)},
    )
    return [r["id"] for r in res.to_pylist()]


def test_create_is_idempotent_and_keeps_schema_and_properties(engine: DeltaEngine) -> None:
    t = fresh()
    assert not engine.exists(t)
    assert engine.create(
        t, COLUMNS, properties={"delta.logRetentionDuration": "interval 30 days"}, comment="c"
    )
    assert engine.exists(t)
    assert not engine.create(t, COLUMNS)
    snap = engine.snapshot(t)
    assert [(c.name, c.type) for c in snap.columns] == [(c.name, c.type) for c in COLUMNS]
    assert snap.columns[0].nullable is False
    assert engine.properties(t)["delta.logRetentionDuration"] == "interval 30 days"
    assert snap.protocol.min_reader_version >= 1


def test_versions_history_and_commit_metadata(engine: DeltaEngine) -> None:
    t = fresh()
    engine.create(t, COLUMNS)
    v1 = engine.write(t, batch(range(5)), commit=CommitOptions(metadata={"fmd.runId": "run-42"}))
    v2 = engine.write(t, batch(range(5, 8)), mode="overwrite")
    assert (v1, v2) == (1, 2) and engine.version(t) == 2
    hist = engine.history(t)
    assert [h.version for h in hist] == [2, 1, 0]
    assert hist[1].user_metadata.get("fmd.runId") == "run-42"
    assert all(h.timestamp.tzinfo is not None for h in hist)
    assert [engine.snapshot(t, v).timestamp for v in (0, 1, 2)] == [
        h.timestamp for h in reversed(hist)
    ]
    assert hist[0].operation.upper().startswith("WRITE") or "OVERWRITE" in hist[0].operation.upper()


def test_history_since_a_version_reads_only_the_newer_commits(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=3, size=2)  # versions 0 to 3
    assert [h.version for h in engine.history(t, since_version=1)] == [3, 2]
    assert [h.version for h in engine.history(t, 1, since_version=0)] == [3]
    assert engine.history(t, since_version=3) == [] == engine.history(t, since_version=9)
    assert all(h.engine_info for h in engine.history(t))  # who wrote each commit
    with pytest.raises(ConfigError):
        engine.history(t, since_version=-1)


def test_vacuum_commits_carry_the_commit_metadata(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=1, size=2)
    engine.write(t, batch(range(10, 12)), mode="overwrite")
    before = engine.version(t)
    res = engine.vacuum(
        t,
        retention_hours=0,
        enforce_retention=False,
        dry_run=False,
        commit=CommitOptions(metadata={"fmd.runId": "maint-1"}),
    )
    assert len(res.files) == 1
    logged = engine.history(t, since_version=before)
    assert sorted(h.operation for h in logged) == ["VACUUM END", "VACUUM START"]
    assert all(h.user_metadata.get("fmd.runId") == "maint-1" for h in logged)


def test_counts_from_stats_and_time_travel(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=3, size=10)
    count = engine.count_rows(t)
    assert count.total == 30
    assert engine.count_rows(t, 1).total == 10
    assert ids_at(engine, t, 1) == list(range(10))
    files = engine.files(t, 2)
    assert len(files) == 2 and sum(f.num_records or 0 for f in files) == 20
    assert all(f.size_bytes > 0 for f in files)


def test_update_by_predicate_binds_values(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=1, size=10)
    updated = engine.update(t, {"Id": [1, 2, 3]}, {"IsDeleted": True, "Name": "O'Brien"})
    assert updated == 3
    res = engine.sql(
        "SELECT count(*) AS n FROM {t} WHERE "
        + engine.quote("Name")
        + " = :name AND "
        + engine.quote("IsDeleted"),
        {"t": t},
        {"name": "O'Brien"},
    )
    assert res.to_pylist() == [{"n": 3}]


def test_sql_params_never_change_the_statement(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=1, size=5)
    hostile = "x' OR '1'='1"
    res = engine.sql(
        "SELECT count(*) AS n FROM {t} WHERE " + engine.quote("Name") + " = :v",
        {"t": t},
        {"v": hostile},
    )
    assert res.to_pylist() == [{"n": 0}]
    res = engine.sql(
        "SELECT count(*) AS n FROM {t} WHERE " + engine.quote("Id") + " IN (:a, :b)",
        {"t": t},
        {"a": 1, "b": 4},
    )
    assert res.to_pylist() == [{"n": 2}]
    res = engine.sql(
        "SELECT count(*) AS n FROM {t} WHERE " + engine.quote("Id") + " IN :ids",
        {"t": t},
        {"ids": [0, 2, 3]},
    )
    assert res.to_pylist() == [{"n": 3}]


def test_restore_to_version_and_refuse_current(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=3, size=4)
    before = ids_at(engine, t, 1)
    result = engine.restore(t, 1, commit=CommitOptions(metadata={"fmd.rollbackRunId": "rb-1"}))
    assert result.restored_to == 1 and result.version_before == 3 and result.version_after == 4
    assert ids_at(engine, t) == before
    assert engine.history(t, 1)[0].user_metadata.get("fmd.rollbackRunId") == "rb-1"
    assert {(f.path, f.deletion_vector) for f in engine.files(t, 4)} == {
        (f.path, f.deletion_vector) for f in engine.files(t, 1)
    }
    with pytest.raises(EngineError, match="already at version"):
        engine.restore(t, 4)


def test_vacuum_dry_run_keep_versions_and_missing_files(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=2, size=4)
    engine.write(
        t, batch(range(100, 104)), mode="overwrite"
    )  # versions 1 and 2 files become tombstones
    dry = engine.vacuum(t, retention_hours=0, enforce_retention=False)
    assert dry.dry_run and len(dry.files) == 2
    assert engine.missing_files(t, 2) == []  # dry run removed nothing
    keep: list[int] = []
    if engine.supports_keep_versions:
        keep = [1]
        protected = engine.vacuum(t, retention_hours=0, enforce_retention=False, keep_versions=keep)
        v1_files = {f.path for f in engine.files(t, 1)}
        assert not v1_files & set(protected.files) and len(protected.files) == 1
    else:
        with pytest.raises(EngineError):
            engine.vacuum(t, retention_hours=0, enforce_retention=False, keep_versions=[1])
    real = engine.vacuum(
        t, retention_hours=0, enforce_retention=False, dry_run=False, keep_versions=keep
    )
    assert len(real.files) == (1 if keep else 2) and (real.bytes or 0) > 0
    assert engine.missing_files(t, 1) == ([] if keep else [f.path for f in engine.files(t, 1)])
    assert len(engine.missing_files(t, 2)) == (1 if keep else 2)


def test_vacuum_below_table_retention_is_refused_when_enforced(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=1)
    with pytest.raises(EngineError):
        engine.vacuum(t, retention_hours=1, enforce_retention=True)


def test_optimize_compacts_and_zorders(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=4, size=5)
    res = engine.optimize(t)
    assert res.files_removed == 4 and res.files_added == 1
    assert engine.count_rows(t).total == 20
    engine.write(t, batch(range(50, 55)))
    z = engine.optimize(t, zorder_by=["Id"])
    assert z.zorder_by == ("Id",) and z.files_added >= 1


def test_properties_round_trip(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=1)
    engine.set_properties(t, {"delta.deletedFileRetentionDuration": "interval 10 days"})
    props = engine.properties(t)
    assert props["delta.deletedFileRetentionDuration"] == "interval 10 days"
    assert props["delta.logRetentionDuration"] == "interval 30 days"


def test_idempotent_write_identity(engine: DeltaEngine) -> None:
    t = fresh()
    engine.create(t, COLUMNS)
    commit = CommitOptions(app_id="fmd:bronze:items", app_version=7)
    engine.write(t, batch(range(3)), commit=commit)
    engine.write(t, batch(range(3)), commit=commit)  # a retry of the same write
    assert engine.count_rows(t).total == 3
    assert engine.transaction_version(t, "fmd:bronze:items") == 7
    assert engine.transaction_version(t, "other") is None


def test_log_checkpoint_and_add_columns(engine: DeltaEngine) -> None:
    t = fresh()
    write_versions(engine, t, n=2)
    engine.create_log_checkpoint(t)
    engine.add_columns(t, [Column(name="Extra", type="string")])
    assert engine.snapshot(t).columns[-1].name == "Extra"
    assert engine.count_rows(t).total == 20


def test_a_log_checkpoint_of_an_older_version_keeps_it_reconstructable(
    engine: DeltaEngine,
) -> None:
    from engines import forget_log, table_dir

    t = fresh()
    write_versions(engine, t, n=3)  # versions 0..3
    assert engine.create_log_checkpoint(t, 2) is True
    log = table_dir(engine, t) / "_delta_log"
    assert (log / f"{2:020d}.checkpoint.parquet").exists()
    assert not (log / f"{3:020d}.checkpoint.parquet").exists()  # not the current version
    assert engine.create_log_checkpoint(t, 2) is True  # already there: nothing to do
    for v in range(2):  # what Delta's log cleanup removes before a later log checkpoint
        (log / f"{v:020d}.json").unlink()
    forget_log(engine)
    assert engine.snapshot(t, 2).version == 2
    assert engine.count_rows(t, 2).total == engine.count_rows(t, 3).total - 10


def test_missing_table_is_table_not_found(engine: DeltaEngine) -> None:
    t = fresh()
    with pytest.raises(TableNotFoundError) as exc:
        engine.version(t)
    assert t.name in str(exc.value)


# -- typed commit counts -------------------------------------------------------------------------
def test_history_reports_typed_commit_counts(engine: DeltaEngine) -> None:
    """Append, OPTIMIZE, overwrite and update report rows and files in the port's own fields,
    whatever names the engine writes into the raw metrics (kept beside them)."""
    t = fresh()
    engine.create(t, COLUMNS)
    engine.write(t, batch(range(10)))  # v1
    engine.write(t, batch(range(10, 13)))  # v2
    engine.optimize(t)  # v3: two files into one
    engine.write(t, batch(range(20, 24)), mode="overwrite")  # v4
    assert engine.update(t, {"Id": [20, 21]}, {"Name": "z"}) == 2  # v5
    by_version = {e.version: e for e in engine.history(t)}
    first, second, compact, overwrite, update = (by_version[v] for v in range(1, 6))

    assert (first.rows_added, first.files_added) == (10, 1) and first.metrics
    assert (first.rows_updated, first.rows_deleted, first.files_removed or 0) == (None, None, 0)
    assert first.bytes_added is None or first.bytes_added > 0  # delta-rs reports no write bytes
    assert (second.rows_added, second.files_added) == (3, 1)

    assert (compact.files_added, compact.files_removed) == (1, 2)
    assert compact.bytes_added and compact.bytes_added > 0
    assert compact.bytes_removed and compact.bytes_removed > 0
    assert compact.rows_added is None and compact.rows_updated is None

    assert (overwrite.rows_added, overwrite.files_added) == (4, 1)
    assert overwrite.files_removed in (None, 1)  # Spark 3.5's overwrite does not report it

    assert update.rows_updated == 2
    assert not update.rows_added and not update.rows_deleted  # 0 (MERGE) or None (UPDATE)


# -- frame operations ---------------------------------------------------------------------------
def test_frame_columns_and_max_of_arrow_data(engine: DeltaEngine) -> None:
    from fmd_runtime.errors import ConfigError, InvalidIdentifierError

    data = batch(range(3, 7))
    expected = [(c.name, c.type, c.nullable) for c in COLUMNS]
    for frame in (data, data.schema, data.to_batches()[0]):
        assert [(c.name, c.type, c.nullable) for c in engine.frame_columns(frame)] == expected
    odd = pa.schema([("U", pa.uint8()), ("Tags", pa.list_(pa.string())), ("T", pa.timestamp("ns"))])
    assert [c.type for c in engine.frame_columns(odd)] == [
        "uint8",
        "list<item: string>",
        "timestamp_ntz",
    ]
    assert engine.frame_max(data, "Id") == 6 and engine.frame_max(data, "id") == 6
    assert engine.frame_max(data.to_batches()[0], "Name") == "n6"
    assert engine.frame_max(data, "SyncTime") == datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
    assert engine.frame_max(data.slice(0, 0), "Id") is None
    with pytest.raises(ConfigError, match="not in the frame"):
        engine.frame_max(data, "Missing")
    with pytest.raises(ConfigError):
        engine.frame_columns([1, 2])
    with pytest.raises(ConfigError):
        engine.frame_max([1, 2], "Id")
    with pytest.raises(InvalidIdentifierError):
        engine.frame_columns(pa.schema([("bad name", pa.int32())]))


def test_align_arrow_data_to_columns(engine: DeltaEngine) -> None:
    from fmd_runtime.errors import SchemaDriftError

    incoming = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "name": pa.array(["a", "b"], pa.large_string()),
            "Extra": ["x", "y"],
        }
    )
    out = engine.align_frame(incoming, COLUMNS, cast={"Id"}, extra=["Extra"], table="s.t")
    assert out.column_names == ["Id", "Name", "IsDeleted", "Amount", "SyncTime", "Extra"]
    assert out.schema.field("Id").type == pa.int64() and not out.schema.field("Id").nullable
    assert out.schema.field("Name").type == pa.string()  # same type, canonical spelling
    assert out.column("IsDeleted").null_count == 2 and out.column("Id").to_pylist() == [1, 2]
    assert out.schema.field("Amount").type == pa.decimal128(18, 2)
    assert engine.align_frame(incoming.schema, COLUMNS) is None  # a schema: nothing to align
    with pytest.raises(SchemaDriftError, match="NOT NULL"):
        engine.align_frame(pa.table({"Id": pa.array([None], pa.int64())}), COLUMNS, table="s.t")
    with pytest.raises(SchemaDriftError, match="cannot be cast"):
        engine.align_frame(pa.table({"Id": ["x"]}), COLUMNS, cast={"Id"}, table="s.t")


def test_frame_operations_on_the_engines_own_frames(engine: DeltaEngine) -> None:
    """What `read` returns (Arrow on delta-rs, a DataFrame on Spark) goes through the same ports."""
    t = fresh()
    write_versions(engine, t, n=2, size=3)
    frame = engine.read(t)
    found = {c.name: c.type for c in engine.frame_columns(frame)}
    assert list(found) == [c.name for c in COLUMNS]
    # (delta-rs' DataFusion reads strings as Arrow string_view, a type the port keeps as spelled)
    assert [found[c.name] for c in COLUMNS if c.type != "string"] == [
        c.type for c in COLUMNS if c.type != "string"
    ]
    assert engine.frame_max(frame, "ID") == 5
    assert engine.frame_max(frame, "SyncTime") == datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
    target = [*COLUMNS, Column(name="Note", type="string")]
    aligned = engine.align_frame(frame, target, cast={"Amount"}, table=t.name)
    assert [c.name for c in engine.frame_columns(aligned)] == [c.name for c in target]
    assert engine.frame_max(aligned, "Note") is None and engine.frame_max(aligned, "Id") == 5
