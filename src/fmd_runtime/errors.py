"""The one exception hierarchy of fmd_runtime.

Every error carries its context as attributes (``table``, ``entity``, ``run_id`` and ``hint``)
and puts it first in its message, then says what the operator can do::

    FmdError                      root: catch this to catch everything the library raises
    ├── ConfigError               bad RuntimeConfig / connect() arguments / PipelineConfig values
    ├── InvalidIdentifierError    a schema, table or column name that is not a plain identifier
    ├── ContractViolation         notebook parameters or metadata rows break their contract
    ├── EngineError               a Delta operation failed (native error chained as __cause__)
    │   ├── TableNotFoundError    the table does not exist (or not at that version)
    │   ├── ConcurrentWriteError  a commit lost a race with another writer (transient)
    │   ├── UnsupportedFeatureError  the table uses a Delta feature this engine cannot handle
    │   ├── CorruptLogError       a commit file of the table's _delta_log is truncated or corrupt
    │   └── RetentionError        a retention/VACUUM request below a safety floor
    ├── StoreError                the metadata store could not read or write its tables
    ├── WatermarkError            a watermark is malformed, goes backwards or is committed twice
    ├── SchemaDriftError          an incoming schema breaks the table's drift policy
    ├── DeletionLimitError        a merge's circuit breaker refused it (too many deletes/changes)
    ├── CircuitOpenError          a source's circuit breaker is open: its entities fail fast
    ├── CheckpointError           a checkpoint is missing, invalid or not restorable
    ├── RollbackError             a rollback was refused or failed
    │   └── ApprovalError         the approval token is missing or stale
    ├── MaintenanceError          a maintenance plan was refused
    └── PreflightError            a preflight found findings that block the run

``transient`` marks errors that a retry may cure (the retry predicate reads it); ``terminal``
marks errors no retry can cure even when their native cause looks like a conflict (delta-rs
reports an unsupported table feature as a failed commit).

Example:
    >>> try:
    ...     raise TableNotFoundError("no such table", table="bronze.account")
    ... except FmdError as exc:
    ...     print(exc)
    In table `bronze.account`: no such table
"""

from __future__ import annotations

from typing import Any

_WHAT = "What to do:"
"""The words that introduce an error's hint (once per message, however errors nest)."""


class FmdError(Exception):
    """Root of every error the library raises.

    Args:
        message: what went wrong, without the context prefix (added here).
        table: the table concerned, as ``schema.table``.
        entity: the entity (metadata EntityId or name) concerned.
        run_id: the run under which it happened.
        hint: what the operator can do about it; appended to the message.
        details: further structured context (never secrets).

    Example:
        >>> str(FmdError("boom", table="bronze.a", hint="re-run"))
        'In table `bronze.a`: boom. What to do: re-run'
    """

    transient: bool = False
    terminal: bool = False

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        entity: str | None = None,
        run_id: str | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.table = table
        self.entity = entity
        self.run_id = run_id
        self.hint = hint
        self.details = dict(details or {})
        super().__init__(self._render())

    def _render(self) -> str:
        prefix = []
        if self.entity:
            prefix.append(f"In entity `{self.entity}`")
        if self.table:
            prefix.append(f"In table `{self.table}`")
        text = ": ".join(prefix + [self.message]) if prefix else self.message
        if self.hint:
            # An error built from another one (``f"... failed: {exc}"``, ``hint=str(exc)``)
            # already carries "What to do:": say it once, the inner advice first.
            hint = self.hint.replace(f". {_WHAT} ", "; ").removeprefix(f"{_WHAT} ")
            if _WHAT in text:
                text = f"{text.rstrip('.')}; then {hint}"
            else:
                text = f"{text.rstrip('.')}. {_WHAT} {hint}"
        return text


class ConfigError(FmdError):
    """Invalid runtime configuration or table configuration."""


class InvalidIdentifierError(FmdError, ValueError):
    """A schema, table or column name that is not a plain identifier."""


class ContractViolation(FmdError, ValueError):
    """Notebook parameters or metadata rows break their declared contract."""


class EngineError(FmdError):
    """A Delta operation failed in the engine; the native error is chained as ``__cause__``."""


class TableNotFoundError(EngineError):
    """The table (or the requested version of it) does not exist."""


class ConcurrentWriteError(EngineError):
    """A commit conflicted with another writer; retrying usually succeeds."""

    transient = True


class UnsupportedFeatureError(EngineError):
    """The table uses a Delta table feature this engine cannot read or commit to; never retried.

    Tables written by Spark can carry writer features delta-rs does not support (identity
    columns, row tracking, domain metadata, liquid clustering...): the embedded engine reads them
    but must not commit to them. ``details["features"]`` lists the features (protocol names) and
    ``details["operation"]`` what was refused; the hint says where to run it instead.
    """

    terminal = True


class CorruptLogError(EngineError):
    """A commit file of the table's ``_delta_log`` is truncated or corrupt; never retried.

    ``details["file"]`` names the file when it could be found. This is not log cleanup: the file
    exists but cannot be parsed (an interrupted copy or upload, a manual edit).
    """

    terminal = True


class RetentionError(EngineError):
    """A retention or VACUUM request below a safety floor."""


class StoreError(FmdError):
    """The metadata store could not read or write one of its tables."""


class WatermarkError(FmdError):
    """A watermark value is malformed, would move backwards, or the protocol was misused."""


class SchemaDriftError(FmdError):
    """An incoming schema breaks the target table's drift policy."""


class DeletionLimitError(FmdError):
    """A merge's circuit breaker refused it before committing: it would soft-delete more of the
    table's active rows, or change more rows, than the table's limits allow.

    ``details`` holds the numbers (``counts``, ``limits``, ``baseline``) and ``sample_keys``, a
    few keys of the rows it would have deleted. No retry can cure it: fix the source, or re-run
    with an explicit, audited override and a reason.
    """

    terminal = True


class CircuitOpenError(FmdError):
    """A source's circuit breaker is open: the source failed repeatedly, its entities are
    refused at once instead of each retrying and failing on its own.

    ``details`` holds ``source``, ``failures`` (consecutive transient failures counted),
    ``opened_at``, ``open_until`` (when one entity is let through as a probe) and, while a
    probe runs, ``probe_entity``. Not transient: a retry inside the run cannot cure it; fix the
    source, wait for the probe, or reset the breaker (``rt.runs.reset_circuit``).

    Example:
        >>> CircuitOpenError("source crm is unavailable", details={"source": "crm"}).details
        {'source': 'crm'}
    """

    terminal = True


class CheckpointError(FmdError):
    """A checkpoint is missing, invalid, or not restorable."""


class RollbackError(FmdError):
    """A rollback was refused by validation or failed while executing."""


class ApprovalError(RollbackError):
    """The approval token is missing, malformed, or no longer matches the tables' state."""


class MaintenanceError(FmdError):
    """A maintenance request was refused (unsafe retention, unknown table...)."""


class PreflightError(FmdError):
    """A preflight found CRITICAL or HIGH findings: the job must not run until they are fixed.

    Raised by ``PreflightReport.assert_ok()`` (a notebook stops at its preflight cell);
    ``details["exit"]`` holds the report's exit dict (status, counts, the blocking findings).
    """


__all__ = [
    "ApprovalError",
    "CheckpointError",
    "CircuitOpenError",
    "ConcurrentWriteError",
    "ConfigError",
    "ContractViolation",
    "CorruptLogError",
    "DeletionLimitError",
    "EngineError",
    "FmdError",
    "InvalidIdentifierError",
    "MaintenanceError",
    "PreflightError",
    "RetentionError",
    "RollbackError",
    "SchemaDriftError",
    "StoreError",
    "TableNotFoundError",
    "UnsupportedFeatureError",
    "WatermarkError",
]
