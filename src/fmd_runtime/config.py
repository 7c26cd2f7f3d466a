"""Runtime and per-table configuration (pydantic, frozen, unknown keys rejected).

`RuntimeConfig` holds the connection-wide settings (metadata schema, safety floors, pool sizes).
`TableConfig` is one table's ``PipelineConfig`` row as a typed object, with defaults filled in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fmd_runtime.errors import ConfigError
from fmd_runtime.store import to_json
from fmd_runtime.tables import (
    DEFAULT_SCHEMA,
    TableRef,
    local_table,
    parse_tables,
    validate_identifier,
)

DriftPolicy = Literal["permissive", "additive", "strict"]
CheckpointKind = Literal[
    "Daily", "DailyBatch", "PrePurge", "Manual", "PreMaintenance", "PreRollback", "PostRollback"
]

CHECKPOINT_KINDS: tuple[str, ...] = (
    "Daily",
    "DailyBatch",
    "PrePurge",
    "Manual",
    "PreMaintenance",
    "PreRollback",
    "PostRollback",
)

DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "Daily": 7,
    "DailyBatch": 7,
    "Manual": 30,
    "PrePurge": 365,
    "PostRollback": 30,
    "PreRollback": 30,
    "PreMaintenance": 7,
}
"""Checkpoint retention per kind (operators' decision, reference CR-001)."""

DEFAULT_DRIFT_BY_LAYER: dict[str, DriftPolicy] = {
    "landing": "permissive",
    "bronze": "additive",
    "silver": "strict",
}


# --------------------------------------------------------------------------- inputs
# Every public entry point checks its inputs with these two helpers (one place, one wording):
# pipeline parameters arrive as strings, and `bool("false")` is True.

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


MAX_RETENTION_HOURS = 87_600
"""Largest retention accepted anywhere, in hours (10 years): beyond it Delta intervals overflow
Arrow's duration type and retention arithmetic stops meaning anything."""

MAX_RETENTION_DAYS = 3_650
"""Largest checkpoint retention accepted, in days (10 years)."""

MAX_WATERMARK_SKEW_HOURS = 8_760
MAX_LOAD_WAIT_SECONDS = 86_400
"""The longest a batch checkpoint waits for the batch's loads in flight (1 day)."""
"""Largest future skew a watermark may have, in hours (1 year); see
`RuntimeConfig.watermark_future_skew_hours`."""

MAX_AUDIT_BUFFER_ROWS = 100_000
"""Largest audit buffer, in rows: a flush is one commit held in memory until then."""

MAX_MARGIN_DAYS = 365
"""Largest ``retention_margin_days`` / ``at_risk_days``, in days."""


def _number(value: Any, info: ValidationInfo) -> Any:
    # Pydantic's lax mode takes True as 1 and False as 0 for a number field: refuse it here; the
    # field's own bounds (ge/le) then apply and name the range.
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got a boolean ({value})")
    return value


def _config_error(
    exc: ValidationError, what: str, *, table: str | None, valid: list[str]
) -> ConfigError:
    """One `ConfigError` naming every bad field, what is wrong with it and the fix.

    Numbers are shown (they are never secrets); other inputs are not repeated (a value typed into
    the wrong field may be a secret), except where the field's own check names it.
    """
    problems, unknown = [], False
    for err in exc.errors(include_url=False, include_context=False):
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        # a nested FmdError's "What to do:" is part of this field's problem, not a second hint
        msg = str(err["msg"]).removeprefix("Value error, ").replace(". What to do: ", ": ")
        if err["type"] == "extra_forbidden":
            msg, unknown = "unknown setting", True
        value = err.get("input")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = f" (got {value!r})" if number and err["type"] != "extra_forbidden" else ""
        problems.append(f"{field}: {msg}{shown}")
    hint = (
        f"valid keys are {valid}"
        if unknown
        else "correct the value(s) named above (every setting and its bounds: "
        "docs/configuration.md)"
    )
    return ConfigError(f"invalid {what}: " + "; ".join(problems), table=table, hint=hint)


class _Settings(BaseModel):
    """Base of the settings models: invalid values raise `ConfigError`, never pydantic's
    ValidationError, whether the model is built by the library or directly by a user."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            table = values.get("table")
            raise _config_error(
                exc,
                f"{type(self).__name__}" if not table else "table configuration",
                table=str(table) if table else None,
                valid=self._valid_keys(),
            ) from None

    @classmethod
    def _valid_keys(cls) -> list[str]:
        return list(cls.model_fields)


class RuntimeConfig(_Settings):
    """Connection-wide settings. Invalid values raise `ConfigError` naming the field, the value
    and the accepted range (docs/configuration.md lists them all).

    Attributes:
        metadata_schema: schema of the metadata tables (a plain identifier).
        default_schema: schema assumed for bare table names (Fabric: ``dbo``).
        vacuum_retention_floor_hours: VACUUM never retains less than this (default 168 = 7 days;
            0 to `MAX_RETENTION_HOURS` = 87,600).
        metadata_vacuum_retention_hours: retention used for the metadata tables (default 720;
            168 to 87,600).
        max_workers: bounded pool size for per-table work (default 8; 1 to 64).
        audit_buffer_rows: audit rows buffered before an automatic flush (default 500; 1 to
            `MAX_AUDIT_BUFFER_ROWS` = 100,000).
        risk_high_pct / risk_medium_pct: rollback risk thresholds, percent of rows changed
            (defaults 10 and 1; 0 to 100, medium at most high).
        checkpoint_retention_days: retention per checkpoint kind (`DEFAULT_RETENTION_DAYS`;
            keys from `CHECKPOINT_KINDS`, values 1 to `MAX_RETENTION_DAYS` = 3,650; kinds left
            out keep their default).
        retention_margin_days: margin added when raising table retention to cover a checkpoint
            (default 1; 0 to `MAX_MARGIN_DAYS` = 365).
        at_risk_days: a checkpoint whose files stop being covered within this many days is
            AtRisk (default 2; 0 to 365).
        watermark_future_skew_hours: how far past now (UTC) a datetime or date watermark may be
            before it is refused as absurd (default 24: covers clock skew and a source time zone
            declared wrongly by up to 14 hours; 0 to `MAX_WATERMARK_SKEW_HOURS` = 8,760). See
            `fmd_runtime.watermarks.SENTINELS`.
        checkpoint_load_wait_seconds: how long a batch checkpoint waits for loads of its batch
            still in flight before it pins anyway and records itself ``InFlight`` (default 900;
            0 to `MAX_LOAD_WAIT_SECONDS` = 86,400; 0: do not wait).
        checkpoint_load_poll_seconds: how often it reads the run ledger while waiting (default
            15; 0.05 to 600).

    Example:
        >>> RuntimeConfig(max_workers=4).max_workers
        4
        >>> RuntimeConfig(vacuum_retention_floor_hours=10**9)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fmd_runtime.errors.ConfigError: invalid RuntimeConfig: vacuum_retention_floor_hours: Input should be less than or equal to 87600 (got 1000000000)...
    """

    metadata_schema: str = "metadata"
    default_schema: str = DEFAULT_SCHEMA
    vacuum_retention_floor_hours: int = Field(default=168, ge=0, le=MAX_RETENTION_HOURS)
    metadata_vacuum_retention_hours: int = Field(default=720, ge=168, le=MAX_RETENTION_HOURS)
    max_workers: int = Field(default=8, ge=1, le=64)
    audit_buffer_rows: int = Field(default=500, ge=1, le=MAX_AUDIT_BUFFER_ROWS)
    risk_high_pct: float = Field(default=10.0, ge=0, le=100)
    risk_medium_pct: float = Field(default=1.0, ge=0, le=100)
    checkpoint_retention_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    retention_margin_days: int = Field(default=1, ge=0, le=MAX_MARGIN_DAYS)
    at_risk_days: int = Field(default=2, ge=0, le=MAX_MARGIN_DAYS)
    watermark_future_skew_hours: int = Field(default=24, ge=0, le=MAX_WATERMARK_SKEW_HOURS)
    checkpoint_load_wait_seconds: float = Field(default=900.0, ge=0, le=MAX_LOAD_WAIT_SECONDS)
    checkpoint_load_poll_seconds: float = Field(default=15.0, ge=0.05, le=600)

    _numbers = field_validator(
        "vacuum_retention_floor_hours",
        "metadata_vacuum_retention_hours",
        "max_workers",
        "audit_buffer_rows",
        "risk_high_pct",
        "risk_medium_pct",
        "retention_margin_days",
        "at_risk_days",
        "watermark_future_skew_hours",
        "checkpoint_load_wait_seconds",
        "checkpoint_load_poll_seconds",
        mode="before",
    )(_number)

    @field_validator("metadata_schema", "default_schema")
    @classmethod
    def _identifier(cls, v: str) -> str:
        return validate_identifier(v, what="schema")

    @field_validator("checkpoint_retention_days", mode="before")
    @classmethod
    def _retention_per_kind(cls, v: Any) -> dict[str, int]:
        if not isinstance(v, dict):
            raise ValueError("must be a mapping of checkpoint kind to days, like {'Daily': 7}")
        out = dict(DEFAULT_RETENTION_DAYS)
        for kind, days in v.items():
            if kind not in CHECKPOINT_KINDS:
                raise ValueError(
                    f"checkpoint kind {str(kind)[:40]!r} is not one of {list(CHECKPOINT_KINDS)}"
                )
            if (
                isinstance(days, bool)
                or not isinstance(days, int)
                or not 1 <= days <= MAX_RETENTION_DAYS
            ):
                shown = repr(days) if isinstance(days, int | float) else type(days).__name__
                raise ValueError(
                    f"{kind}: {shown} is not a whole number of days between 1 and "
                    f"{MAX_RETENTION_DAYS}"
                )
            out[kind] = days
        return out

    @field_validator("risk_medium_pct")
    @classmethod
    def _risk_order(cls, v: float, info: ValidationInfo) -> float:
        high = info.data.get("risk_high_pct")  # validated first (declared first)
        if high is not None and v > high:
            raise ValueError(
                f"is above risk_high_pct ({high:g}): the medium threshold must not exceed the "
                "high one"
            )
        return v


def build_runtime_config(values: dict[str, Any] | RuntimeConfig | None = None) -> RuntimeConfig:
    """Validate connection-wide settings (a mapping, a `RuntimeConfig` or None for defaults).

    The same as ``RuntimeConfig(**values)``: both raise `ConfigError`, never pydantic's
    ValidationError. A `RuntimeConfig` is validated again (``model_copy`` skips validation).

    Raises:
        ConfigError: unknown settings, wrong types or values out of bounds (each named).

    Example:
        >>> build_runtime_config({"at_risk_days": 3}).at_risk_days
        3
    """
    if values is None:
        return RuntimeConfig()
    if isinstance(values, RuntimeConfig):
        values = values.model_dump()
    if not isinstance(values, dict):
        raise ConfigError(
            f"parameter 'config' must be a RuntimeConfig or a dict, got {type(values).__name__}",
            hint="pass config=RuntimeConfig(...) or config={'max_workers': 4}",
        )
    return RuntimeConfig(**values)


def _csv(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value]


class TableConfig(_Settings):
    """One table's settings (its ``PipelineConfig`` row), defaults filled in.

    Invalid values raise `ConfigError` naming each field (see `build_table_config`). Numeric
    bounds: ``vacuum_retention_hours`` 0 to `MAX_RETENTION_HOURS` (87,600; maintenance refuses
    values below ``RuntimeConfig.vacuum_retention_floor_hours`` when it plans),
    ``checkpoint_retention_days`` 1 to `MAX_RETENTION_DAYS` (3,650), ``validation_tolerance``
    0 to 1. ``table`` and ``related_tables`` are ``schema.table`` names of the connected
    lakehouse (a ``lakehouse.schema.table`` name is refused).

    Example:
        >>> cfg = TableConfig(table="bronze.account", primary_key=["AccountId"], deleted_flag="IsDeleted")
        >>> cfg.has_tracking, cfg.effective_drift_policy
        (True, 'additive')
    """

    table: str
    layer: str | None = None
    enabled: StrictFlag = True
    primary_key: list[str] = Field(default_factory=list)
    deleted_flag: str | None = None
    purged_flag: str | None = None
    related_tables: list[str] = Field(default_factory=list)
    foreign_keys: dict[str, str] = Field(default_factory=dict)
    enable_vacuum: StrictFlag = True
    vacuum_retention_hours: int = Field(default=168, ge=0, le=MAX_RETENTION_HOURS)
    enable_optimize: StrictFlag = True
    zorder_columns: list[str] = Field(default_factory=list)
    use_vorder: StrictFlag = False
    checkpoint_retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)
    validation_tolerance: float = Field(default=0.0, ge=0.0, le=1.0)
    drift_policy: DriftPolicy | None = None
    drift_warn_only: StrictFlag = False
    watermark_column: str | None = None
    watermark_kind: str | None = None
    last_purge_date: datetime | None = None
    updated_date: datetime | None = None
    updated_by: str | None = None

    _numbers = field_validator(
        "vacuum_retention_hours", "checkpoint_retention_days", "validation_tolerance", mode="before"
    )(_number)

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        return local_table(v).name

    @field_validator("primary_key", "zorder_columns", mode="before")
    @classmethod
    def _columns(cls, v: Any) -> list[str]:
        return [validate_identifier(c, what="column") for c in _csv(v)]

    @field_validator("related_tables", mode="before")
    @classmethod
    def _related(cls, v: Any) -> list[str]:
        return [local_table(t).name for t in parse_tables(_csv(v))]

    @field_validator("deleted_flag", "purged_flag", "watermark_column")
    @classmethod
    def _column(cls, v: str | None) -> str | None:
        return None if v in (None, "") else validate_identifier(v, what="column")

    @field_validator("foreign_keys")
    @classmethod
    def _fks(cls, v: dict[str, str]) -> dict[str, str]:
        for col, target in v.items():
            validate_identifier(col, what="foreign key column")
            parts = target.split(".")
            if len(parts) != 3:
                raise ValueError(f"foreign key target {target!r} must be schema.table.column")
            for p in parts:
                validate_identifier(p, what="foreign key target part")
        return v

    @classmethod
    def _valid_keys(cls) -> list[str]:
        return list(CONFIGURABLE_KEYS)

    @property
    def ref(self) -> TableRef:
        """The table as a `TableRef`."""
        return TableRef.parse(self.table)

    @property
    def effective_layer(self) -> str:
        """The layer (defaults to the schema name: bronze.account -> bronze)."""
        return (self.layer or self.ref.schema_name).lower()

    @property
    def effective_drift_policy(self) -> DriftPolicy:
        """The configured drift policy, else the layer default (strict for unknown layers)."""
        return self.drift_policy or DEFAULT_DRIFT_BY_LAYER.get(self.effective_layer, "strict")

    @property
    def has_tracking(self) -> bool:
        """True when deleted/purged tracking columns are configured."""
        return bool(self.deleted_flag or self.purged_flag)

    def to_row(self) -> dict[str, Any]:
        """The ``PipelineConfig`` row for this configuration."""
        ref = self.ref
        return {
            "SchemaName": ref.schema_name,
            "TableName": ref.table,
            "Layer": self.layer,
            "IsEnabled": self.enabled,
            "PrimaryKey": ",".join(self.primary_key) or None,
            "DeletedFlag": self.deleted_flag,
            "PurgedFlag": self.purged_flag,
            "RelatedTables": ",".join(self.related_tables) or None,
            "ForeignKeys": to_json(self.foreign_keys) if self.foreign_keys else None,
            "EnableVacuum": self.enable_vacuum,
            "VacuumRetentionHours": self.vacuum_retention_hours,
            "EnableOptimize": self.enable_optimize,
            "OptimizeZOrderColumns": ",".join(self.zorder_columns) or None,
            "UseVOrder": self.use_vorder,
            "CheckpointRetentionDays": self.checkpoint_retention_days,
            "ValidationTolerance": self.validation_tolerance,
            "DriftPolicy": self.drift_policy,
            "DriftWarnOnly": self.drift_warn_only,
            "WatermarkColumn": self.watermark_column,
            "WatermarkKind": self.watermark_kind,
            "LastPurgeDate": self.last_purge_date,
            "UpdatedDate": self.updated_date,
            "UpdatedBy": self.updated_by,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TableConfig:
        """Build from a ``PipelineConfig`` row (nulls take the defaults).

        Raises:
            ConfigError: a stored value is invalid (e.g. out of bounds, written before the
                bounds were checked); fix it with ``rt.configure_table(table, <field>=...)``.
        """
        return build_table_config(cls.values_from_row(row))

    @classmethod
    def values_from_row(cls, row: dict[str, Any]) -> dict[str, Any]:
        """The settings a ``PipelineConfig`` row holds, not validated yet (nulls left out)."""
        import json

        mapping = {
            "Layer": "layer",
            "IsEnabled": "enabled",
            "PrimaryKey": "primary_key",
            "DeletedFlag": "deleted_flag",
            "PurgedFlag": "purged_flag",
            "RelatedTables": "related_tables",
            "ForeignKeys": "foreign_keys",
            "EnableVacuum": "enable_vacuum",
            "VacuumRetentionHours": "vacuum_retention_hours",
            "EnableOptimize": "enable_optimize",
            "OptimizeZOrderColumns": "zorder_columns",
            "UseVOrder": "use_vorder",
            "CheckpointRetentionDays": "checkpoint_retention_days",
            "ValidationTolerance": "validation_tolerance",
            "DriftPolicy": "drift_policy",
            "DriftWarnOnly": "drift_warn_only",
            "WatermarkColumn": "watermark_column",
            "WatermarkKind": "watermark_kind",
            "LastPurgeDate": "last_purge_date",
            "UpdatedDate": "updated_date",
            "UpdatedBy": "updated_by",
        }
        values: dict[str, Any] = {"table": f"{row['SchemaName']}.{row['TableName']}"}
        for col, field in mapping.items():
            if row.get(col) is not None:
                values[field] = json.loads(row[col]) if col == "ForeignKeys" else row[col]
        return values


CONFIGURABLE_KEYS: tuple[str, ...] = tuple(
    k for k in TableConfig.model_fields if k not in {"table", "updated_date"}
)


def build_table_config(values: dict[str, Any]) -> TableConfig:
    """Validate a table configuration, turning pydantic errors into one `ConfigError`.

    The same as ``TableConfig(**values)`` (both raise `ConfigError`). Input values are not
    echoed in the message (they may hold secrets), except numbers and what a field's own check
    names (an identifier that is not one).

    Raises:
        ConfigError: unknown keys or invalid values, each named with its expected form.

    Example:
        >>> build_table_config({"table": "bronze.a", "vacuum_retention_hours": 720}).vacuum_retention_hours
        720
    """
    if not isinstance(values, dict):
        raise ConfigError(
            f"a table configuration must be a dict, got {type(values).__name__}",
            hint="pass {'table': 'schema.table', ...settings}",
        )
    return TableConfig(**values)


__all__ = [
    "CHECKPOINT_KINDS",
    "CONFIGURABLE_KEYS",
    "CheckpointKind",
    "DEFAULT_DRIFT_BY_LAYER",
    "DEFAULT_RETENTION_DAYS",
    "DriftPolicy",
    "RuntimeConfig",
    "StrictFlag",
    "TableConfig",
    "MAX_AUDIT_BUFFER_ROWS",
    "MAX_MARGIN_DAYS",
    "MAX_RETENTION_DAYS",
    "MAX_RETENTION_HOURS",
    "MAX_WATERMARK_SKEW_HOURS",
    "build_runtime_config",
    "build_table_config",
    "check_number",
    "strict_bool",
]
