"""Activities: a block or a function audited as Start, then End/Skip or Fail.

`Audit.activity` returns an `ActivityScope`; entering it opens an `Activity` on this thread's
stack, so the events raised inside inherit its entity, layer and name (`_inherit`) and retries
are counted on it (`fmd_runtime.retry` reports them here). The scope writes its events through
the `Recorder` it is given (the `Audit`), which decides when to flush.

Example:
    >>> current_activity() is None
    True
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from fmd_runtime.audit._envelope import _INHERITED, _TARGET
from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.retry import RetryEvent, observe_retries

F = TypeVar("F", bound=Callable[..., Any])


class SourceGate(Protocol):
    """What an activity asks before it starts and tells when it ends, about the source it names
    (the source circuit breaker of ``rt.runs`` implements it; the Runtime wires it in, so the
    audit never imports the run ledger).

    ``enter`` may raise (`fmd_runtime.errors.CircuitOpenError`: the activity does not start);
    ``leave`` never should (its errors are logged, never raised over the block's own).
    """

    def enter(self, fields: Mapping[str, Any]) -> None:
        """Before the activity's Start: raise to refuse it."""
        ...

    def leave(self, fields: Mapping[str, Any], error: BaseException | None) -> None:
        """After its End / Fail: ``error`` is the block's exception (None: it succeeded)."""
        ...


class Recorder(Protocol):
    """What an activity needs of the audit that owns it (`Audit` is the implementation)."""

    def _opened(self) -> bool: ...

    def _gate_enter(self, fields: Mapping[str, Any]) -> None: ...

    def _gate_leave(self, fields: Mapping[str, Any], error: BaseException | None) -> None: ...

    def _closed(self) -> None: ...

    def _auto_flush(self) -> None: ...

    def _safe_event(
        self, operation: str, status: str, fields: Mapping[str, Any], **kwargs: Any
    ) -> bool: ...


class Activity:
    """What a block under `Audit.activity` reports: set counts, status and details before it ends.

    Attributes:
        name: the activity name.
        rows_read / rows_written: counts written on the End event: whole numbers >= 0 (a
            numeric string from a pipeline is parsed), or None. Anything else is refused where
            it is set (`ConfigError` naming the field), so the End/Fail event is always written.
        details: JSON-able details written on the End (or Fail) event; retries are counted here.
        status: End status (``Succeeded``; set ``Warning`` or use `skip`).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._rows_read: int | None = None
        self._rows_written: int | None = None
        self.details: dict[str, Any] = {}
        self.status = "Succeeded"
        self.started: float = time.perf_counter()

    @property
    def rows_read(self) -> int | None:
        """Rows the activity read (RowsRead of its End event)."""
        return self._rows_read

    @rows_read.setter
    def rows_read(self, value: Any) -> None:
        self._rows_read = _row_count(value, "rows_read", self.name)

    @property
    def rows_written(self) -> int | None:
        """Rows the activity wrote (RowsWritten of its End event)."""
        return self._rows_written

    @rows_written.setter
    def rows_written(self, value: Any) -> None:
        self._rows_written = _row_count(value, "rows_written", self.name)

    def skip(self, reason: str | None = None) -> None:
        """End as Skip (Status Skipped) instead of End, e.g. already loaded in this run."""
        self.status = "Skipped"
        if reason:
            self.details["skip_reason"] = reason

    def note_retry(self, event: RetryEvent) -> None:
        """Count a retry of work inside this activity (called by `fmd_runtime.retry`)."""
        self.details["retries"] = int(self.details.get("retries", 0)) + 1
        errors = self.details.setdefault("retry_errors", [])
        if len(errors) < 10:
            errors.append(event.error_type)


_MAX_ROWS = 2**63 - 1  # RowsRead / RowsWritten are bigint


def _row_count(value: Any, field: str, activity: str) -> int | None:
    """A row count as the End event stores it; refused where it is set, naming the field."""
    if value is None:
        return None
    try:
        return int(check_number(value, field, minimum=0, maximum=_MAX_ROWS, integer=True))
    except ConfigError as exc:
        raise ConfigError(f"activity {activity!r}: {exc.message}", hint=exc.hint) from None


_STACK = threading.local()


def _stack() -> list[tuple[Activity, dict[str, Any]]]:
    if not hasattr(_STACK, "items"):
        _STACK.items = []
    items: list[tuple[Activity, dict[str, Any]]] = _STACK.items
    return items


def current_activity() -> Activity | None:
    """The innermost activity open in this thread, or None.

    Example:
        >>> current_activity() is None
        True
    """
    items = _stack()
    return items[-1][0] if items else None


def _inherit(fields: dict[str, Any], owner: Recorder, *, names_target: bool) -> dict[str, Any]:
    """Fill what the caller left out from the innermost activity of ``owner`` in this thread."""
    outer = next((f for _, f in reversed(_stack()) if f.get("_owner") is owner), None)
    if outer is not None:
        for k in _INHERITED if names_target else _INHERITED + _TARGET:
            if fields.get(k) is None:
                fields[k] = outer.get(k)
    return fields


class ActivityScope:
    """`Audit.activity`'s result: a context manager yielding an `Activity`, and a decorator.

    As a decorator each call of the function is one activity (Start, End/Fail); inside it,
    `current_activity` gives the `Activity` to set counts on.
    """

    def __init__(self, audit: Recorder, fields: dict[str, Any], *, names_target: bool) -> None:
        self._audit = audit
        self._fields = fields
        self._names_target = names_target
        self._resolved: dict[str, Any] = fields
        self._act: Activity | None = None

    def __enter__(self) -> Activity:
        self._resolved = fields = _inherit(
            dict(self._fields), self._audit, names_target=self._names_target
        )
        fields["_owner"] = self._audit
        self._audit._gate_enter(fields)  # an open source circuit refuses before the Start
        act = self._act = Activity(fields["ActivityName"])
        outermost = self._audit._opened()
        _stack().append((act, fields))
        self._audit._safe_event("Start", "Started", fields)
        if outermost:
            # One commit now: a notebook killed by a timeout (no End, no atexit) still leaves
            # its Start, and vw_RunStatus shows the run as started and never ended. The events
            # inside stay batched until the outermost activity ends.
            self._audit._auto_flush()
        act.started = time.perf_counter()
        return act

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        act = self._act
        assert act is not None
        ms = int((time.perf_counter() - act.started) * 1000)
        kw = dict(rows_read=act.rows_read, rows_written=act.rows_written, duration_ms=ms)
        try:
            if exc is not None:
                op, status, extra = "Fail", "Failed", {"error": exc, "severity": "HIGH"}
            else:
                op = "Skip" if act.status == "Skipped" else "End"
                status, extra = act.status, {}
            if not self._audit._safe_event(
                op, status, self._resolved, **extra, **kw, details=act.details
            ):
                # The activity always ends in the log: without what could not be recorded
                # (an odd status or details), the duration and the error (if any) kept.
                fallback = "Failed" if exc is not None else "Succeeded"
                note = {"audit_note": f"the {op} event's status or details could not be recorded"}
                self._audit._safe_event(
                    op, fallback, self._resolved, **extra, duration_ms=ms, details=note
                )
        finally:
            items = _stack()
            if items and items[-1][0] is act:
                items.pop()
            self._audit._gate_leave(self._resolved, exc)
            self._audit._closed()
        return False

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with ActivityScope(self._audit, self._fields, names_target=self._names_target):
                return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]


def _note_retry(event: RetryEvent) -> None:
    """Retry observer: the activity open in this thread records the retry (its RetryCount)."""
    act = current_activity()
    if act is not None:
        act.note_retry(event)


observe_retries(_note_retry)
