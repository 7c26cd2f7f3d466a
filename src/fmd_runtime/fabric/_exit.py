"""What a notebook hands back and shows: its exit value, ``notebook.exit``, rich display.

`exit_value` makes the compact JSON a pipeline parses (cut to fit a size cap), `notebook_exit`
ends the notebook with it (prints it locally), `display` shows a result as richly as the place
allows. Together because they are the three ways a notebook's result leaves it.

Example:
    >>> notebook_exit(exit_value({"status": "succeeded"}))
    FMD_EXIT_VALUE={"status":"succeeded"}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import sys
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from fmd_runtime.fabric._notebookutils import is_fabric, notebookutils

EXIT_VALUE_MAX_CHARS = 8_000
"""Default cap on `exit_value` text.

Fabric does not document a hard limit on a notebook's exit value, but the value travels through
the pipeline's activity output (which Fabric caps in size) and is usually parsed in an If
Condition: a small summary is what belongs there, and details belong in the audit tables. 8,000
characters keeps a typical run summary whole while leaving a wide margin below the activity
output limits.
"""


_MIN_EXIT_CHARS = 64
_MAX_STRING_AFTER_CUT = 256


# --------------------------------------------------------------------------- exit value


def exit_value(result: Any, *, max_chars: int = EXIT_VALUE_MAX_CHARS) -> str:
    """Render a run's result as the JSON text for ``notebookutils.notebook.exit``.

    The text is compact (no spaces), has sorted keys, ASCII only, datetimes in ISO 8601, NaN
    and infinities as ``null``: a pipeline's ``@json(activity('nb').output.result.exitValue)``
    always parses it. When it would exceed ``max_chars`` it is cut to fit, in this order:

    1. the longest list is halved, repeatedly (first items kept); the top level then carries
       ``"truncated": true`` and ``"truncated_lists": {"<path>": <original length>}``;
    2. strings longer than 256 characters are cut (ending with ``...``);
    3. only the top-level scalar values are kept, with ``"truncated": true``.

    Args:
        result: a pydantic model, a mapping, or an object with ``to_exit_dict()`` (preferred
            when present).
        max_chars: the size cap, at least 64 characters.

    Returns:
        JSON text of a single object, at most ``max_chars`` characters.

    Raises:
        TypeError: ``result`` is none of the accepted kinds.
        ValueError: ``max_chars`` is below 64.

    Example:
        >>> import datetime as dt
        >>> exit_value({"ok": True, "at": dt.datetime(2025, 1, 2, 3, 4, 5)})
        '{"at":"2025-01-02T03:04:05","ok":true}'
    """
    if max_chars < _MIN_EXIT_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_EXIT_CHARS}, got {max_chars}")
    payload = _to_jsonable(_as_exit_dict(result))
    text = _dumps(payload)
    if len(text) <= max_chars:
        return text
    return _shrink(payload, max_chars)


def _as_exit_dict(result: Any) -> dict[str, Any]:
    to_exit_dict = getattr(result, "to_exit_dict", None)
    if callable(to_exit_dict):
        data = to_exit_dict()
    elif isinstance(result, BaseModel):
        data = result.model_dump(mode="json")
    elif isinstance(result, Mapping):
        data = result
    else:
        raise TypeError(
            f"exit_value() takes a pydantic model, a mapping or an object with to_exit_dict(), "
            f"not {type(result).__name__}"
        )
    if not isinstance(data, Mapping):
        raise TypeError(f"to_exit_dict() must return a mapping, not {type(data).__name__}")
    return {str(key): value for key, value in data.items()}


def _to_jsonable(value: Any) -> Any:
    """Plain JSON values only: dict/list/str/int/float/bool/None, NaN as None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return _to_jsonable(value.value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return _to_jsonable(float(value)) if value.is_finite() else None
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if isinstance(value, BaseModel):
        return _to_jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_to_jsonable(item) for item in value), key=_dumps)
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _shrink(payload: dict[str, Any], max_chars: int) -> str:
    data = json.loads(_dumps(payload))  # a private copy to cut
    original: dict[str, int] = {}

    def render() -> str:
        marked = dict(data)
        marked["truncated"] = True
        if original:
            marked["truncated_lists"] = dict(original)
        return _dumps(marked)

    # 1. Halve the longest list until the text fits.
    text = render()
    while len(text) > max_chars:
        lists = [(path, items) for path, items in _lists(data, "") if items]
        if not lists:
            break
        path, items = max(lists, key=lambda entry: len(entry[1]))
        original.setdefault(path or "$", len(items))
        del items[len(items) // 2 :]
        text = render()
    if len(text) <= max_chars:
        return text
    # 2. Cut long strings.
    data = _cut_strings(data)
    text = render()
    if len(text) <= max_chars:
        return text
    # 3. Keep top-level scalars only, smallest first, while they fit.
    kept: dict[str, Any] = {"truncated": True}
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, (dict, list))]
    for key, value in sorted(scalars, key=lambda kv: len(_dumps(kv[1])) + len(kv[0])):
        candidate = dict(kept, **{key: value})
        if len(_dumps(candidate)) <= max_chars:
            kept = candidate
    return _dumps(kept)


def _lists(value: Any, path: str) -> list[tuple[str, list[Any]]]:
    found: list[tuple[str, list[Any]]] = []
    if isinstance(value, list):
        found.append((path, value))
        for index, item in enumerate(value):
            found.extend(_lists(item, f"{path}[{index}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_lists(item, f"{path}.{key}" if path else key))
    return found


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_STRING_AFTER_CUT:
        return value[: _MAX_STRING_AFTER_CUT - 3] + "..."
    if isinstance(value, dict):
        return {key: _cut_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item) for item in value]
    return value


# --------------------------------------------------------------------------- notebook exit


def notebook_exit(value: str) -> None:
    """End the notebook with ``value`` as its exit value (Fabric), or print it (locally).

    !!! CALL IT ONLY AT THE TOP LEVEL OF THE NOTEBOOK'S LAST CELL. NEVER INSIDE try/except. !!!
    Fabric's ``notebook.exit`` works by interrupting the cell; inside ``try``/``except`` (or in
    library code wrapped by one) Fabric ignores it and the notebook goes on, so the pipeline
    never sees the value. Build the value with `exit_value`, keep the ``try`` in earlier cells,
    and make this call the last statement of the last cell.

    Args:
        value: the exit value, a string (use `exit_value` to make JSON text).

    Returns:
        ``None`` locally (after printing ``FMD_EXIT_VALUE=<value>`` to stdout). In Fabric the
        notebook stops here.

    Raises:
        TypeError: ``value`` is not a string (Fabric exit values always are).

    Example:
        >>> notebook_exit('{"status":"succeeded"}')
        FMD_EXIT_VALUE={"status":"succeeded"}
    """
    if not isinstance(value, str):
        raise TypeError(
            f"notebook_exit() takes a string, not {type(value).__name__}: "
            "build it with fabric.exit_value(result)"
        )
    nu = notebookutils()
    if nu is not None:
        nu.notebook.exit(value)
        return
    print(f"FMD_EXIT_VALUE={value}", flush=True)


# --------------------------------------------------------------------------- display


def display(obj: Any) -> None:
    """Show ``obj`` as richly as the place allows.

    In a notebook kernel an object with ``_repr_html_`` is shown through IPython's display (its
    HTML). Otherwise an object with ``to_text()`` is printed as that text; in Fabric anything
    else goes to the notebook's own ``display`` (tables for DataFrames); elsewhere it is printed.

    Args:
        obj: what to show (a result with ``_repr_html_``/``to_text()``, a DataFrame, anything).

    Example:
        >>> display("3 tables loaded")
        3 tables loaded
    """
    shell = _ipython_shell()
    if shell is not None and callable(getattr(obj, "_repr_html_", None)):
        from IPython.display import display as ipython_display

        ipython_display(obj)  # type: ignore[no-untyped-call]
        return
    to_text = getattr(obj, "to_text", None)
    if callable(to_text):
        print(to_text())
        return
    if shell is not None and is_fabric():
        notebook_display = getattr(shell, "user_ns", {}).get("display")
        if callable(notebook_display) and notebook_display is not display:
            notebook_display(obj)
            return
    print(obj)


def _ipython_shell() -> Any:
    # Only when IPython is already loaded (a kernel is running): never import it just to look.
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None
