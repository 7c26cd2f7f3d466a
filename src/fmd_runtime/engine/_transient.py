"""The port's answer to "may a retry cure this native error?": a small registry of classifiers.

`fmd_runtime.retry` asks `native_transient` and never names an engine's exception classes; each
engine's knowledge is a classifier registered here. The two adapters' classifiers
(`fmd_runtime.engine._native_errors`: pure Python, no engine import) are registered when the
port is imported, so an error is classified the same whether or not its adapter was imported.
A further engine (or a test) adds its own with `register_transient_classifier`.

Example:
    >>> native_transient(TimeoutError("x")) is None  # not an engine's error: retry decides
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fmd_runtime.engine._native_errors import is_delta_spark_conflict, is_deltars_conflict

TransientClassifier = Callable[[BaseException, str], "bool | None"]
"""``(exc, text) -> True`` (transient), ``False`` (never retry) or ``None`` (not mine)."""

_CLASSIFIERS: list[TransientClassifier] = []
_LOCK = threading.Lock()


def register_transient_classifier(classifier: TransientClassifier) -> TransientClassifier:
    """Register an engine's native-error classifier (idempotent; usable as a decorator).

    Args:
        classifier: ``(exc, text) -> bool | None``; ``text`` is the exception's rendered
            message. It must not raise and must not import an engine.

    Returns:
        ``classifier`` itself.

    Example:
        >>> def mine(exc: BaseException, text: str) -> bool | None:
        ...     return True if "EngineBusy" in text else None
        >>> # register_transient_classifier(mine): then native_transient(exc) asks `mine` too
    """
    with _LOCK:
        if classifier not in _CLASSIFIERS:
            _CLASSIFIERS.append(classifier)
    return classifier


def _render(exc: BaseException) -> str:
    """The exception's message; never raises (pyspark's __str__ needs a live JVM)."""
    try:
        return str(exc)
    except Exception:
        desc = getattr(exc, "desc", None)
        return str(desc) if desc else " ".join(str(a) for a in getattr(exc, "args", ()))


def native_transient(exc: BaseException, text: str | None = None) -> bool | None:
    """What the engines say about one exception: transient (True), never (False), or None.

    Looks at ``exc`` alone, not its ``__cause__`` chain (the caller walks the chain). The first
    registered classifier that decides wins.

    Args:
        exc: the exception.
        text: its message as the caller rendered it (default: ``str(exc)``, never raising).

    Returns:
        True when an engine knows it as transient (a commit conflict), False when an engine
        knows it as never transient, None when no engine decides.

    Example:
        >>> class ConcurrentAppendException(Exception): ...
        >>> native_transient(ConcurrentAppendException("Files were added"))
        True
    """
    rendered = _render(exc) if text is None else text
    with _LOCK:
        classifiers = list(_CLASSIFIERS)
    for classifier in classifiers:
        verdict = classifier(exc, rendered)
        if verdict is not None:
            return verdict
    return None


register_transient_classifier(is_delta_spark_conflict)
register_transient_classifier(is_deltars_conflict)

__all__ = ["TransientClassifier", "native_transient", "register_transient_classifier"]
