"""What is retried: the transient-error classifier and the HTTP status / ``Retry-After`` reading.

Separate from the policies (`fmd_runtime.retry`) because it is the part that knows error shapes:
HTTP and storage statuses, timeouts, connection resets, capacity throttling and authorization,
checked along an exception's ``__cause__`` chain. Engine-specific errors (delta-spark conflict
classes, delta-rs commit failures) are not listed here: the engine port answers for them
(`fmd_runtime.engine.native_transient`), each adapter classifying its own.

Example:
    >>> is_transient(TimeoutError("timed out")), is_transient(ValueError("bad input"))
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from fmd_runtime.engine import native_transient
from fmd_runtime.errors import ConfigError, ContractViolation, FmdError, InvalidIdentifierError

_CAPACITY = re.compile(r"CapacityLimitExceeded|TooManyRequestsForCapacity", re.I)
_AUTH_NAMES = frozenset(
    {
        "ClientAuthenticationError",
        "AuthenticationError",
        "AuthorizationError",
        "CredentialUnavailableError",
        "PermissionDenied",
        "Unauthorized",
        "Forbidden",
    }
)
_TIMEOUT_NAMES = frozenset(
    {
        "ReadTimeout",
        "ConnectTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "Timeout",
        "TimeoutException",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        "IncompleteRead",
        "RemoteDisconnected",
    }
)
_TRANSIENT_TEXT = re.compile(
    r"ServerBusy|server is busy|OperationTimedOut|\btimed out\b|\btimeout\b|connection (?:reset|aborted)"
    r"|Service Unavailable|Request Timeout|Gateway Time-?out|Bad Gateway|Too Many Requests",
    re.I,
)
_STATUS_TEXT = re.compile(
    r"(?i)\b(?:status(?:\s*code)?|http(?:\s*(?:status|response))?(?:\s*code)?|response\s*code"
    r"|error\s*code)\s*[:=]?\s*['\"(]?(\d{3})\b"
)
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_AUTH_STATUS = frozenset({401, 403})
_CAPACITY_STATUS = 430  # Fabric Spark: TooManyRequestsForCapacity


def _text(exc: BaseException) -> str:
    """The exception's message; never raises (pyspark's __str__ needs a live JVM)."""
    try:
        return str(exc)
    except Exception:
        desc = getattr(exc, "desc", None)
        return str(desc) if desc else " ".join(str(a) for a in getattr(exc, "args", ()))


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (attribute, response, or ``status code NNN`` text).

    Example:
        >>> status_of(RuntimeError("Request failed with status code 503 (ServerBusy)"))
        503
    """
    for holder in (exc, getattr(exc, "response", None)):
        if holder is None:
            continue
        for attr in ("status_code", "status", "code", "http_status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and 100 <= value <= 599:
                return value
    m = _STATUS_TEXT.search(_text(exc))
    return int(m.group(1)) if m else None


def _headers_of(exc: BaseException) -> Any:
    for holder in (exc, getattr(exc, "response", None)):
        if holder is None:
            continue
        headers = getattr(holder, "headers", None) or getattr(holder, "hdrs", None)
        if headers is not None:
            return headers
    return None


def _header(headers: Any, name: str) -> str | None:
    try:
        items = list(headers.items())
    except Exception:
        return None
    for key, value in items:
        if str(key).lower() == name.lower():
            return str(value)
    return None


def retry_after_seconds(exc: BaseException | None, *, now: datetime | None = None) -> float | None:
    """Seconds a server asked to wait (``Retry-After`` seconds or HTTP date, ``retry-after-ms``).

    Args:
        exc: the failed attempt's exception (an attribute ``retry_after`` also counts).
        now: the current time (for HTTP-date values; default now, UTC).

    Returns:
        Seconds (>= 0), or None when the exception carries no such instruction.

    Example:
        >>> class Throttled(Exception):
        ...     headers = {"Retry-After": "7"}
        >>> retry_after_seconds(Throttled())
        7.0
    """
    if exc is None:
        return None
    direct = getattr(exc, "retry_after", None)
    if isinstance(direct, (int, float)) and not isinstance(direct, bool):
        return max(0.0, float(direct))
    headers = _headers_of(exc)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        raw = _header(headers, name)
        if raw is not None:
            try:
                return max(0.0, float(raw) * scale)
            except ValueError:
                pass
    raw = _header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _codes(exc: BaseException) -> str:
    """Service error codes an exception carries besides its message (Azure SDKs, headers)."""
    found = []
    for attr in ("error_code", "errorCode", "reason"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            found.append(value)
    headers = _headers_of(exc)
    if headers is not None:
        for name in ("x-ms-error-code", "x-ms-public-api-error-code"):
            value = _header(headers, name)
            if value:
                found.append(value)
    return " ".join(found)


def _classify_one(exc: BaseException) -> bool | None:
    """True/False when this exception decides; None to look at its cause."""
    text = f"{_text(exc)} {_codes(exc)}"
    names = _mro_names(exc)
    status = status_of(exc)
    # never retried: capacity throttling, authorization, validation
    if _CAPACITY.search(text) or status == _CAPACITY_STATUS:
        return False
    if status in _AUTH_STATUS or names & _AUTH_NAMES or isinstance(exc, PermissionError):
        return False
    if isinstance(
        exc, (ContractViolation, ConfigError, InvalidIdentifierError, ValueError, TypeError)
    ):
        return False
    if isinstance(exc, FmdError) and exc.terminal:  # e.g. an unsupported table feature
        return False
    if isinstance(exc, FmdError) and exc.transient:
        return True
    # commit conflicts: each engine knows its own native errors (the port asks them)
    native = native_transient(exc, text)
    if native is not None:
        return native
    # HTTP / storage
    if status is not None:
        if status in _TRANSIENT_STATUS:
            return True
        if 400 <= status < 500:
            return False
    if isinstance(exc, (TimeoutError, ConnectionError)) or names & _TIMEOUT_NAMES:
        return True
    if _TRANSIENT_TEXT.search(text):
        return True
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib URLError wraps the socket error here
        nxt = current.__cause__
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            inner = getattr(current, "cause", None)  # pyspark CapturedException.cause
            nxt = inner if isinstance(inner, BaseException) else None
        current = nxt


def is_transient(exc: BaseException) -> bool:
    """True when a retry may cure ``exc``; see the module docstring for the rules.

    The first exception along the ``__cause__`` chain that decides wins, so a terminal error
    wrapped around a conflict is terminal, and a wrapper around a conflict is transient.

    Example:
        >>> is_transient(TimeoutError()), is_transient(ValueError())
        (True, False)
    """
    for current in _causes(exc):
        verdict = _classify_one(current)
        if verdict is not None:
            return verdict
    return False


__all__ = ["is_transient", "retry_after_seconds", "status_of"]
