"""What `guard` and `check_rows` do with a model and its errors: the model's own safety, the
violations read from pydantic's errors (never the input), the audit record, the message.

Separate from the entry points (the facade) so that each of them reads as the steps it takes.

Example:
    >>> from pydantic import BaseModel
    >>> class P(BaseModel):
    ...     n: int
    >>> check_model(P)
    []
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from fmd_runtime.errors import ContractViolation
from fmd_runtime.guards._coerce import _NotAFlag, _unwrap, _validators, expected_form
from fmd_runtime.guards._types import (
    NIL_GUID,
    EnvSensitive,
    Violation,
    _check_guid,
    _check_text,
    is_placeholder,
)

log = logging.getLogger("fmd_runtime.guards")

M = TypeVar("M", bound=BaseModel)


# -- model checks --------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _model_problems(model: type[BaseModel]) -> tuple[Violation, ...]:
    problems = []
    for name, field in model.model_fields.items():
        _, more = _unwrap(field.annotation)
        meta = [*field.metadata, *more]
        has_default = field.default is not PydanticUndefined or field.default_factory is not None
        if any(isinstance(m, EnvSensitive) for m in meta) and has_default:
            problems.append(
                Violation(
                    field=name,
                    problem="environment-sensitive field has a default",
                    expected="no default: each environment passes its own value",
                )
            )
        if isinstance(field.default, str) and (
            _check_guid in _validators(meta) or _check_text in _validators(meta)
        ):
            if is_placeholder(field.default) or field.default.strip() == NIL_GUID:
                problems.append(
                    Violation(field=name, problem="default is a placeholder", expected="no default")
                )
    return tuple(problems)


def check_model(model: type[BaseModel]) -> list[Violation]:
    """Problems in a contract model itself (environment-sensitive fields with defaults...).

    Example:
        >>> from pydantic import create_model
        >>> from fmd_runtime.guards import Guid
        >>> P = create_model("P", lakehouse_id=(Annotated[Guid, EnvSensitive()], NIL_GUID))
        >>> [v.problem for v in check_model(P)]
        ['environment-sensitive field has a default', 'default is a placeholder']
    """
    return list(_model_problems(model))


def _violations(
    exc: ValidationError, model: type[BaseModel], entity: str | None = None
) -> list[Violation]:
    out = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = [str(p) for p in err["loc"]]
        name = ".".join(loc) or "(model)"
        field = model.model_fields.get(loc[0]) if loc else None
        if field is None and loc:
            field = next((f for f in model.model_fields.values() if f.alias == loc[0]), None)
        expected = (
            expected_form(field.annotation, field.metadata)
            if field is not None
            else "no such field"
        )
        if field is not None and field.description:
            expected += f" ({field.description})"
        kind = err["type"]
        if kind == "missing":
            problem = "missing (required)"
        elif kind == "extra_forbidden":
            problem = "unknown field"
        else:
            problem = "invalid: " + str(err["msg"]).removeprefix("Value error, ")
        out.append(Violation(field=name, problem=problem, expected=expected, entity=entity))
    return out


def _audit_of(audit: Any) -> Any:
    """Accept an `Audit`, a `Runtime` (its ``.audit``) or None."""
    if audit is None:
        return None
    return audit.audit if hasattr(audit, "audit") and hasattr(audit, "context") else audit


def _record(
    audit: Any,
    operation: str,
    status: str,
    severity: str,
    model: str,
    violations: Sequence[Violation],
    *,
    entity: str | None = None,
    error: BaseException | None = None,
) -> None:
    target = _audit_of(audit)
    if target is None:
        return
    details = {
        "model": model,
        "violations": [v.model_dump(exclude_none=True) for v in violations[:100]],
        "count": len(violations),
    }
    try:
        target.event(
            operation, status, entity=entity, severity=severity, error=error, details=details
        )
    except Exception as exc:  # auditing a refusal must not replace the refusal
        log.warning("fmd guards: could not audit %s: %s", operation, type(exc).__name__)


def _render(header: str, lines: Sequence[str]) -> str:
    shown = list(lines[:60])
    if len(lines) > len(shown):
        shown.append(f"  ... and {len(lines) - len(shown)} more (see the error's details)")
    return header + "\n" + "\n".join(shown)


def _bypass_instance(model: type[M], values: Mapping[str, Any]) -> M:
    """Fields that validate get their typed value; the others keep what was passed (or None)."""
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = name if name in values else field.alias if field.alias in values else None
        if key is None:
            data[name] = (
                field.get_default(call_default_factory=True) if not field.is_required() else None
            )
            continue
        annotation: Any = (
            Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        )
        raw = values[key]
        try:
            data[name] = TypeAdapter(annotation).validate_python(raw)
        except ValidationError:
            data[name] = raw.value if isinstance(raw, _NotAFlag) else raw
    return model.model_construct(**data)


def _assert_safe_model(model: type[BaseModel]) -> None:
    problems = check_model(model)
    if problems:
        raise ContractViolation(
            _render(
                f"the contract `{model.__name__}` itself is unsafe:",
                [f"  - {p.line()}" for p in problems],
            ),
            hint="remove defaults from environment-sensitive fields",
            details={
                "model": model.__name__,
                "violations": [p.model_dump(exclude_none=True) for p in problems],
            },
        )
