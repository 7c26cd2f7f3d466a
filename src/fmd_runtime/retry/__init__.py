"""Retry policies (tenacity) and the transient-error classifier.

Three named policies, one per operation class, each exponential backoff with jitter, bounded by
attempts and by a total time budget:

==================  ========  ==============  ==========  ============
policy              attempts  first wait (s)  cap (s)     budget (s)
==================  ========  ==============  ==========  ============
``metadata_write``  5         1               30          120
``table_operation`` 3         2               60          300
``http``            4         1               30          120
==================  ========  ==============  ==========  ============

A 429 that carries ``Retry-After`` waits what the server asked (capped), not the backoff.

What is retried (`is_transient`), checked along the exception and its ``__cause__`` chain:

- native commit conflicts of either engine, as the engine port answers them
  (`fmd_runtime.engine.native_transient`): each engine's classifier knows its own exceptions,
  also where its adapter was never imported; this module names no engine class;
- `ConcurrentWriteError` (any `FmdError` with ``transient``);
- HTTP/storage 408, 429, 500, 502, 503 (``ServerBusy``), 504, timeouts and connection resets.

Never retried: Fabric capacity throttling (429 ``CapacityLimitExceeded``, Spark 430
``TooManyRequestsForCapacity``: waiting seconds does not give capacity back), authorization
(401/403, ``PermissionError``) and validation errors (`ContractViolation`, `ConfigError`,
``ValueError``, ``TypeError``), and any `FmdError` marked ``terminal`` (`UnsupportedFeatureError`,
`CorruptLogError`), whatever its native cause looks like.

Example:
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 2:
    ...         raise TimeoutError("timed out")
    ...     return "ok"
    >>> stats = RetryStats()
    >>> retrying("table_operation", wait_seconds=0, stats=stats)(flaky)(), stats.retries
    ('ok', 1)
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_none,
    wait_random,
)
from tenacity.wait import wait_base

from fmd_runtime.errors import ConfigError
from fmd_runtime.redaction import redact
from fmd_runtime.retry._classify import _text, is_transient, retry_after_seconds, status_of

log = logging.getLogger("fmd_runtime.retry")

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """A named retry policy: exponential backoff with jitter, bounded by attempts and time.

    Attributes:
        name: the operation class (``metadata_write``, ``table_operation``, ``http``).
        attempts: total attempts, the first one included.
        initial: first backoff wait in seconds (doubles each retry).
        max_wait: cap of one backoff wait.
        jitter: random seconds (0..jitter) added to each wait, so writers do not retry in step.
        max_delay: total time budget from the first attempt.
        retry_after_cap: the longest ``Retry-After`` honoured.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    attempts: int
    initial: float
    max_wait: float
    jitter: float
    max_delay: float
    retry_after_cap: float = 120.0


POLICIES: dict[str, RetryPolicy] = {
    "metadata_write": RetryPolicy(
        name="metadata_write", attempts=5, initial=1.0, max_wait=30.0, jitter=1.0, max_delay=120.0
    ),
    "table_operation": RetryPolicy(
        name="table_operation", attempts=3, initial=2.0, max_wait=60.0, jitter=2.0, max_delay=300.0
    ),
    "http": RetryPolicy(
        name="http", attempts=4, initial=1.0, max_wait=30.0, jitter=1.0, max_delay=120.0
    ),
}


class RetryEvent(BaseModel):
    """One retry about to happen: what failed, which attempt, how long it will wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str
    operation: str
    attempt: int
    error_type: str
    error_summary: str
    wait_seconds: float


class RetryStats:
    """Counts attempts and retries of one or more retried calls (thread-safe).

    Put `as_details` into an audit event's Details so the retries show up in the audit log.

    Example:
        >>> stats = RetryStats()
        >>> stats.as_details()
        {'attempts': 0, 'retries': 0, 'waited_seconds': 0.0, 'retry_errors': []}
    """

    def __init__(self) -> None:
        self.attempts = 0
        self.retries = 0
        self.waited_seconds = 0.0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def record_attempt(self) -> None:
        """Count one attempt (called by the policy after each attempt)."""
        with self._lock:
            self.attempts += 1

    def record_retry(self, event: RetryEvent) -> None:
        """Count one retry (called by the policy before it waits)."""
        with self._lock:
            self.retries += 1
            self.waited_seconds += event.wait_seconds
            self.errors.append(event.error_type)

    def as_details(self) -> dict[str, Any]:
        """The counts as a JSON-able dict for audit Details."""
        with self._lock:
            return {
                "attempts": self.attempts,
                "retries": self.retries,
                "waited_seconds": round(self.waited_seconds, 3),
                "retry_errors": list(self.errors[:20]),
            }


# -- policies ------------------------------------------------------------------------------


class wait_retry_after(wait_base):
    """Wait what ``Retry-After`` asks (capped) when the failure carries it, else ``fallback``.

    Example:
        >>> wait = wait_retry_after(wait_none(), cap=60)
        >>> # wait(retry_state) -> the Retry-After seconds of the last exception, or fallback's
    """

    def __init__(self, fallback: wait_base, *, cap: float) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        asked = retry_after_seconds(exc) if exc is not None else None
        if asked is not None:
            return min(asked, self.cap)
        return float(self.fallback(retry_state))


def policy_of(policy: str | RetryPolicy) -> RetryPolicy:
    """The `RetryPolicy` named ``policy`` (or ``policy`` itself).

    Raises:
        ConfigError: unknown policy name.
    """
    if isinstance(policy, RetryPolicy):
        return policy
    try:
        return POLICIES[policy]
    except KeyError:
        raise ConfigError(
            f"unknown retry policy {policy!r}", hint=f"use one of {sorted(POLICIES)}"
        ) from None


def retryer(
    policy: str | RetryPolicy,
    *,
    wait_seconds: float | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    stats: RetryStats | None = None,
    classify: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], None] | None = None,
    operation: str = "call",
) -> Retrying:
    """A configured tenacity `Retrying` for a policy (use `retrying` to decorate a function).

    Args:
        policy: a name in `POLICIES` or a `RetryPolicy`.
        wait_seconds: override the first backoff wait (0 turns backoff off, e.g. in tests);
            a server's ``Retry-After`` is still honoured.
        on_retry: called with a `RetryEvent` before each wait (errors in it are logged, ignored).
        stats: a `RetryStats` to count attempts and retries into.
        classify: the retry predicate (default `is_transient`).
        sleep: the sleep function (tests pass a recorder instead of sleeping).
        operation: a name for log lines (the function's name when decorating).

    Returns:
        A tenacity ``Retrying`` that re-raises the last error when it gives up.

    Example:
        >>> for attempt in retryer("http", wait_seconds=0):
        ...     with attempt:
        ...         pass
    """
    spec = policy_of(policy)
    initial = spec.initial if wait_seconds is None else wait_seconds
    backoff: wait_base
    if initial <= 0:
        backoff = wait_none()
    else:
        # exponential (capped) plus random jitter; built from pieces that tenacity 8 and 9 share
        backoff = wait_exponential(multiplier=initial, max=spec.max_wait) + wait_random(
            0, min(spec.jitter, initial)
        )
    options: dict[str, Any] = {}
    if sleep is not None:
        options["sleep"] = sleep
    return Retrying(
        stop=stop_after_attempt(spec.attempts) | stop_after_delay(spec.max_delay),
        wait=wait_retry_after(backoff, cap=spec.retry_after_cap),
        retry=retry_if_exception(classify),
        before_sleep=functools.partial(_before_sleep, spec, operation, stats, on_retry),
        before=functools.partial(_before_attempt, stats),
        reraise=True,
        **options,
    )


def retrying(
    policy: str | RetryPolicy,
    *,
    wait_seconds: float | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    stats: RetryStats | None = None,
    classify: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], None] | None = None,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator retrying transient errors under a named policy; the last error is re-raised.

    Each retry is logged (``fmd_runtime.retry`` logger, error redacted), counted in ``stats``,
    passed to ``on_retry``, and counted in the Details of the enclosing audit activity
    (``retries``, ``retry_errors``) when there is one.

    Args:
        policy: one of `POLICIES` (``metadata_write``, ``table_operation``, ``http``).
        wait_seconds: override the first backoff wait (0 in tests).
        on_retry: callback per retry (a `RetryEvent`).
        stats: a `RetryStats` to count into.
        classify: the retry predicate (default `is_transient`).
        sleep: the sleep function (tests record instead of sleeping).

    Example:
        >>> # @retrying("table_operation")
        >>> # def restore(table): ...
    """

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            r = retryer(
                policy,
                wait_seconds=wait_seconds,
                on_retry=on_retry,
                stats=stats,
                classify=classify,
                sleep=sleep,
                operation=getattr(fn, "__qualname__", "call"),
            )
            return r(fn, *args, **kwargs)

        return wrapper

    return decorate


_OBSERVERS: list[Callable[[RetryEvent], None]] = []


def observe_retries(observer: Callable[[RetryEvent], None]) -> None:
    """Call ``observer`` with every `RetryEvent`, after the log line and the stats (once each).

    The audit envelope registers one that notes each retry on the activity open in the thread,
    so retry stays below audit: it reports, it does not know who listens.

    Args:
        observer: called with the event; an exception it raises is logged, never re-raised.

    Example:
        >>> seen = []
        >>> observe_retries(seen.append)
        >>> _OBSERVERS.remove(seen.append)
    """
    if observer not in _OBSERVERS:
        _OBSERVERS.append(observer)


def _before_attempt(stats: RetryStats | None, state: RetryCallState) -> None:
    if stats is not None:
        stats.record_attempt()


def _before_sleep(
    spec: RetryPolicy,
    operation: str,
    stats: RetryStats | None,
    on_retry: Callable[[RetryEvent], None] | None,
    state: RetryCallState,
) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = float(state.next_action.sleep) if state.next_action is not None else 0.0
    event = RetryEvent(
        policy=spec.name,
        operation=operation,
        attempt=state.attempt_number,
        error_type=type(exc).__name__ if exc else "",
        error_summary=(redact(_text(exc), max_length=300) or "") if exc else "",
        wait_seconds=wait,
    )
    log.warning(
        "fmd retry [%s] %s: attempt %d failed (%s: %s); retrying in %.1fs",
        spec.name,
        operation,
        event.attempt,
        event.error_type,
        event.error_summary,
        wait,
    )
    if stats is not None:
        stats.record_retry(event)
    for observer in tuple(_OBSERVERS):
        try:
            observer(event)
        except Exception as obs_exc:  # an observer must not turn a retry into a failure
            log.warning("fmd retry: observer failed: %s", type(obs_exc).__name__)
    if on_retry is not None:
        try:
            on_retry(event)
        except Exception as cb_exc:  # a broken callback must not turn a retry into a failure
            log.warning("fmd retry: on_retry callback failed: %s", type(cb_exc).__name__)


__all__ = [
    "POLICIES",
    "RetryEvent",
    "RetryPolicy",
    "RetryStats",
    "is_transient",
    "observe_retries",
    "policy_of",
    "retry_after_seconds",
    "retryer",
    "retrying",
    "status_of",
    "wait_retry_after",
]
