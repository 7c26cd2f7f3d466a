"""Spark SQL DDL of the metadata tables, generated from `fmd_runtime.store.schemas`.

``python -m fmd_runtime.store.ddl [SCHEMA] > sql/metadata_tables.sql`` regenerates the checked-in
file (``make ddl``); a test fails when the two differ. The statements come from the SQL text
builders the Spark adapter runs itself (`fmd_runtime.engine.sqltext.create_table_statement`), so
the file is exactly what ``rt.store.ensure()`` runs on Spark; the store imports no adapter.
"""

from __future__ import annotations

import sys

from fmd_runtime.engine.sqltext import create_schema_statement, create_table_statement
from fmd_runtime.store import DEFAULT_METADATA_SCHEMA
from fmd_runtime.store.schemas import ALL_TABLES
from fmd_runtime.tables import TableRef, validate_identifier


def render_ddl(schema: str = DEFAULT_METADATA_SCHEMA) -> str:
    """The DDL of every metadata table in ``schema``, one statement per table, ``;``-terminated.

    Example:
        >>> render_ddl().splitlines()[0]
        '-- Generated from fmd_runtime.store.schemas by `python -m fmd_runtime.store.ddl`. Do not edit.'
    """
    validate_identifier(schema, what="metadata schema")
    out = [
        "-- Generated from fmd_runtime.store.schemas by `python -m fmd_runtime.store.ddl`. Do not edit.",
        f"-- Metadata tables of fmd_runtime in schema `{schema}` (Spark SQL, Delta).",
        "",
        create_schema_statement(TableRef(schema_name=schema, table=ALL_TABLES[0].name)) + ";",
    ]
    for table in ALL_TABLES:
        ref = TableRef(schema_name=schema, table=table.name)
        statement = create_table_statement(ref, table.columns, comment=table.comment)
        # One column per line keeps the file reviewable; the statement itself is unchanged.
        head, _, rest = statement.partition(" (")
        body, _, tail = rest.rpartition(") USING DELTA")
        columns = _split_columns(body)
        out += ["", f"{head} (", ",\n".join(f"    {c}" for c in columns), f") USING DELTA{tail};"]
    return "\n".join(out) + "\n"


def _split_columns(body: str) -> list[str]:
    """Split a column list on the commas that are outside quotes and parentheses."""
    parts, depth, quote, current = [], 0, False, ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "'" and not (quote and body[i - 1] == "\\"):
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and not quote and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current.strip())
    return parts


__all__ = ["render_ddl"]


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_ddl(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_METADATA_SCHEMA))
