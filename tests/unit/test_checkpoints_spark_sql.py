"""The one-pass aggregation is valid Spark SQL and counts exactly what DataFusion counts.

Runs the SQL `aggregation_sql` renders for Spark (backtick quoting) on the shared local Spark
session (no Delta needed: a temporary view stands for the pinned version), and the same SQL
rendered for DataFusion through the delta-rs engine on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fmd_runtime.checkpoints import aggregation_sql
from fmd_runtime.engine import Column, TableAt
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.tables import TableRef, quote_identifier

# Ids 1..8; flags with NULLs; row 7 is flagged deleted AND purged (counted twice); key 8 is NULL.
ROWS: list[tuple[Any, ...]] = [
    (1, False, False),
    (2, True, False),
    (3, None, False),
    (4, False, True),
    (5, None, None),
    (6, True, None),
    (7, True, True),
    (None, False, False),
]
EXPECTED = {"total": 8, "deleted": 3, "purged": 2, "active": 4, "null_keys": 1}


def _sql(quote: Any) -> str:
    return aggregation_sql(quote, deleted_flag="IsDeleted", purged_flag="IsPurged", keys=["Id"])


@pytest.mark.spark
def test_spark_runs_the_aggregation(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, "Id bigint, IsDeleted boolean, IsPurged boolean")
    df.createOrReplaceTempView("fmd_cp_pinned")
    try:
        row = spark.sql(_sql(quote_identifier).format(t="fmd_cp_pinned")).collect()[0].asDict()
    finally:  # the session is shared: SHOW TABLES of other tests would list the view
        spark.catalog.dropTempView("fmd_cp_pinned")
    assert row == EXPECTED
    assert row["active"] + row["deleted"] + row["purged"] == row["total"] + 1  # row 7


def test_datafusion_counts_the_same(tmp_path: Path) -> None:
    engine = DeltaRsEngine(tmp_path)
    ref = TableRef.parse("bronze.t")
    cols = [
        Column(name="Id", type="bigint"),
        Column(name="IsDeleted", type="boolean"),
        Column(name="IsPurged", type="boolean"),
    ]
    engine.create(ref, cols)
    engine.write(ref, pa.table({
        "Id": pa.array([r[0] for r in ROWS], pa.int64()),
        "IsDeleted": pa.array([r[1] for r in ROWS], pa.bool_()),
        "IsPurged": pa.array([r[2] for r in ROWS], pa.bool_()),
    }))  # fmt: skip
    row = engine.sql(_sql(engine.quote), {"t": TableAt(table=ref, version=1)}).to_pylist()[0]
    assert row == EXPECTED
