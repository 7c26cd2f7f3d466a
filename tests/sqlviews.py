"""Running sql/views.sql and the queries documented in docs/ on the shared local Spark session.

The test tier has no Delta for Spark, so the metadata rows the store wrote are saved as parquet
tables in a scratch database and ``metadata.`` is replaced by that database, as an operator would
for another metadata schema; every statement runs as shipped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fmd_runtime.store.schemas import SCHEMAS

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ROOT / "sql" / "views.sql"


def statements(sql: str) -> list[str]:
    """Statements of a SQL file: comment lines dropped, split at semicolons ending a line."""
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def documented_queries(doc: Path) -> dict[str, str]:
    """The ```sql blocks of a doc that start with ``-- query: <name>``."""
    out = {}
    for block in re.findall(r"```sql\n(.*?)```", doc.read_text(), flags=re.S):
        m = re.match(r"--\s*query:\s*(\w+)\s*\n", block)
        if m:
            out[m.group(1)] = block[m.end() :].strip()
    return out


def in_schema(sql: str, schema: str) -> str:
    """The SQL with ``metadata.`` pointed at ``schema``."""
    return re.sub(r"\bmetadata\.", f"{schema}.", sql)


@contextmanager
def metadata_database(
    spark: Any, tables: Mapping[str, list[dict[str, Any]]], *, prefix: str = "fmd_views"
) -> Iterator[str]:
    """A scratch database holding ``tables`` (metadata table -> rows) and every view of views.sql.

    A metadata table the views read but ``tables`` does not give is created empty (a view is
    analysed when it is created: every table it names must exist).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {name}")
    views = VIEWS.read_text()
    named = {t for t in re.findall(r"\bmetadata\.(\w+)", views) if t in SCHEMAS}
    try:
        for table, rows in {**{t: [] for t in sorted(named)}, **tables}.items():
            ddl = ", ".join(f"`{c.name}` {c.type}" for c in SCHEMAS[table].columns)
            spark.createDataFrame(rows, schema=ddl).write.format("parquet").saveAsTable(
                f"{name}.{table}"
            )
        for statement in statements(views):
            spark.sql(in_schema(statement, name))
        yield name
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def run_query(spark: Any, db: str, sql: str, **args: Any) -> list[dict[str, Any]]:
    """Run a documented query against the scratch database with named parameters."""
    return [r.asDict() for r in spark.sql(in_schema(sql, db), args=args or None).collect()]
