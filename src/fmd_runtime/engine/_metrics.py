"""Typed commit counts from a commit's raw ``operationMetrics``, whichever engine wrote it.

A commit's metric names belong to its writer, not to the engine reading the history: Spark
writes camelCase (``numOutputRows``, ``numAddedFiles``), delta-rs snake_case (``num_added_rows``,
``num_added_files``), and one table can hold commits of both (a table written from Fabric Spark
and from a Python notebook). Both adapters therefore fill `HistoryEntry`'s typed counts through
this one table of names, so code above the port never reads an engine's metric names.

The names were read from real commits (append, overwrite, UPDATE, DELETE, MERGE, OPTIMIZE and
RESTORE) on delta-rs 1.6, Delta 3.2 (Spark 3.5) and Delta 4.2 (Spark 4.1).

Example:
    >>> commit_counts({"numOutputRows": "3", "numOutputBytes": 706, "numFiles": 1})["rows_added"]
    3
    >>> commit_counts({"num_added_rows": 2, "num_added_files": 1, "num_removed_files": 0})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'rows_added': 2, 'rows_updated': None, 'rows_deleted': None, 'files_added': 1,
     'files_removed': 0, 'bytes_added': None, 'bytes_removed': None}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Typed field -> the raw names that carry it, first present wins. MERGE's inserted rows come
# before a write's output rows: a MERGE's ``numOutputRows`` also counts the rows it rewrote.
_NAMES: dict[str, tuple[str, ...]] = {
    "rows_added": (
        "numTargetRowsInserted",  # Spark MERGE
        "num_target_rows_inserted",  # delta-rs MERGE
        "num_added_rows",  # delta-rs WRITE
        "numOutputRows",  # Spark WRITE / CREATE OR REPLACE AS SELECT
    ),
    "rows_updated": (
        "numUpdatedRows",  # Spark UPDATE
        "num_updated_rows",  # delta-rs UPDATE
        "numTargetRowsUpdated",  # Spark MERGE
        "num_target_rows_updated",  # delta-rs MERGE (the port's update)
    ),
    "rows_deleted": (
        "numDeletedRows",  # Spark DELETE
        "num_deleted_rows",  # delta-rs DELETE
        "numTargetRowsDeleted",  # Spark MERGE
        "num_target_rows_deleted",  # delta-rs MERGE
    ),
    "files_added": (
        "numAddedFiles",  # Spark UPDATE / DELETE / OPTIMIZE
        "numFiles",  # Spark WRITE
        "numTargetFilesAdded",  # Spark MERGE
        "numRestoredFiles",  # Spark RESTORE
        "num_added_files",  # delta-rs WRITE / DELETE / UPDATE
        "num_target_files_added",  # delta-rs MERGE
        "numFilesAdded",  # delta-rs OPTIMIZE
        "numRestoredFile",  # delta-rs RESTORE
    ),
    "files_removed": (
        "numRemovedFiles",  # Spark UPDATE / DELETE / OPTIMIZE / RESTORE
        "numTargetFilesRemoved",  # Spark MERGE
        "num_removed_files",  # delta-rs WRITE / DELETE / UPDATE
        "num_target_files_removed",  # delta-rs MERGE
        "numFilesRemoved",  # delta-rs OPTIMIZE
        "numRemovedFile",  # delta-rs RESTORE
    ),
    "bytes_added": (
        "numAddedBytes",  # Spark UPDATE / DELETE / OPTIMIZE
        "numOutputBytes",  # Spark WRITE
        "numTargetBytesAdded",  # Spark MERGE
        "restoredFilesSize",  # Spark RESTORE
    ),
    "bytes_removed": (
        "numRemovedBytes",  # Spark UPDATE / DELETE / OPTIMIZE
        "numTargetBytesRemoved",  # Spark MERGE
        "removedFilesSize",  # Spark RESTORE
    ),
}
# delta-rs OPTIMIZE reports the sizes only inside a JSON summary of the files added / removed.
_SIZE_SUMMARIES = {"bytes_added": "filesAdded", "bytes_removed": "filesRemoved"}

COMMIT_COUNT_FIELDS = tuple(_NAMES)
"""The typed count fields of `HistoryEntry`, in declaration order."""


def _count(value: Any) -> int | None:
    """An integer count from a raw metric value (int, float, numeric string); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _summary_size(value: Any) -> int | None:
    """``totalSize`` of delta-rs' file summary (``'{"totalFiles":1,"totalSize":801,...}'``)."""
    found = value
    if isinstance(value, str):
        try:
            found = json.loads(value)
        except ValueError:
            return None
    return _count(found.get("totalSize")) if isinstance(found, dict) else None


def commit_counts(metrics: Mapping[str, Any]) -> dict[str, int | None]:
    """The typed counts of one commit (`HistoryEntry`'s fields) from its raw metrics.

    Args:
        metrics: the commit's ``operationMetrics`` as read from the history, either writer's
            names, values as ints or numeric strings.

    Returns:
        One entry per field of `COMMIT_COUNT_FIELDS`; None where the commit does not report it.

    Example:
        >>> commit_counts({"numTargetRowsInserted": 1, "numOutputRows": 5})["rows_added"]
        1
    """
    out: dict[str, int | None] = {}
    for field, names in _NAMES.items():
        found = None
        for name in names:
            if name in metrics:
                found = _count(metrics[name])
                if found is not None:
                    break
        if found is None and field in _SIZE_SUMMARIES and _SIZE_SUMMARIES[field] in metrics:
            found = _summary_size(metrics[_SIZE_SUMMARIES[field]])
        out[field] = found
    return out


__all__ = ["COMMIT_COUNT_FIELDS", "commit_counts"]
