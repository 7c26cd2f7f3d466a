"""fmd_runtime.testing: the runtime pairs and their Maven artifacts, jar resolution errors, the
fault-injecting engine on a real delta-rs table, the pytest plugin and the CI flag."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime.engine import Column
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import ConfigError, EngineError
from fmd_runtime.tables import TableRef
from fmd_runtime.testing import (
    DeltaJarsUnavailableError,
    FaultyEngine,
    InjectedFault,
    delta_runtime,
    resolve_delta_jars,
)


@pytest.mark.parametrize(
    ("spark", "delta", "artifact", "scala", "fabric"),
    [
        ("3.5.5", "3.2.1", "delta-spark_2.12", "2.12", "1.3"),
        ("4.0.1", "4.0.0", "delta-spark_2.13", "2.13", None),
        ("4.1.1", "4.2.0", "delta-spark_4.1_2.13", "2.13", "2.0"),
    ],
)
def test_each_pair_maps_to_its_maven_artifact_and_fabric_runtime(
    spark: str, delta: str, artifact: str, scala: str, fabric: str | None
) -> None:
    rt = delta_runtime(spark, delta)
    assert (rt.artifact, rt.scala_version, rt.fabric_runtime) == (artifact, scala, fabric)
    assert rt.coordinate == f"io.delta:{artifact}:{delta}"
    assert delta in rt.label and spark in rt.label


def test_the_pairs_pinned_in_pyproject_are_the_fabric_runtimes() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    for spark, delta, fabric in [("3.5.5", "3.2.1", "1.3"), ("4.1.1", "4.2.0", "2.0")]:
        assert f'"pyspark=={spark}"' in text and f'"delta-spark=={delta}"' in text
        assert delta_runtime(spark, delta).fabric_runtime == fabric


def test_a_mistyped_fmd_delta_jars_is_an_error_not_a_silent_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FMD_DELTA_JARS", str(tmp_path / "delta-spark_2.12-3.2.1.jar"))
    with pytest.raises(DeltaJarsUnavailableError, match="do not exist"):
        resolve_delta_jars(delta_runtime("3.5.5", "3.2.1"))


def test_fmd_delta_jars_wins_over_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jars = [tmp_path / "a.jar", tmp_path / "b.jar"]
    for j in jars:
        j.write_bytes(b"PK")
    monkeypatch.setenv("FMD_DELTA_JARS", os.pathsep.join(str(j) for j in jars))
    assert resolve_delta_jars(delta_runtime("3.5.5", "3.2.1")) == [str(j) for j in jars]


@pytest.fixture
def table(lakehouse: Path) -> tuple[DeltaRsEngine, TableRef]:
    engine = DeltaRsEngine(lakehouse)
    ref = TableRef.parse("bronze.t")
    engine.create(ref, [Column(name="Id", type="bigint")])
    engine.write(ref, pa.table({"Id": pa.array([1, 2], pa.int64())}))
    return engine, ref


def test_faults_fire_before_after_or_silently_on_the_real_engine(table) -> None:
    inner, ref = table
    engine = FaultyEngine(inner)
    engine.fail("write", tables={"bronze.t"}, times=1)
    with pytest.raises(InjectedFault):
        engine.write(ref, pa.table({"Id": pa.array([3], pa.int64())}))
    assert inner.version(ref) == 1  # nothing committed
    engine.write(ref, pa.table({"Id": pa.array([3], pa.int64())}))  # times=1: spent
    assert inner.version(ref) == 2

    engine.fail("write", tables={"t"}, when="after", error=OSError("driver lost"), times=1)
    with pytest.raises(OSError, match="driver lost"):
        engine.write(ref, pa.table({"Id": pa.array([4], pa.int64())}))
    assert inner.version(ref) == 3  # the commit landed, then the error

    engine.fail("restore", tables={"bronze.t"}, when="silent")
    res = engine.restore(ref, 1)
    assert res.version_after == 4 and engine.count_rows(ref).total == 4  # nothing restored
    assert engine.calls["write"] == 3 and engine.name == "deltars"


def test_faults_apply_only_to_the_named_tables_and_reject_unknown_methods(table) -> None:
    inner, ref = table
    engine = FaultyEngine(inner).fail("version", tables={"silver.other"})
    assert engine.version(ref) == 1
    with pytest.raises(ConfigError, match="not a DeltaEngine method"):
        engine.fail("drop_everything")
    with pytest.raises(ConfigError, match="restore only"):
        engine.fail("write", when="silent")
    engine.fail("restore", error=lambda t: EngineError("outage", table=t.name if t else None))
    with pytest.raises(EngineError, match="outage"):
        engine.restore(ref, 0)


def test_hooks_run_around_the_real_operation_without_failing_it(table) -> None:
    inner, ref = table
    seen: list[tuple[str, int]] = []
    engine = FaultyEngine(inner)
    # a rival commits first: the hook writes through the real engine, then ours lands
    engine.on(
        "write",
        lambda t, a, kw: inner.write(ref, pa.table({"Id": pa.array([9], pa.int64())})),
        tables={"bronze.t"},
        times=1,
    )
    engine.on("version", lambda t, a, kw: seen.append(("after", inner.version(ref))), when="after")
    engine.write(ref, pa.table({"Id": pa.array([3], pa.int64())}))
    assert inner.version(ref) == 3 and engine.count_rows(ref).total == 4  # rival + ours
    assert engine.version(ref) == 3 and seen == [("after", 3)]
    engine.write(ref, pa.table({"Id": pa.array([4], pa.int64())}))  # times=1: spent
    assert inner.version(ref) == 4

    # a hook and a fault on the same call: the hook runs, then the fault stops the operation
    engine.on("write", lambda t, a, kw: seen.append(("before", -1)), tables={"t"}, times=1)
    engine.fail("write", tables={"t"}, times=1)
    with pytest.raises(InjectedFault):
        engine.write(ref, pa.table({"Id": pa.array([5], pa.int64())}))
    assert seen[-1] == ("before", -1) and inner.version(ref) == 4

    # an exception from a hook propagates like a fault; nothing is written
    def refuse(t: object, a: object, kw: object) -> None:
        raise EngineError("storage refused", table="bronze.t")

    engine.on("write", refuse, times=1)
    with pytest.raises(EngineError, match="storage refused"):
        engine.write(ref, pa.table({"Id": pa.array([6], pa.int64())}))
    assert inner.version(ref) == 4
    with pytest.raises(ConfigError, match="not a DeltaEngine method"):
        engine.on("drop_everything", refuse)
    with pytest.raises(ConfigError, match="before' or 'after"):
        engine.on("write", refuse, when="silent")  # type: ignore[arg-type]
    engine.clear()
    engine.write(ref, pa.table({"Id": pa.array([6], pa.int64())}))
    assert inner.version(ref) == 5


def test_a_runtime_runs_on_the_faulty_engine(table) -> None:
    inner, _ = table
    rt = fmd.connect(engine=FaultyEngine(inner), run_id="faulty")
    assert rt.engine.exists(rt.store.ref("SyncAuditLog"))
    rt.close()


def test_the_plugin_fixtures_give_a_lakehouse_and_a_runtime(fmd_lakehouse: Path, fmd_rt) -> None:
    assert fmd_lakehouse.is_dir() and fmd_rt.engine.name == "deltars"
    assert fmd_rt.context.run_id == "pytest-run"


def test_under_the_ci_flag_an_unresolvable_spark_tier_fails_instead_of_skipping(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.spark_delta
            def test_on_spark(fmd_spark):
                assert fmd_spark is not None
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "FMD_REQUIRE_SPARK_DELTA"}  # CI sets it
    env["FMD_DELTA_JARS"] = str(tmp_path / "missing.jar")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    skipped = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    env["FMD_REQUIRE_SPARK_DELTA"] = "1"
    failed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert failed.returncode == 1 and "1 error" in failed.stdout, failed.stdout  # in the fixture
    assert "FMD_REQUIRE_SPARK_DELTA=1" in failed.stdout


def test_faulty_engine_wraps_every_port_method() -> None:
    """Every method of the `DeltaEngine` protocol can be armed with a fault (and nothing else),
    but `quote`: identifier quoting is pure text, not an engine operation that can fail."""
    import inspect

    from fmd_runtime.engine import DeltaEngine
    from fmd_runtime.testing._faults import _PORT_METHODS

    methods = {
        n for n, v in vars(DeltaEngine).items() if inspect.isfunction(v) and not n.startswith("_")
    }
    assert methods - {"quote"} == set(_PORT_METHODS)
