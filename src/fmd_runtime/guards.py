"""Contracts for notebook parameters and metadata rows: fail in the first second, naming the field.

A pipeline passes every notebook parameter as a string. `guard` turns them into typed values
against a pydantic model ("true"/"false", numbers, comma lists or JSON arrays, JSON objects) and
raises one `ContractViolation` listing every missing or invalid field with the form it expects.
`check_rows` does the same over a batch of metadata rows, by entity. Neither ever echoes an input
value (pydantic errors are read with ``include_input=False``), so a secret passed in the wrong
field does not leak into messages or audit rows.

Guard types for the models:

- `Guid`: a GUID; rejects the nil GUID and placeholders (``REPLACE_ME``, ``TODO``, ``<...>``).
- `NotPlaceholder`: text that is not a placeholder.
- `EnvSensitive`: a marker for values that differ per environment (workspace, lakehouse,
  connection ids): such fields must have no default, so each environment has to pass them.

``bypass=True`` turns violations into warnings for migrating legacy metadata: they are logged,
audited (Operation ``ContractBypass``, Severity MEDIUM) and returned instead of raised.

Example:
    >>> from pydantic import BaseModel
    >>> class Params(BaseModel):
    ...     full_load: bool
    ...     batch_size: int = 1000
    ...     tables: list[str]
    >>> guard({"full_load": "true", "tables": "bronze.a, bronze.b"}, Params)
    Params(full_load=True, batch_size=1000, tables=['bronze.a', 'bronze.b'])
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import re
import types
import typing
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError, ContractViolation

log = logging.getLogger("fmd_runtime.guards")

M = TypeVar("M", bound=BaseModel)

NIL_GUID = "00000000-0000-0000-0000-000000000000"

# Whole-value placeholders (``TODO``, ``<your lakehouse>``), and markers that make any value a
# placeholder wherever they appear. Inside a value, ``<name>`` counts only as one identifier-like
# token that is not an operand: SQL comparisons (``a < 5 AND b > 3``, ``a<b AND c>d``, ``<>``,
# ``<=``) and type parameters (``ARRAY<STRING>``) are real text.
_PLACEHOLDER_WHOLE = re.compile(
    r"^(?:TODO|TBD|FIXME|XXX+|N/?A|NONE|NULL|PLACEHOLDER|DUMMY|CHANGE[_ -]?ME|REPLACE[_ -]?ME"
    r"|YOUR[_ -]\S*|\?+|\.\.\.|<[^<>\s][^<>]*>)$",
    re.I,
)
_PLACEHOLDER_ANY = re.compile(
    r"REPLACE[_ -]?ME|CHANGE[_ -]?ME|\{\{[^{}]*\}\}|\$\{[^{}]*\}"
    r"|(?<![\w)\]'\"`<>])<[A-Za-z_][\w.-]*>(?![\w(<>=])",
    re.I,
)


def is_placeholder(value: str) -> bool:
    """True for obvious placeholders: ``REPLACE_ME``, ``TODO``, ``<workspace-id>``, ``{{x}}``...

    A placeholder is a whole value (``TODO``, ``<your lakehouse>``) or a marker inside one
    (``https://<ws>.dfs...``, ``{{x}}``, ``${X}``, ``REPLACE_ME``); comparisons and type
    parameters in SQL (``WHERE a < 5 AND b > 3``, ``a <> b``, ``ARRAY<STRING>``) are not.

    Example:
        >>> is_placeholder("<your-workspace-id>"), is_placeholder("bronze.account")
        (True, False)
        >>> is_placeholder("SELECT * FROM t WHERE a < 5 AND b > 3")
        False
    """
    text = value.strip()
    return not text or bool(_PLACEHOLDER_WHOLE.match(text) or _PLACEHOLDER_ANY.search(text))


def _check_guid(value: str) -> str:
    # messages name the problem, never the value (it may be a secret in the wrong field)
    if is_placeholder(value):
        raise ValueError("is a placeholder (REPLACE_ME, TODO, <...>), not a real GUID")
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        raise ValueError("is not a GUID") from None
    if parsed.int == 0:
        raise ValueError("is the nil GUID (all zeros), not a real GUID")
    return str(parsed)


def _check_text(value: str) -> str:
    if is_placeholder(value):
        raise ValueError("is a placeholder (REPLACE_ME, TODO, <...>) or empty")
    return value


Guid = Annotated[str, AfterValidator(_check_guid)]
"""A GUID (normalized to lower-case hyphenated); not the nil GUID, not a placeholder."""

NotPlaceholder = Annotated[str, AfterValidator(_check_text)]
"""Text that is not empty and not a placeholder."""


class EnvSensitive:
    """Marker for environment-sensitive fields (``Annotated[Guid, EnvSensitive()]``): no default.

    Example:
        >>> from pydantic import BaseModel
        >>> class P(BaseModel):
        ...     workspace_id: Annotated[Guid, EnvSensitive()]
        >>> check_model(P)
        []
    """

    def __repr__(self) -> str:
        return "EnvSensitive()"


class Violation(BaseModel):
    """One broken rule: which field, what is wrong, what form is expected (never the value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    problem: str
    expected: str
    entity: str | None = None

    def line(self) -> str:
        """``field: problem — expected ...``."""
        return f"{self.field}: {self.problem} — expected {self.expected}"


class RowsCheck(BaseModel):
    """The result of `check_rows`: validated models, violations by entity, bypassed rows."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str
    checked: int
    valid: tuple[Any, ...] = ()
    bypassed: tuple[Any, ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every row honours the contract."""
        return not self.violations

    def by_entity(self) -> dict[str, list[Violation]]:
        """Violations grouped by entity, in row order."""
        out: dict[str, list[Violation]] = {}
        for v in self.violations:
            out.setdefault(v.entity or "?", []).append(v)
        return out


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
        >>> from pydantic import BaseModel
        >>> class P(BaseModel):
        ...     lakehouse_id: Annotated[Guid, EnvSensitive()] = NIL_GUID
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


# -- the guards ----------------------------------------------------------------------------


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


def check_params(params: Mapping[str, Any] | str | None, model: type[M]) -> RowsCheck:
    """Validate parameters like `guard`, but return the violations instead of raising them.

    Args:
        params: the parameters (a mapping, or one JSON object string).
        model: the pydantic model declaring the contract.

    Returns:
        `RowsCheck` with the instance in ``valid``, or the violations and an unvalidated instance
        in ``bypassed`` (fields that validate are typed, the others as passed, missing ones None).

    Raises:
        ContractViolation: ``params`` is not a mapping/JSON object, or the model itself is unsafe.

    Example:
        >>> from pydantic import BaseModel
        >>> class P(BaseModel):
        ...     n: int
        >>> [v.field for v in check_params({}, P).violations]
        ['n']
    """
    name = model.__name__
    if isinstance(params, str):
        try:
            params = json.loads(params) if params.strip() else {}
        except ValueError:
            params = None
        if not isinstance(params, Mapping):
            raise ContractViolation(
                f"parameters for `{name}` are not a JSON object", hint="pass a mapping or JSON"
            )
    _assert_safe_model(model)
    values = coerce_params(params or {}, model)
    try:
        return RowsCheck(model=name, checked=1, valid=(model.model_validate(values),))
    except ValidationError as exc:
        violations = tuple(_violations(exc, model))
    return RowsCheck(
        model=name, checked=1, bypassed=(_bypass_instance(model, values),), violations=violations
    )


def guard(
    params: Mapping[str, Any] | str | None,
    model: type[M],
    *,
    bypass: bool = False,
    audit: Any = None,
) -> M:
    """Validate notebook parameters against ``model``; raise one error naming every bad field.

    Pipeline strings become typed values: "true"/"false" -> bool, numbers, comma lists or JSON
    arrays -> lists, JSON -> objects; an empty string means "not passed" (the default applies,
    or the field is reported missing). Input values are never echoed.

    Args:
        params: the parameters (a mapping, or one JSON object string).
        model: the pydantic model declaring the contract.
        bypass: report violations as warnings (logged, audited as ContractBypass with Severity
            MEDIUM) and return an unvalidated instance instead of raising: fields that validate
            are typed, the others keep what was passed (missing ones are None). `check_params`
            returns the violations themselves.
        audit: an `Audit` or `Runtime`; refusals are audited as ContractViolation (HIGH).

    Returns:
        The validated model instance.

    Raises:
        ContractViolation: missing/invalid fields (all of them, each with its expected form), or
            a model whose environment-sensitive fields have defaults.

    Example:
        >>> # p = fmd.guard(params, LoadParams, audit=rt)
    """
    bypass = strict_bool(bypass, "bypass")
    name = model.__name__
    check = check_params(params, model)
    if check.ok:
        valid: M = check.valid[0]
        return valid
    violations = check.violations
    header = f"{len(violations)} parameter problem(s) break the contract `{name}`:"
    message = _render(header, [f"  - {v.line()}" for v in violations])
    if bypass:
        log.warning("fmd guards: contract bypassed: %s", message)
        _record(audit, "ContractBypass", "Warning", "MEDIUM", name, violations)
        bypassed: M = check.bypassed[0]
        return bypassed
    error = ContractViolation(
        message,
        hint="pass these parameters from the pipeline's Notebook activity (base parameters) and re-run",
        details={
            "model": name,
            "violations": [v.model_dump(exclude_none=True) for v in violations],
        },
    )
    _record(audit, "ContractViolation", "Failed", "HIGH", name, violations, error=error)
    if _audit_of(audit) is not None:
        _audit_of(audit).flush()
    raise error


def check_rows(
    rows: Iterable[Any],
    model: type[M],
    *,
    key: str = "EntityId",
    bypass: bool = False,
    audit: Any = None,
) -> RowsCheck:
    """Check a batch of metadata rows against a contract; report every violation, by entity.

    Rows may be mappings or Spark ``Row``s (``asDict()``); string values are converted as in
    `guard`. Duplicate keys are violations too.

    Args:
        rows: the metadata rows.
        model: the pydantic model of one row (e.g. EntityId, SourceDataRetrieval, ConnectionGuid).
        key: the column naming the entity in messages and audit rows.
        bypass: return violations as warnings (audited per entity as ContractBypass, MEDIUM)
            instead of raising; rows with violations come back unvalidated in ``bypassed``.
        audit: an `Audit` or `Runtime`; each entity with violations gets an audit event
            (ContractViolation, Failed, HIGH, or ContractBypass when bypassed).

    Returns:
        `RowsCheck` with the validated models (row order) and any violations.

    Raises:
        ContractViolation: one error listing every violation of every entity (unless bypass).

    Example:
        >>> # check = check_rows(spark.table("meta.Entities").collect(), EntityRow, key="EntityId")
    """
    bypass = strict_bool(bypass, "bypass")
    name = model.__name__
    _assert_safe_model(model)
    valid: list[Any] = []
    bypassed: list[Any] = []
    violations: list[Violation] = []
    seen: dict[str, int] = {}
    count = 0
    for index, raw in enumerate(rows):
        count += 1
        row = raw.asDict() if hasattr(raw, "asDict") else dict(raw)
        entity = str(row[key]) if row.get(key) not in (None, "") else f"row {index + 1}"
        found: list[Violation] = []
        if entity in seen:
            found.append(
                Violation(
                    field=key,
                    problem=f"duplicate key (also row {seen[entity]})",
                    expected="one row per entity",
                    entity=entity,
                )
            )
        seen.setdefault(entity, index + 1)
        values = coerce_params(row, model)
        try:
            instance = model.model_validate(values)
        except ValidationError as exc:
            found.extend(_violations(exc, model, entity))
            instance = None
        if found:
            violations.extend(found)
            if bypass:
                bypassed.append(_bypass_instance(model, values))
        elif instance is not None:
            valid.append(instance)
    result = RowsCheck(
        model=name,
        checked=count,
        valid=tuple(valid),
        bypassed=tuple(bypassed),
        violations=tuple(violations),
    )
    if not violations:
        return result
    grouped = result.by_entity()
    lines = []
    for entity, items in grouped.items():
        lines.append(f"  entity {entity}:")
        lines.extend(f"    - {v.line()}" for v in items)
    header = f"{len(grouped)} of {count} metadata row(s) break the contract `{name}` ({len(violations)} problem(s)):"
    operation, status, severity = (
        ("ContractBypass", "Warning", "MEDIUM")
        if bypass
        else ("ContractViolation", "Failed", "HIGH")
    )
    for entity, items in grouped.items():
        _record(audit, operation, status, severity, name, items, entity=entity)
    if bypass:
        log.warning("fmd guards: contract bypassed: %s", _render(header, lines))
        return result
    if _audit_of(audit) is not None:
        _audit_of(audit).flush()
    raise ContractViolation(
        _render(header, lines),
        hint="fix these metadata rows (or pass bypass=True while migrating legacy metadata)",
        details={
            "model": name,
            "entities": list(grouped),
            "violations": [v.model_dump(exclude_none=True) for v in violations],
        },
    )


__all__ = [
    "NIL_GUID",
    "EnvSensitive",
    "Guid",
    "NotPlaceholder",
    "RowsCheck",
    "Violation",
    "check_model",
    "check_params",
    "check_rows",
    "coerce_params",
    "expected_form",
    "guard",
    "is_placeholder",
]
