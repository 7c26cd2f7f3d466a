"""Tables delta-rs cannot write: refused as `UnsupportedFeatureError` (never a retried conflict).

Real tables, amended as Spark leaves them (tests/tablefeatures.py): delta-rs reads them, refuses
every commit ("Unsupported table features required: [...]", a ``CommitFailedError``), and so does
the adapter's own by-hand property commit. The list of features the adapter writes is checked
against the installed delta-rs, so a delta-rs upgrade that changes it fails here.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import exceptions as dlx
from tablefeatures import add_features

from fmd_runtime.engine import Column, unwritable_features, write_refusal
from fmd_runtime.engine.deltars import (
    WRITABLE_FEATURES,
    DeltaRsEngine,
    protocol_feature_name,
    unsupported_features,
)
from fmd_runtime.errors import ConcurrentWriteError, EngineError, UnsupportedFeatureError
from fmd_runtime.retry import is_transient, retryer
from fmd_runtime.tables import TableRef

COLUMNS = [Column(name="Id", type="bigint")]
SPARK_ONLY = ["identityColumns", "rowTracking", "domainMetadata", "clustering", "inCommitTimestamp"]


def rows(*ids: int) -> pa.Table:
    return pa.table({"Id": pa.array(list(ids), pa.int64())})


def spark_table(
    lakehouse: Path, features: list[str], name: str = "bronze.ident"
) -> tuple[DeltaRsEngine, TableRef]:
    engine, ref = DeltaRsEngine(lakehouse), TableRef.parse(name)
    engine.create(ref, COLUMNS)
    engine.write(ref, rows(1, 2))
    engine.write(ref, rows(3), mode="overwrite")  # a file for VACUUM to delete
    add_features(engine, ref, features)
    return engine, ref


@pytest.mark.parametrize("feature", sorted(WRITABLE_FEATURES))
def test_the_features_the_adapter_writes_are_the_ones_delta_rs_writes(
    lakehouse: Path, feature: str
) -> None:
    engine, ref = spark_table(lakehouse, [feature])
    assert unwritable_features(engine, ref) == ()
    engine.write(ref, rows(9))  # delta-rs commits to it
    engine.set_properties(ref, {"delta.logRetentionDuration": "interval 60 days"})
    assert engine.properties(ref)["delta.logRetentionDuration"] == "interval 60 days"


@pytest.mark.parametrize("feature", SPARK_ONLY)
def test_delta_rs_refuses_the_others_and_the_adapter_names_them(
    lakehouse: Path, feature: str
) -> None:
    engine, ref = spark_table(lakehouse, [feature])
    before = engine.version(ref)
    with pytest.raises(UnsupportedFeatureError) as info:
        engine.write(ref, rows(9))
    assert info.value.details["features"] == [feature]
    assert isinstance(info.value.__cause__, dlx.CommitFailedError)
    assert unwritable_features(engine, ref) == (feature,)
    assert engine.version(ref) == before


def test_every_commit_is_refused_reads_still_work_and_nothing_changes(lakehouse: Path) -> None:
    engine, ref = spark_table(lakehouse, ["identityColumns", "domainMetadata", "rowTracking"])
    before, files = engine.version(ref), sorted(p.name for p in Path(engine.path(ref)).iterdir())
    attempts = {
        "write": lambda: engine.write(ref, rows(9)),
        "optimize": lambda: engine.optimize(ref),
        "restore": lambda: engine.restore(ref, 1),
        "vacuum": lambda: engine.vacuum(
            ref, retention_hours=0, dry_run=False, enforce_retention=False
        ),
        "set properties": lambda: engine.set_properties(
            ref, {"delta.logRetentionDuration": "interval 60 days"}
        ),
    }
    for what, attempt in attempts.items():
        with pytest.raises(UnsupportedFeatureError) as info:
            attempt()
        err = info.value
        assert err.details["features"] == ["domainMetadata", "identityColumns", "rowTracking"], what
        assert "In table `bronze.ident`" in str(err) and "delta-rs (deltalake " in str(err), what
        assert "Spark notebook" in (err.hint or ""), what
        assert not err.transient and not is_transient(err), what
    assert engine.create_log_checkpoint(ref) is False  # a log checkpoint is a write too
    assert engine.version(ref) == before
    assert sorted(p.name for p in Path(engine.path(ref)).iterdir()) == files  # nothing deleted
    assert not list((Path(engine.path(ref)) / "_delta_log").glob("*.checkpoint*.parquet"))
    assert "delta.logRetentionDuration" not in engine.properties(ref)
    # reading is fine: checkpoints can still pin the version
    assert engine.count_rows(ref).total == 1 and engine.snapshot(ref).version == before
    assert engine.read(ref).num_rows == 1 and len(engine.files(ref)) == 1


def test_the_property_refusal_shows_the_exact_spark_statement(lakehouse: Path) -> None:
    engine, ref = spark_table(lakehouse, ["identityColumns"])
    with pytest.raises(UnsupportedFeatureError) as info:
        engine.set_properties(ref, {"delta.logRetentionDuration": "interval 60 days"})
    assert (
        "ALTER TABLE `bronze`.`ident` SET TBLPROPERTIES "
        "('delta.logRetentionDuration' = 'interval 60 days')" in (info.value.hint or "")
    )


def test_the_refusal_is_never_retried(lakehouse: Path) -> None:
    engine, ref = spark_table(lakehouse, ["rowTracking"])
    calls = []

    def write() -> int:
        calls.append(1)
        return engine.write(ref, rows(9))

    with pytest.raises(UnsupportedFeatureError):
        retryer("table_operation", wait_seconds=0, operation="probe")(write)
    assert len(calls) == 1


def test_write_refusal_is_none_for_a_plain_table(lakehouse: Path) -> None:
    engine, ref = DeltaRsEngine(lakehouse), TableRef.parse("bronze.plain")
    engine.create(ref, COLUMNS)
    assert write_refusal(engine, ref, operation="maintenance") is None


def test_native_feature_errors_are_translated_in_the_one_place(lakehouse: Path) -> None:
    engine, ref = DeltaRsEngine(lakehouse), TableRef.parse("bronze.t")
    cases = {
        dlx.CommitFailedError(
            'Unsupported table features required: [ClusteredTable, Unknown("checkpointProtection")]'
        ): ["checkpointProtection", "clustering"],
        dlx.DeltaError("Kernel error: Unsupported: Feature 'futureThing' is not supported"): [
            "futureThing"
        ],
    }
    for native, features in cases.items():
        with pytest.raises(UnsupportedFeatureError) as info:
            with engine._translate(ref, "probe"):
                raise native
        assert info.value.details["features"] == features
        assert info.value.__cause__ is native
    # a real conflict stays a transient ConcurrentWriteError
    with pytest.raises(ConcurrentWriteError):
        with engine._translate(ref, "probe"):
            raise dlx.CommitFailedError("Transaction failed: version already exists")
    assert issubclass(UnsupportedFeatureError, EngineError)


def test_feature_names_follow_the_protocol() -> None:
    assert protocol_feature_name("TypeWideningPreview") == "typeWidening-preview"
    assert protocol_feature_name("TimestampWithoutTimezone") == "timestampNtz"
    assert unsupported_features("Unsupported table features required: []") == ()
    assert unsupported_features("something else") is None
