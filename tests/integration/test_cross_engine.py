"""One lakehouse, two engines: the Fabric Python-notebook case (delta-rs recovering tables that
Spark wrote, deletion vectors included) and the reverse (Spark recovering tables delta-rs wrote).

Spark tables are created at ``<lakehouse>/Tables/<schema>/<table>``, exactly where Fabric keeps
them, so `DeltaRsEngine(<lakehouse>)` and the Spark catalog address the same Delta log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import connect, rows

from fmd_runtime.engine import Column
from fmd_runtime.engine.deltars import (
    DeltaRsEngine,
    deltalake_version_problem,
    parse_version,
)
from fmd_runtime.engine.spark import SparkEngine
from fmd_runtime.tables import TableRef
from fmd_runtime.testing import reset_catalog

pytestmark = pytest.mark.spark_delta

ACCOUNT = "bronze.account"
COLUMNS = [
    Column(name="AccountId", type="bigint", nullable=False),
    Column(name="Name", type="string"),
    Column(name="IsDeleted", type="boolean"),
    Column(name="IsPurged", type="boolean"),
]


@pytest.fixture
def shared(spark: Any, lakehouse: Path) -> Iterator[tuple[SparkEngine, DeltaRsEngine, Path]]:
    try:
        yield SparkEngine(spark), DeltaRsEngine(lakehouse), lakehouse
    finally:
        reset_catalog(spark)


def _spark_dv_table(spark: Any, lakehouse: Path, n: int = 40) -> None:
    """A deletion-vector table written by Spark at the lakehouse path, with a normal day's DVs."""
    location = lakehouse / "Tables" / "bronze" / "account"
    spark.sql("CREATE SCHEMA IF NOT EXISTS bronze")
    spark.sql(
        "CREATE TABLE bronze.account (AccountId BIGINT NOT NULL, Name STRING, IsDeleted BOOLEAN, "
        f"IsPurged BOOLEAN) USING DELTA LOCATION '{location}' "
        "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    )
    spark.range(1, n + 1).selectExpr(
        "id AS AccountId", "concat('Account ', id) AS Name", "false AS IsDeleted",
        "false AS IsPurged",
    ).coalesce(1).write.format("delta").mode("append").saveAsTable("bronze.account")  # fmt: skip
    spark.sql("DELETE FROM bronze.account WHERE AccountId IN (3, 4)")  # a DV on the one file
    spark.sql("UPDATE bronze.account SET IsDeleted = true WHERE AccountId = 5")


def _configure(rt: Any) -> None:
    rt.configure_table(
        ACCOUNT, primary_key=["AccountId"], deleted_flag="IsDeleted", purged_flag="IsPurged"
    )


def test_a_spark_dv_table_is_checkpointed_verified_and_rolled_back_by_delta_rs(shared) -> None:
    spark_engine, rs, lakehouse = shared
    spark = spark_engine.spark
    _spark_dv_table(spark, lakehouse)
    ref = TableRef.parse(ACCOUNT)
    assert any(f.deletion_vector for f in rs.files(ref)), "Spark wrote no deletion vector"
    assert "deletionVectors" in rs.snapshot(ref).protocol.reader_features

    rt = connect(rs, "python-notebook")
    _configure(rt)
    loaded = spark_engine.version(ref)
    cp = rt.checkpoints.create([ACCOUNT], kind="DailyBatch", name="dv_good")
    assert cp is not None and cp.validation_status == "Validated"
    pinned = cp.tables[0].version
    assert pinned == loaded
    # the retention raise (a metadata commit by delta-rs) left the protocol as Spark wrote it
    assert rs.snapshot(ref).protocol == rs.snapshot(ref, pinned).protocol
    # both engines see the same manifest: the same files and deletion vectors
    assert {(f.path, f.deletion_vector) for f in rs.files(ref, pinned)} == {
        (f.path, f.deletion_vector) for f in spark_engine.files(ref, pinned)
    }
    good = rows(spark_engine, ACCOUNT, "AccountId", pinned)  # time travel on Spark
    assert len(good) == 38 and cp.tables[0].active_rows == 37

    # the bad sync, from Spark: 15 active rows flagged deleted, 5 rows physically deleted
    spark.sql("UPDATE bronze.account SET IsDeleted = true WHERE AccountId BETWEEN 10 AND 24")
    spark.sql("DELETE FROM bronze.account WHERE AccountId > 35")
    assert rt.checkpoints.verify(cp.checkpoint_name).status == "Restorable"

    plan = rt.rollback.plan(cp.checkpoint_name)
    result = rt.rollback.execute(plan, approval_token=plan.approval_token)
    assert result.status == "Succeeded", result
    # row for row, against Spark's own time-travel read of the pinned version
    assert rows(spark_engine, ACCOUNT, "AccountId") == good
    assert rows(rs, ACCOUNT, "AccountId") == good
    restored = spark_engine.version(ref)
    assert {(f.path, f.deletion_vector) for f in rs.files(ref, restored)} == {
        (f.path, f.deletion_vector) for f in rs.files(ref, pinned)
    }
    rt.close()


def test_a_delta_rs_table_is_checkpointed_and_rolled_back_by_spark(shared) -> None:
    spark_engine, rs, lakehouse = shared
    ref = TableRef.parse(ACCOUNT)
    rs.create(ref, COLUMNS)
    ids = list(range(1, 31))
    rs.write(
        ref,
        pa.table(
            {
                "AccountId": pa.array(ids, pa.int64()),
                "Name": [f"Account {i}" for i in ids],
                "IsDeleted": [False] * 30,
                "IsPurged": [False] * 30,
            }
        ),
    )
    spark = spark_engine.spark
    location = lakehouse / "Tables" / "bronze" / "account"
    spark.sql("CREATE SCHEMA IF NOT EXISTS bronze")
    spark.sql(f"CREATE TABLE bronze.account USING DELTA LOCATION '{location}'")

    rt = connect(spark_engine, "spark-notebook")
    _configure(rt)
    cp = rt.checkpoints.create([ACCOUNT], kind="Manual", name="rs_good")
    assert cp is not None and cp.validation_status == "Validated"
    pinned = cp.tables[0].version
    good = rows(rs, ACCOUNT, "AccountId", pinned)

    rs.update(ref, {"AccountId": list(range(1, 16))}, {"IsDeleted": True})  # the bad sync
    plan = rt.rollback.plan(cp.checkpoint_name)
    result = rt.rollback.execute(plan, approval_token=plan.approval_token)
    assert result.status == "Succeeded", result
    assert rows(rs, ACCOUNT, "AccountId") == good  # delta-rs reads what Spark restored
    assert rows(spark_engine, ACCOUNT, "AccountId") == good
    rt.close()


def test_unsafe_deltalake_releases_are_refused_with_the_version_and_the_fix() -> None:
    # Fabric's Python notebook ships deltalake 1.2.1 (0.18.2 on older kernels); 1.6.4/1.6.5 were
    # yanked; 1.5.0-1.6.3 run, but refuse RESTORE of deletion-vector tables (checked per table).
    assert "older than 1.5.0" in (deltalake_version_problem("1.2.1") or "")
    assert "older than 1.5.0" in (deltalake_version_problem("0.18.2") or "")
    assert "yanked" in (deltalake_version_problem("1.6.4") or "")
    assert deltalake_version_problem("1.6.3") is None
    assert deltalake_version_problem("1.6.6") is None
    assert parse_version("1.6.3") < (1, 6, 6) <= parse_version("1.6.6")
