"""The checks of user and pipeline inputs: strict booleans, bounded numbers, their wording.

Every public entry point checks its inputs with these helpers (one place, one wording): pipeline
parameters arrive as strings, and ``bool("false")`` is True. Separate from the settings models
because capabilities call them directly on their own parameters.

Example:
    >>> strict_bool("false", "dry_run"), check_number("7", "days", minimum=1, integer=True)
    (False, 7)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo

from fmd_runtime.errors import ConfigError

_TRUE_WORDS = frozenset({"true", "1"})
_FALSE_WORDS = frozenset({"false", "0"})


def strict_bool(value: Any, parameter: str) -> bool:
    """Parse a boolean parameter strictly: a real bool, or "true"/"false"/"1"/"0" in any case.

    Pipeline parameters reach notebooks as strings, and ``bool("false")`` is True in Python: a
    flag like ``dry_run="false"`` must mean False, and anything else ("yes", "", 2, None) is
    refused rather than guessed.

    Args:
        value: the value as received.
        parameter: the parameter's name, for the error.

    Returns:
        The boolean.

    Raises:
        ConfigError: the value is not one of the accepted forms (the parameter, the value and the
            accepted forms are named).

    Example:
        >>> strict_bool("False", "dry_run"), strict_bool(1, "dry_run"), strict_bool(True, "x")
        (False, True, True)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ConfigError(
        f"parameter {parameter!r} must be a boolean, got {_shown(value)}",
        hint=f'pass {parameter}=True or False (or the strings "true"/"false"/"1"/"0", any case)',
    )


def _strict_flag(value: Any, info: ValidationInfo) -> bool:
    try:
        return strict_bool(value, info.field_name or "value")
    except ConfigError:
        # A ValueError lets pydantic name the field (and `build_table_config` turn it into one
        # ConfigError); the value itself is not repeated: model inputs may hold secrets.
        raise ValueError(
            f'must be a boolean: True or False, or the strings "true"/"false"/"1"/"0" '
            f"(any case); got a value of type {type(value).__name__}"
        ) from None


StrictFlag = Annotated[bool, BeforeValidator(_strict_flag)]
"""A pydantic field type for booleans that users and pipelines set: parsed by `strict_bool`.

Pydantic's lax mode takes "yes", "on", "t" or "f" for a ``bool`` field; a ``StrictFlag`` field
takes a real bool or "true"/"false"/"1"/"0" (any case) and refuses anything else.

Example:
    >>> from pydantic import BaseModel
    >>> class P(BaseModel):
    ...     dry_run: StrictFlag = True
    >>> P(dry_run="False").dry_run
    False
"""


def check_number(
    value: Any,
    parameter: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
    integer: bool = False,
) -> Any:
    """Check a numeric parameter against its documented bounds (strings of digits are parsed).

    Args:
        value: the value as received (int, float, or a numeric string from a pipeline).
        parameter: the parameter's name, for the error.
        minimum: smallest accepted value (inclusive), or None.
        maximum: largest accepted value (inclusive), or None.
        unit: the unit named in the error ("hours", "days" ...).
        integer: require a whole number (returned as int).

    Returns:
        The number (int when ``integer``).

    Raises:
        ConfigError: not a number (booleans are refused), not whole when required, or outside the
            bounds; the parameter, the value and the accepted range are named.

    Example:
        >>> check_number("168", "retention_hours", minimum=0, maximum=87600, integer=True)
        168
    """
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
        raise ConfigError(
            f"parameter {parameter!r} must be a number, got {_shown(value)}",
            hint=f"pass a number{_range_text(minimum, maximum, unit)}",
        )
    if integer:
        if float(number) != int(number):
            raise ConfigError(
                f"parameter {parameter!r} must be a whole number, got {_shown(value)}",
                hint=f"pass a whole number{_range_text(minimum, maximum, unit)}",
            )
        number = int(number)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ConfigError(
            f"parameter {parameter!r} is out of bounds: {number}{' ' + unit if unit else ''}",
            hint=f"pass a value{_range_text(minimum, maximum, unit)}",
        )
    return number


def _range_text(minimum: float | None, maximum: float | None, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if minimum is not None and maximum is not None:
        return f" between {minimum:g} and {maximum:g}{u}"
    if minimum is not None:
        return f" of at least {minimum:g}{u}"
    if maximum is not None:
        return f" of at most {maximum:g}{u}"
    return ""


def _shown(value: Any) -> str:
    # Parameters are not secrets, but a wrong value can be anything: show its type and a short repr.
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _number(value: Any, info: ValidationInfo) -> Any:
    # Pydantic's lax mode takes True as 1 and False as 0 for a number field: refuse it here; the
    # field's own bounds (ge/le) then apply and name the range.
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got a boolean ({value})")
    return value
