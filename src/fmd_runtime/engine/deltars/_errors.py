"""delta-rs / pyarrow / OS errors, translated into the `fmd_runtime.errors` tree (``raise ... from``).

A failed commit is a transient `ConcurrentWriteError`, unless delta-rs names a table feature it
lacks (then a terminal `UnsupportedFeatureError`: no retry adds a feature); a log that exists but
does not parse is a `CorruptLogError` naming the file; VACUUM's retention check a
`RetentionError`; anything else of the engine's an `EngineError`. Programming errors pass
through. Whether a raw delta-rs error is transient is answered for the retry predicate by
`fmd_runtime.engine._native_errors.is_deltars_conflict` (registered with the port).

Example:
    >>> _first_line(ValueError("boom\\nstack"))
    'boom'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from fmd_runtime.engine import unsupported_feature_error
from fmd_runtime.engine._native_errors import is_deltars_conflict
from fmd_runtime.engine.deltars._features import FIX, unsupported_features
from fmd_runtime.errors import (
    ConcurrentWriteError,
    CorruptLogError,
    EngineError,
    FmdError,
    RetentionError,
    TableNotFoundError,
)
from fmd_runtime.tables import TableRef

_CORRUPT_JSON = re.compile(r"(?i)json error|truncated record|eof while parsing")
_NO_METADATA = "No table metadata or protocol found"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def corrupt_log_error(
    table: TableRef | None, operation: str, native: str, found: tuple[str, str] | None
) -> CorruptLogError:
    """The error of a log that exists but does not parse, naming the file when it was found.

    Args:
        table: the table.
        operation: what was being done.
        native: delta-rs' own words, shown when the file was not found.
        found: ``(file, problem)`` of the corrupt commit file, if located.
    """
    where = f"the commit file {found[0]} ({found[1]})" if found else f"a commit file ({native})"
    return CorruptLogError(
        f"{operation}: {where} is truncated or corrupt, so no engine can read the versions "
        "that need it; this is not log cleanup, the file is there",
        table=table.name if table else None,
        hint="restore the file from the copy or backup it came from (an interrupted copy, "
        "upload or manual edit cuts files short) and do not write to the table until then; "
        "never delete it (the table would silently lose that commit)",
        details={"file": found[0] if found else None, "operation": operation},
    )


@contextlib.contextmanager
def translate(
    table: TableRef | None,
    operation: str,
    *,
    location: str,
    engine_label: str,
    find_corrupt: Callable[[], tuple[str, str] | None],
) -> Iterator[None]:
    """Translate delta-rs / pyarrow / OS errors into the FmdError tree.

    Args:
        table: the table concerned (None for a lakehouse-wide call).
        operation: what was being done, first in the message.
        location: where the table (or lakehouse) is, for a table-not-found error.
        engine_label: the engine as errors name it (``delta-rs (deltalake 1.6.6)``).
        find_corrupt: locates the corrupt commit file of the table, if any (called only for
            errors that say the log does not parse).
    """
    from deltalake import exceptions as dlx

    name = table.name if table else None
    try:
        yield
    except FmdError:
        raise
    except dlx.TableNotFoundError as exc:
        raise TableNotFoundError(
            f"{operation}: table not found at {location}",
            table=name,
            hint="check the name and the lakehouse root, or create the table first",
        ) from exc
    except dlx.CommitFailedError as exc:
        features = unsupported_features(str(exc))
        if features is not None:  # never a conflict: no retry adds a feature to delta-rs
            raise unsupported_feature_error(
                name, features, engine=engine_label, operation=operation
            ) from exc
        raise ConcurrentWriteError(
            f"{operation}: commit conflicted with another writer ({_first_line(exc)})",
            table=name,
            hint="retry the operation; it is safe to re-run",
        ) from exc
    except (dlx.DeltaError, dlx.DeltaProtocolError, dlx.SchemaMismatchError, OSError) as exc:
        features = unsupported_features(str(exc))
        if features is not None:
            raise unsupported_feature_error(
                name, features, engine=engine_label, operation=operation
            ) from exc
        if _CORRUPT_JSON.search(str(exc)):  # the log is there but does not parse: not cleanup
            found = find_corrupt() if table is not None else None
            raise corrupt_log_error(table, operation, _first_line(exc), found) from exc
        found = find_corrupt() if table and _NO_METADATA in str(exc) else None
        if found:  # an empty first commit reads as a log without a table
            raise corrupt_log_error(table, operation, _first_line(exc), found) from exc
        if "Invalid retention period" in str(exc):  # VACUUM's check, as Spark's: RetentionError
            raise RetentionError(
                f"{operation}: retention below Delta's safety check: {_first_line(exc)}",
                table=name,
                hint="keep retention >= the table's delta.deletedFileRetentionDuration, or "
                "vacuum with enforce_retention=False",
            ) from exc
        raise EngineError(
            f"{operation} failed: {type(exc).__name__}: {_first_line(exc)}",
            table=name,
            hint="see the chained Delta error; check the table's history and storage access",
        ) from exc
    except Exception as exc:  # pyarrow / arro3 errors have no common base worth naming
        if type(exc).__module__.split(".")[0] in {"pyarrow", "arro3", "deltalake", "_internal"}:
            raise EngineError(
                f"{operation} failed: {type(exc).__name__}: {_first_line(exc)}",
                table=name,
                hint="see the chained error",
            ) from exc
        raise


def dv_restore_error(table: TableRef, deltalake_version: str) -> EngineError:
    """The refusal of a RESTORE of a deletion-vector table on a deltalake that no-ops it."""
    return EngineError(
        f"restore refused: deltalake {deltalake_version} commits a RESTORE of a "
        "deletion-vector table that changes nothing (delta-rs #4613)",
        table=table.name,
        hint=FIX + "; or run the rollback from a Spark notebook",
    )


def restore_mismatch_error(
    table: TableRef, version: int, after: int, expected: set[Any], actual: set[Any]
) -> EngineError:
    """The error of a RESTORE whose new version's files differ from the target version's."""
    return EngineError(
        f"restore to version {version} committed version {after} but its files differ from the "
        f"target's ({len(expected - actual)} missing, {len(actual - expected)} extra)",
        table=table.name,
        hint="do not trust this table's state; restore it with Spark (RESTORE TABLE) and re-validate",
    )


__all__ = [
    "corrupt_log_error",
    "dv_restore_error",
    "is_deltars_conflict",
    "restore_mismatch_error",
    "translate",
]
