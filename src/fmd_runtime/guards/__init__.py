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

The work is done in private modules: ``_types`` (the guard types and result models),
``_coerce`` (pipeline strings to typed values, expected forms), ``_checks`` (model safety,
violations, audit records); the entry points below read as the steps they take.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ContractViolation
from fmd_runtime.guards._checks import (
    M,
    _assert_safe_model,
    _audit_of,
    _bypass_instance,
    _record,
    _render,
    _violations,
    check_model,
)
from fmd_runtime.guards._coerce import coerce_params, expected_form
from fmd_runtime.guards._types import (
    NIL_GUID,
    EnvSensitive,
    Guid,
    NotPlaceholder,
    RowsCheck,
    Violation,
    is_placeholder,
)

log = logging.getLogger("fmd_runtime.guards")


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
