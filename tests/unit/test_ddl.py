"""sql/metadata_tables.sql is generated from the Python schemas, and it is valid Spark SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmd_runtime.store.ddl import render_ddl
from fmd_runtime.store.schemas import ALL_TABLES

SQL = Path(__file__).resolve().parents[2] / "sql" / "metadata_tables.sql"


def test_checked_in_ddl_matches_the_python_schemas() -> None:
    assert SQL.read_text() == render_ddl(), "sql/metadata_tables.sql is stale: run `make ddl`"


def test_every_table_and_column_is_in_the_ddl() -> None:
    text = render_ddl("meta")
    for table in ALL_TABLES:
        assert f"CREATE TABLE IF NOT EXISTS `meta`.`{table.name}` (" in text
        for col in table.columns:
            assert f"`{col.name}` {col.type}" in text


@pytest.mark.spark
def test_ddl_parses_and_runs_on_spark(spark, tmp_path) -> None:
    # Local Spark has no Delta here: run the same statements as parquet tables to prove the SQL
    # (types, NOT NULL, comments, escaping) is accepted by Spark's parser and analyzer.
    schema = "fmd_ddl_check"
    text = render_ddl(schema).replace("USING DELTA", "USING parquet")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in body.split(";\n") if s.strip()]
    try:
        for statement in statements:
            spark.sql(statement.rstrip(";"))
        rows = spark.sql(f"SHOW TABLES IN {schema}").collect()
        tables = {
            r.tableName.lower() for r in rows if not r.isTemporary
        }  # other tests own temp views
        assert tables == {t.name.lower() for t in ALL_TABLES}
        cols = spark.table(f"{schema}.CheckpointHistory").schema
        assert [f.name for f in cols] == [c.name for c in ALL_TABLES[3].columns]
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
