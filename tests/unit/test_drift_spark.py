"""Schema drift with Spark schemas and DataFrames (the shared local session, no Delta needed)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from fmd_runtime import SchemaDriftError
from fmd_runtime.drift import RawColumn, columns_of, compare_schemas
from fmd_runtime.engine import Column

pytestmark = pytest.mark.spark

TARGET = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="Score", type="int"),
    Column(name="Name", type="string"),
]


@pytest.fixture
def targets(rt):
    for name in ("bronze.acc", "silver.acc", "landing.acc"):
        ref = rt.table(name)
        rt.engine.create(ref, TARGET)
        rt.engine.write(
            ref,
            pa.table(
                {"Id": pa.array([1], pa.int64()), "Score": pa.array([5], pa.int32()), "Name": ["a"]}
            ),
        )
    return rt


def test_columns_of_struct_type_and_dataframe(spark) -> None:
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("Id", T.LongType(), False),
            T.StructField("Score", T.IntegerType()),
            T.StructField("Amount", T.DecimalType(18, 2)),
            T.StructField("At", T.TimestampType()),
            T.StructField("Local", T.TimestampNTZType()),
            T.StructField("Tags", T.ArrayType(T.StringType())),
        ]
    )
    cols = columns_of(schema)
    assert [(c.name, c.type, c.nullable) for c in cols] == [
        ("Id", "bigint", False),
        ("Score", "int", True),
        ("Amount", "decimal(18,2)", True),
        ("At", "timestamp", True),
        ("Local", "timestamp_ntz", True),
        ("Tags", "array<string>", True),
    ]
    assert isinstance(cols[-1], RawColumn)
    df = spark.createDataFrame([], schema)
    assert columns_of(df) == cols
    report = compare_schemas(cols, TARGET, table="bronze.acc")
    assert {(c.column, c.change) for c in report.changes if c.change in ("added", "removed")} == {
        ("Amount", "added"),
        ("At", "added"),
        ("Local", "added"),
        ("Tags", "added"),
        ("Name", "removed"),
    }


def test_bronze_dataframe_with_added_and_widened_columns_passes_aligned(spark, targets) -> None:
    from chispa import assert_df_equality

    rt = targets
    df = spark.createDataFrame(
        [(2, 2**40, "b", "EU")], "id bigint, Score bigint, Name string, Region string"
    )
    res = rt.drift.enforce(df, "bronze.acc", layer="bronze")
    assert res.write_options == {"schema_mode": "merge"}
    assert rt.engine.snapshot(rt.table("bronze.acc")).columns[1].type == "bigint"  # target evolved
    expected = spark.createDataFrame(
        [(2, 2**40, "b", "EU")], "Id bigint, Score bigint, Name string, Region string"
    )
    assert_df_equality(res.frame, expected)


def test_silver_dataframe_with_the_same_change_is_refused(spark, targets) -> None:
    df = spark.createDataFrame(
        [(2, 7, "b", "EU")], "Id bigint, Score bigint, Name string, Region string"
    )
    with pytest.raises(SchemaDriftError) as info:
        targets.drift.enforce(df, "silver.acc", layer="silver")
    assert "`Score` changed type int -> bigint" in str(info.value) and "`Region` was added" in str(
        info.value
    )


def test_permissive_dataframe_is_reordered_filled_and_cast(spark, targets) -> None:
    from chispa import assert_df_equality

    df = spark.createDataFrame([("7", 3)], "score string, ID bigint")
    res = targets.drift.enforce(df, "landing.acc", layer="landing")
    assert res.decision.fill == ("Name",) and [c.column for c in res.decision.cast] == ["Score"]
    expected = spark.createDataFrame([(3, 7, None)], "Id bigint, Score int, Name string")
    assert_df_equality(res.frame, expected)


def test_spark_enforce_with_a_decimal_widening_keeps_values(spark, targets) -> None:
    rt = targets
    ref = rt.table("bronze.money")
    rt.engine.create(
        ref, [Column(name="Id", type="bigint"), Column(name="Amount", type="decimal(10,2)")]
    )
    rt.engine.write(
        ref,
        pa.table(
            {
                "Id": pa.array([1], pa.int64()),
                "Amount": pa.array([Decimal("1.50")], pa.decimal128(10, 2)),
            }
        ),
    )
    df = spark.createDataFrame([(2, Decimal("123456789012.25"))], "Id bigint, Amount decimal(14,2)")
    res = rt.drift.enforce(df, "bronze.money", layer="bronze")
    assert res.evolved_version is not None and not res.write_options
    assert rt.engine.snapshot(ref).columns[1].type == "decimal(14,2)"
    assert rt.engine.read(ref).column("Amount").to_pylist() == [Decimal("1.50")]
    assert res.frame.collect()[0]["Amount"] == Decimal("123456789012.25")
