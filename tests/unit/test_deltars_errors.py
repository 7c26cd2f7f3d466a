"""Every native delta-rs error class is translated into the FmdError tree."""

from __future__ import annotations

import inspect

import pytest
from deltalake import exceptions as dlx

from fmd_runtime.engine.deltars import DeltaRsEngine, deletion_vector_file, sql_literal
from fmd_runtime.errors import ConcurrentWriteError, ConfigError, EngineError, TableNotFoundError
from fmd_runtime.tables import TableRef

EXPECTED = {
    "TableNotFoundError": TableNotFoundError,
    "CommitFailedError": ConcurrentWriteError,
    "DeltaProtocolError": EngineError,
    "SchemaMismatchError": EngineError,
    "DeltaError": EngineError,
}


def native_classes() -> list[type]:
    return [c for _, c in inspect.getmembers(dlx, inspect.isclass) if issubclass(c, Exception)]


def test_mapping_covers_every_native_class() -> None:
    assert {c.__name__ for c in native_classes()} <= set(EXPECTED)


@pytest.mark.parametrize("cls", native_classes(), ids=lambda c: c.__name__)
def test_each_native_error_is_translated(cls: type, lakehouse) -> None:
    engine = DeltaRsEngine(lakehouse)
    table = TableRef.parse("bronze.t")
    with pytest.raises(EXPECTED[cls.__name__]) as info:
        with engine._translate(table, "probe"):
            raise cls("native message")
    assert isinstance(info.value.__cause__, cls)
    assert "bronze.t" in str(info.value)


def test_sql_literals_escape_and_refuse() -> None:
    assert sql_literal("a'b") == "'a''b'"
    assert sql_literal(True) == "TRUE" and sql_literal(None) == "NULL"
    with pytest.raises(ConfigError):
        sql_literal(float("nan"))
    with pytest.raises(ConfigError):
        sql_literal(object())
    with pytest.raises(ConfigError):
        sql_literal("a\x00b")


def test_deletion_vector_paths_follow_the_protocol() -> None:
    # z85 of the 16 zero bytes is twenty '0' characters; a prefix becomes a folder.
    assert (
        deletion_vector_file("u", "0" * 20)
        == "deletion_vector_00000000-0000-0000-0000-000000000000.bin"
    )
    assert (
        deletion_vector_file("u", "ab" + "0" * 20)
        == "ab/deletion_vector_00000000-0000-0000-0000-000000000000.bin"
    )
    assert deletion_vector_file("p", "s3://b/dv.bin") == "s3://b/dv.bin"
    assert deletion_vector_file("i", "xyz") is None


# --------------------------------------------------------------------------- corrupt commit files


def three_commits(lakehouse) -> tuple[DeltaRsEngine, TableRef]:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from fmd_runtime.engine import Column

    engine, table = DeltaRsEngine(lakehouse), TableRef.parse("bronze.t")
    engine.create(table, [Column(name="id", type="bigint")])
    for i in range(3):
        engine.write(table, pa.table({"id": pa.array([i], pa.int64())}))
    return engine, table


@pytest.mark.parametrize(("version", "keep"), [(2, 0.5), (3, 0.5), (0, 0.3), (2, 0.0), (3, 0.0)])
def test_a_truncated_commit_file_is_named_as_corrupt_not_cleanup(
    lakehouse, version: int, keep: float
) -> None:
    from tablefeatures import truncate_commit

    from fmd_runtime.errors import CorruptLogError

    engine, table = three_commits(lakehouse)
    path = truncate_commit(engine, table, version, keep=keep)
    reads = {
        "version": lambda: engine.version(table),
        "snapshot": lambda: engine.snapshot(table, 1),
        "count": lambda: engine.count_rows(table),
        "files": lambda: engine.files(table),
    }
    for what, read in reads.items():
        with pytest.raises(CorruptLogError) as info:
            read()
        text = str(info.value)
        assert str(path) in text and "truncated or corrupt" in text, what
        assert "not log cleanup" in text and "cleaned up" not in text, what
        assert info.value.details["file"] == str(path), what
        assert "restore the file from the copy or backup" in (info.value.hint or ""), what
        assert not info.value.transient and info.value.terminal


def test_a_json_error_of_delta_rs_is_a_corrupt_log(lakehouse) -> None:  # type: ignore[no-untyped-def]
    from fmd_runtime.errors import CorruptLogError

    engine = DeltaRsEngine(lakehouse)
    with pytest.raises(CorruptLogError) as info:
        with engine._translate(TableRef.parse("bronze.gone"), "open"):
            raise dlx.DeltaError("Kernel error: Json error: Truncated record whilst reading string")
    assert isinstance(info.value.__cause__, dlx.DeltaError)
    assert "Truncated record" in str(info.value)  # no file to name: the native text says what


@pytest.mark.parametrize("which", ["latest", "pinned"])
def test_checkpoint_verify_blames_the_corrupt_file_not_log_cleanup(lakehouse, which: str) -> None:  # type: ignore[no-untyped-def]
    from tablefeatures import log_dir, truncate_commit

    import fmd_runtime as fmd

    rt = fmd.connect(lakehouse=lakehouse, run_id="corrupt")
    engine, table = three_commits(lakehouse)
    cp = rt.checkpoints.create(table.name, kind="Manual")
    assert cp is not None
    pinned, latest = cp.tables[0].version, engine.version(table)
    assert latest > pinned  # the checkpoint raised the retention properties
    if which == "pinned":  # the latest version reads from a newer log checkpoint; the pinned not
        engine.create_log_checkpoint(table)
        for f in log_dir(engine, table).glob(f"{pinned:020d}.checkpoint*.parquet"):
            f.unlink()
    path = truncate_commit(engine, table, pinned if which == "pinned" else latest)
    (checked,) = rt.checkpoints.verify(cp.checkpoint_name).tables
    reason = checked.reason or ""
    assert checked.status == "Unrestorable"
    assert str(path) in reason and "truncated or corrupt" in reason
    assert "cleanup?" not in reason and "no longer in the transaction log" not in reason
