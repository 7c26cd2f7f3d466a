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
