"""The comparison join and the orphan query are valid Spark SQL and count what DataFusion counts.

The SQL is rendered for Spark (backtick quoting) and run on the shared local Spark session over
temporary views standing for the pre-state and restored versions; the same SQL rendered for
DataFusion runs through the delta-rs engine on the same rows (two versions of one table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fmd_runtime.engine import Column, TableAt
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.rollback import comparison_sql, orphan_sql
from fmd_runtime.tables import TableRef, quote_identifier

SCHEMA = "Id bigint, IsDeleted boolean, IsPurged boolean, AccountId bigint"
# pre-state (after a bad sync) and restored rows: 1 unchanged, 2 Deleted->Active, 3 Purged->Active,
# 4 Active->Deleted, 5 removed (added by the bad sync), 6 restored (deleted by it), 7 unchanged
# deleted, 8 a NULL flag (Active); 9 points at account 99, which does not exist; a NULL key
# after the rollback never matches: counted once, as restored, and as a null key.
PRE: list[tuple[Any, ...]] = [
    (1, False, False, 1),
    (2, True, False, 1),
    (3, False, True, 2),
    (4, False, False, 2),
    (5, False, False, 1),
    (7, True, False, 1),
    (8, None, False, 2),
]
POST: list[tuple[Any, ...]] = [
    (1, False, False, 1),
    (2, False, False, 1),
    (3, False, False, 2),
    (4, True, False, 2),
    (6, False, False, 1),
    (7, True, False, 1),
    (8, None, False, 2),
    (9, False, False, 99),
    (None, False, False, 1),
]
ACCOUNTS = [(1,), (2,)]
EXPECTED = {
    "before_rows": 7,
    "after_rows": 9,
    "restored": 3,  # 6, 9 and the NULL key
    "removed": 1,  # 5
    "unchanged": 3,  # 1, 7, 8
    "after_null_keys": 1,
    "active_deleted": 1,
    "active_purged": 0,
    "deleted_active": 1,
    "deleted_purged": 0,
    "purged_active": 1,
    "purged_deleted": 0,
}


def _compare(quote: Any) -> str:
    return comparison_sql(quote, ["Id"], "IsDeleted", "IsPurged")


@pytest.mark.spark
def test_spark_runs_the_comparison_and_orphan_queries(spark: Any) -> None:
    views = {
        "fmd_rb_pre": spark.createDataFrame(PRE, SCHEMA),
        "fmd_rb_post": spark.createDataFrame(POST, SCHEMA),
        "fmd_rb_account": spark.createDataFrame(ACCOUNTS, "AccountId bigint"),
    }
    for name, df in views.items():
        df.createOrReplaceTempView(name)
    try:
        row = spark.sql(_compare(quote_identifier).format(pre="fmd_rb_pre", post="fmd_rb_post"))
        got = row.collect()[0].asDict()
        orphans = spark.sql(
            orphan_sql(quote_identifier, "AccountId", "AccountId").format(
                child="fmd_rb_post", parent="fmd_rb_account"
            )
        ).collect()[0]["orphans"]
    finally:  # the session is shared between tests
        for name in views:
            spark.catalog.dropTempView(name)
    assert got == EXPECTED
    assert orphans == 1


def test_datafusion_counts_the_same(tmp_path: Path) -> None:
    engine = DeltaRsEngine(tmp_path)
    ref, parent = TableRef.parse("bronze.donation"), TableRef.parse("bronze.account")
    cols = [
        Column(name="Id", type="bigint"),
        Column(name="IsDeleted", type="boolean"),
        Column(name="IsPurged", type="boolean"),
        Column(name="AccountId", type="bigint"),
    ]
    engine.create(ref, cols)
    names = ["Id", "IsDeleted", "IsPurged", "AccountId"]
    for rows in (PRE, POST):
        data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        types = [pa.int64(), pa.bool_(), pa.bool_(), pa.int64()]
        table = pa.table({n: pa.array(v, t) for (n, v), t in zip(data.items(), types, strict=True)})
        engine.write(ref, table, mode="overwrite")
    engine.create(parent, [Column(name="AccountId", type="bigint")])
    engine.write(parent, pa.table({"AccountId": pa.array([1, 2], pa.int64())}))
    row = engine.sql(
        _compare(engine.quote),
        {"pre": TableAt(table=ref, version=1), "post": TableAt(table=ref, version=2)},
    ).to_pylist()[0]
    assert {k: int(v) for k, v in row.items()} == EXPECTED
    res = engine.sql(
        orphan_sql(engine.quote, "AccountId", "AccountId"),
        {"child": TableAt(table=ref, version=2), "parent": parent},
    )
    assert res.to_pylist()[0]["orphans"] == 1
