"""Watermarks with Spark DataFrames: high values and Spark-dialect predicates on real rows."""

from __future__ import annotations

from datetime import datetime

import pytest

pytestmark = pytest.mark.spark


def test_high_from_dataframe_and_spark_predicates_filter_real_rows(spark) -> None:
    from fmd_runtime.watermarks import Window, high_from

    df = spark.createDataFrame(
        [
            (
                1,
                datetime(2025, 1, 15, 2, 30),
                datetime(2025, 1, 15, 3, 30),
                bytearray(b"\x00" * 5 + b"\x0a\x1b\x2c"),
            ),
            (
                2,
                datetime(2025, 1, 14, 0, 0),
                datetime(2025, 1, 1, 0, 0),
                bytearray(b"\x00" * 7 + b"\x01"),
            ),
        ],
        "Id bigint, At timestamp, Local timestamp_ntz, Rv binary",
    )
    tz = spark.conf.get("spark.sql.session.timeZone")
    try:
        # the session zone is not the instant's zone: high_from must not depend on it
        spark.conf.set("spark.sql.session.timeZone", "America/New_York")
        at = high_from(df, "At", "datetime")
    finally:
        spark.conf.set("spark.sql.session.timeZone", tz)
    # the rows were created from naive datetimes in the UTC session of the shared fixture
    assert at == "2025-01-15T02:30:00.000000+00:00"
    assert high_from(df, "Local", "datetime", source_tz="Europe/Amsterdam") == at
    assert high_from(df, "id", "int") == "2"
    assert high_from(df, "Rv", "rowversion") == "0x00000000000A1B2C"
    assert high_from(df.limit(0), "Id", "int") is None

    w = Window(
        entity="e",
        kind="datetime",
        low="2025-01-14T12:00:00.000000+00:00",
        effective_low="2025-01-14T12:00:00.000000+00:00",
        run_id="r",
    )
    assert [r.Id for r in df.filter(w.predicate("At", dialect="spark")).collect()] == [1]
    rv = Window(
        entity="e",
        kind="rowversion",
        low="0x0000000000000001",
        effective_low="0x0000000000000001",
        run_id="r",
    )
    assert [r.Id for r in df.filter(rv.predicate("Rv", dialect="spark")).collect()] == [1]
    assert df.filter(rv.predicate("Rv", dialect="spark", upper="0xA1B2B")).count() == 0
