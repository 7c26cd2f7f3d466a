"""What a table version is checked against: one-pass counts, zero-tolerance checks, the manifest
digest and the schema fingerprint.

Checkpoints measure and check each pinned version with these; rollback checks the restored
version with the same ones, so "restored exactly" means the same thing in both places: the same
data files (`manifest_digest`), the same shape (`schema_fingerprint`) and counts that pass
`check_measure` against the checkpoint's.

Example:
    >>> m = TableMeasure(table="b.t", version=1, total=3, active=3, deleted=0, purged=0, source="scan")
    >>> [c.check_name for c in check_measure(m, tracked=True, keyed=False)]
    ['TotalRowsKnown', 'NoNegativeCounts', 'CountsAddUp']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime.engine import DataFile, TableSnapshot
from fmd_runtime.store import to_json


class TableMeasure(BaseModel):
    """One-pass counts of a table version (``source``: ``stats`` from the log, or ``scan``)."""

    model_config = FROZEN

    table: str
    version: int
    total: int
    active: int | None = None
    deleted: int | None = None
    purged: int | None = None
    null_keys: int | None = None
    source: str


class ValidationCheck(BaseModel):
    """One check result, as written to ``DataValidation``."""

    model_config = FROZEN

    table: str | None
    check_name: str
    expected: str | None = None
    actual: str | None = None
    passed: bool
    tolerance: float = 0.0
    severity: str = "INFO"
    message: str | None = None


def manifest_digest(files: Sequence[DataFile]) -> str:
    """SHA-256 over the sorted (path, deletion-vector id, size) of a version's data files.

    Two versions with the same digest need exactly the same files: rollback compares the restored
    version's digest with the checkpoint's to prove the restore is exact.

    Example:
        >>> a = DataFile(path="p1.parquet", size_bytes=10)
        >>> manifest_digest([a]) == manifest_digest([a]) != manifest_digest([])
        True
    """
    h = hashlib.sha256()
    for path, dv, size in sorted((f.path, f.deletion_vector or "", f.size_bytes) for f in files):
        h.update(f"{path}\t{dv}\t{size}\n".encode())
    return h.hexdigest()


def schema_fingerprint(snapshot: TableSnapshot) -> str:
    """SHA-256 of a version's columns (name, type, nullability), partitioning and protocol.

    Table properties are left out on purpose: raising a retention property is not a change of
    shape. Example: ``schema_fingerprint(engine.snapshot(ref, 4))``.
    """
    p = snapshot.protocol
    body = {
        "columns": [[c.name, c.type, c.nullable] for c in snapshot.columns],
        "partition_columns": list(snapshot.partition_columns),
        "protocol": [
            p.min_reader_version,
            p.min_writer_version,
            sorted(p.reader_features),
            sorted(p.writer_features),
        ],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def aggregation_sql(
    quote: Callable[[str], str],
    *,
    deleted_flag: str | None,
    purged_flag: str | None,
    keys: Sequence[str],
) -> str:
    """The one-pass aggregation over ``{t}``: total, deleted, purged, active and null keys.

    One statement, each column read at most once: the flags in one aggregation (``COUNT(*)
    FILTER``, the SQL-standard form of ``SUM(CASE WHEN ...)``, faster on DataFusion and valid
    Spark SQL); the null-key count as a scalar subquery over the same version, so both engines
    answer it from the files' null-count statistics without reading the key columns when those
    prove them non-null. Flags are booleans; NULL counts as not set. A row flagged both deleted
    and purged counts in both buckets, so ``active + deleted + purged`` exceeds the total and
    validation catches it.

    Example:
        >>> print(aggregation_sql(lambda c: f'"{c}"', deleted_flag="D", purged_flag=None, keys=[]))
        SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE "D") AS deleted, COUNT(*) FILTER (WHERE NOT COALESCE("D", FALSE)) AS active FROM {t}
    """
    parts = ["COUNT(*) AS total"]
    flags = [quote(f) for f in (deleted_flag, purged_flag) if f]
    if deleted_flag:
        parts.append(f"COUNT(*) FILTER (WHERE {quote(deleted_flag)}) AS deleted")
    if purged_flag:
        parts.append(f"COUNT(*) FILTER (WHERE {quote(purged_flag)}) AS purged")
    if flags:
        parts.append(f"COUNT(*) FILTER (WHERE NOT COALESCE({' OR '.join(flags)}, FALSE)) AS active")
    if keys:
        nulls = " OR ".join(f"{quote(k)} IS NULL" for k in keys)
        parts.append(f"(SELECT COUNT(*) FROM {{t}} WHERE {nulls}) AS null_keys")
    return f"SELECT {', '.join(parts)} FROM {{t}}"


def check_measure(
    m: TableMeasure, *, tracked: bool, keyed: bool, tolerance: float = 0.0
) -> list[ValidationCheck]:
    """Zero-tolerance checks of one table's counts (tolerance applies to the sum check only).

    Checks: ``TotalRowsKnown``, ``NoNegativeCounts``, ``CountsAddUp`` (active + deleted + purged
    = total, tables with tracking columns) and ``NoNullPrimaryKeys`` (tables with keys).

    Example:
        >>> m = TableMeasure(table="b.t", version=1, total=3, active=1, deleted=1, purged=2, source="scan")
        >>> [c.check_name for c in check_measure(m, tracked=True, keyed=False) if not c.passed]
        ['CountsAddUp']
    """
    t = m.table
    counts = {"total": m.total, "active": m.active, "deleted": m.deleted, "purged": m.purged}
    negative = {k: v for k, v in counts.items() if v is not None and v < 0}
    checks = [
        ValidationCheck(
            table=t,
            check_name="TotalRowsKnown",
            expected="a count",
            actual=str(m.total),
            passed=m.total is not None,
            severity="INFO",
            message=f"counted from {m.source}",
        ),
        ValidationCheck(
            table=t,
            check_name="NoNegativeCounts",
            expected="all >= 0",
            actual=to_json(negative) if negative else "none negative",
            passed=not negative,
            severity="HIGH" if negative else "INFO",
            message=f"negative counts {negative}" if negative else None,
        ),
    ]
    if tracked:
        total = (m.active or 0) + (m.deleted or 0) + (m.purged or 0)
        diff = abs(total - m.total)
        passed = diff <= tolerance * m.total
        checks.append(
            ValidationCheck(
                table=t,
                check_name="CountsAddUp",
                expected=str(m.total),
                actual=str(total),
                passed=passed,
                tolerance=tolerance,
                severity="HIGH" if not passed else ("LOW" if diff else "INFO"),
                message=None
                if not diff
                else (
                    f"active {m.active} + deleted {m.deleted} + purged {m.purged} = {total}, "
                    f"total {m.total}: {diff} row(s) off"
                    + (
                        f", within tolerance {tolerance:g}"
                        if passed
                        else " (a row flagged both deleted and purged counts twice)"
                    )
                ),
            )
        )
    if keyed:
        ok = m.null_keys == 0
        checks.append(
            ValidationCheck(
                table=t,
                check_name="NoNullPrimaryKeys",
                expected="0",
                actual=str(m.null_keys),
                passed=ok,
                severity="INFO" if ok else "HIGH",
                message=None if ok else f"{m.null_keys} row(s) with a null primary key",
            )
        )
    return checks


__all__ = [
    "TableMeasure",
    "ValidationCheck",
    "aggregation_sql",
    "check_measure",
    "manifest_digest",
    "schema_fingerprint",
]
