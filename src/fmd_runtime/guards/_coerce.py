"""How a pipeline string becomes a typed value, and how each type's expected form is worded.

A pipeline passes every parameter as a string: `coerce_params` turns them into values pydantic
can validate ("true"/"false", numbers, comma lists or JSON arrays, JSON objects); `expected_form`
words what a field takes, for the messages. Separate from the checks: both read a field's
annotation the same way (`_unwrap`), and nothing here raises.

Example:
    >>> expected_form(int)
    'a whole number, e.g. 42'
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Union

from pydantic import BaseModel

from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError
from fmd_runtime.guards._types import _check_guid, _check_text

# -- expected forms ------------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(core type, metadata) with Annotated and Optional peeled off."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            args = typing.get_args(annotation)
            annotation, metadata = args[0], [*metadata, *args[1:]]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, metadata


def _validators(metadata: Iterable[Any]) -> set[Any]:
    return {getattr(m, "func", None) for m in metadata}


def expected_form(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """How a pipeline should pass a value of this type, as words with an example.

    Example:
        >>> expected_form(bool), expected_form(list[str])
        ('"true" or "false"', 'a comma-separated list (or a JSON array), e.g. a,b')
    """
    core, more = _unwrap(annotation)
    funcs = _validators([*metadata, *more])
    if _check_guid in funcs:
        return (
            "a GUID, e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427 (not all zeros, not a placeholder)"
        )
    if _check_text in funcs:
        return "text (not empty, not a placeholder)"
    origin = typing.get_origin(core)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(core))
    if isinstance(core, type):
        if issubclass(core, enum.Enum):
            return "one of " + ", ".join(repr(m.value) for m in core)
        if issubclass(core, bool):
            return '"true" or "false"'
        if issubclass(core, int):
            return "a whole number, e.g. 42"
        if issubclass(core, (float, Decimal)):
            return "a number, e.g. 3.5"
        if issubclass(core, datetime):
            return "an ISO 8601 timestamp, e.g. 2025-01-31T02:00:00Z"
        if issubclass(core, date):
            return "an ISO date, e.g. 2025-01-31"
        if issubclass(core, BaseModel) or issubclass(core, dict):
            return 'a JSON object, e.g. {"key": "value"}'
        if issubclass(core, str):
            return "text"
    if origin in (list, tuple, set, frozenset) or _is_sequence(origin):
        return "a comma-separated list (or a JSON array), e.g. a,b"
    if origin is dict or _is_mapping(origin):
        return 'a JSON object, e.g. {"key": "value"}'
    return getattr(core, "__name__", str(core))


def _is_sequence(origin: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, Sequence) and not issubclass(origin, str)


def _is_mapping(origin: Any) -> bool:
    return isinstance(origin, type) and issubclass(origin, Mapping)


# -- coercion of pipeline strings ----------------------------------------------------------


class _NotAFlag:
    """A value a boolean field refuses: pydantic's lax mode would take "yes", "on" or "t"."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _convert(value: Any, annotation: Any) -> Any:
    """A pipeline string -> what pydantic can validate for this field; other values unchanged."""
    core, _ = _unwrap(annotation)
    if isinstance(core, type) and issubclass(core, bool) and value is not None:
        # the one strict reading (config.strict_bool): "true"/"false"/"1"/"0", any case
        try:
            return strict_bool(value, "value")
        except ConfigError:
            return _NotAFlag(value)  # pydantic refuses it: "Input should be a valid boolean"
    if not isinstance(value, str):
        return value
    text = value.strip()
    origin = typing.get_origin(core)
    listy = (
        origin in (list, tuple, set, frozenset)
        or _is_sequence(origin)
        or core in (list, tuple, set, frozenset)
    )
    if listy:
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                return value  # pydantic reports "a valid list"; the value is not echoed
        return [part.strip() for part in text.split(",") if part.strip()]
    dicty = (
        origin is dict
        or _is_mapping(origin)
        or core is dict
        or (isinstance(core, type) and issubclass(core, BaseModel))
    )
    if dicty and text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return (
        text if isinstance(core, type) and issubclass(core, (int, float, Decimal, date)) else value
    )


def coerce_params(params: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Pipeline strings -> typed-ready values for ``model``'s fields; "" means "not passed".

    Example:
        >>> from pydantic import BaseModel
        >>> class P(BaseModel):
        ...     ids: list[int]
        ...     full: bool = False
        >>> coerce_params({"ids": "1, 2", "full": ""}, P)
        {'ids': ['1', '2']}
    """
    by_name: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = (
            Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        )
        by_name[name] = annotation
        if field.alias:
            by_name[field.alias] = annotation
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and not value.strip():
            continue
        out[key] = _convert(value, by_name[key]) if key in by_name else value
    return out
