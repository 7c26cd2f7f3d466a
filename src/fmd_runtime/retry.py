"""Retry policies (tenacity) and the transient-error classifier.

Example:
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 2:
    ...         raise TimeoutError("timed out")
    ...     return "ok"
    >>> retrying("table_operation", wait_seconds=0)(flaky)()
    'ok'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from fmd_runtime.errors import FmdError

T = TypeVar("T")

POLICIES: dict[str, dict[str, float]] = {
    "metadata_write": {"attempts": 5, "initial": 1.0, "max": 30.0},
    "table_operation": {"attempts": 3, "initial": 2.0, "max": 60.0},
    "http": {"attempts": 4, "initial": 1.0, "max": 30.0},
}


def is_transient(exc: BaseException) -> bool:
    """True when a retry may cure ``exc`` (FmdError.transient, timeouts, connection resets).

    Example:
        >>> is_transient(TimeoutError()), is_transient(ValueError())
        (True, False)
    """
    if isinstance(exc, FmdError):
        if exc.transient:
            return True
        cause = exc.__cause__
        return cause is not None and cause is not exc and is_transient(cause)
    return isinstance(exc, (TimeoutError, ConnectionError))


def retrying(policy: str, *, wait_seconds: float | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator retrying transient errors under a named policy.

    Args:
        policy: one of `POLICIES`.
        wait_seconds: override the initial wait (0 in tests).
    """
    spec = POLICIES[policy]

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        def wrapper(*args: Any, **kwargs: Any) -> T:
            initial = spec["initial"] if wait_seconds is None else wait_seconds
            retryer = Retrying(
                stop=stop_after_attempt(int(spec["attempts"])),
                wait=wait_exponential_jitter(initial=initial, max=spec["max"], jitter=initial),
                retry=retry_if_exception(is_transient),
                reraise=True,
            )
            return retryer(fn, *args, **kwargs)

        return wrapper

    return decorate


__all__ = ["POLICIES", "is_transient", "retrying"]
