"""Runtime and per-table configuration (pydantic, frozen, unknown keys rejected).

`RuntimeConfig` holds the connection-wide settings (metadata schema, safety floors, pool sizes).
`TableConfig` is one table's ``PipelineConfig`` row as a typed object, with defaults filled in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import DEFAULT_SCHEMA, TableRef, parse_tables, validate_identifier

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


class RuntimeConfig(BaseModel):
    """Connection-wide settings.

    Attributes:
        metadata_schema: schema of the metadata tables.
        default_schema: schema assumed for bare table names (Fabric: ``dbo``).
        vacuum_retention_floor_hours: VACUUM never retains less than this (default 168 = 7 days).
        metadata_vacuum_retention_hours: retention used for the metadata tables (>= 720).
        max_workers: bounded pool size for per-table work.
        audit_buffer_rows: audit rows buffered before an automatic flush.
        risk_high_pct / risk_medium_pct: rollback risk thresholds (share of rows changed).
        checkpoint_retention_days: retention per checkpoint kind.
        retention_margin_days: margin added when raising table retention to cover a checkpoint.
        at_risk_days: a checkpoint expiring within this many days is AtRisk.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metadata_schema: str = "metadata"
    default_schema: str = DEFAULT_SCHEMA
    vacuum_retention_floor_hours: int = Field(default=168, ge=0)
    metadata_vacuum_retention_hours: int = Field(default=720, ge=168)
    max_workers: int = Field(default=8, ge=1, le=64)
    audit_buffer_rows: int = Field(default=500, ge=1)
    risk_high_pct: float = Field(default=10.0, ge=0)
    risk_medium_pct: float = Field(default=1.0, ge=0)
    checkpoint_retention_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    retention_margin_days: int = Field(default=1, ge=0)
    at_risk_days: int = Field(default=2, ge=0)

    @field_validator("metadata_schema", "default_schema")
    @classmethod
    def _identifier(cls, v: str) -> str:
        return validate_identifier(v, what="schema")


def _csv(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value]


class TableConfig(BaseModel):
    """One table's settings (its ``PipelineConfig`` row), defaults filled in.

    Example:
        >>> cfg = TableConfig(table="bronze.account", primary_key=["AccountId"], deleted_flag="IsDeleted")
        >>> cfg.has_tracking, cfg.effective_drift_policy
        (True, 'additive')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    layer: str | None = None
    enabled: bool = True
    primary_key: list[str] = Field(default_factory=list)
    deleted_flag: str | None = None
    purged_flag: str | None = None
    related_tables: list[str] = Field(default_factory=list)
    foreign_keys: dict[str, str] = Field(default_factory=dict)
    enable_vacuum: bool = True
    vacuum_retention_hours: int = Field(default=168, ge=0)
    enable_optimize: bool = True
    zorder_columns: list[str] = Field(default_factory=list)
    use_vorder: bool = False
    checkpoint_retention_days: int | None = Field(default=None, ge=1)
    validation_tolerance: float = Field(default=0.0, ge=0.0, le=1.0)
    drift_policy: DriftPolicy | None = None
    drift_warn_only: bool = False
    watermark_column: str | None = None
    watermark_kind: str | None = None
    last_purge_date: datetime | None = None
    updated_date: datetime | None = None
    updated_by: str | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        return TableRef.parse(v).name

    @field_validator("primary_key", "zorder_columns", mode="before")
    @classmethod
    def _columns(cls, v: Any) -> list[str]:
        return [validate_identifier(c, what="column") for c in _csv(v)]

    @field_validator("related_tables", mode="before")
    @classmethod
    def _related(cls, v: Any) -> list[str]:
        return [t.name for t in parse_tables(_csv(v))]

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
        from fmd_runtime.store import to_json

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
        """Build from a ``PipelineConfig`` row (nulls take the defaults)."""
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
        return build_table_config(values)


CONFIGURABLE_KEYS: tuple[str, ...] = tuple(
    k for k in TableConfig.model_fields if k not in {"table", "updated_date"}
)


def build_table_config(values: dict[str, Any]) -> TableConfig:
    """Validate a table configuration, turning pydantic errors into one `ConfigError`.

    Input values are never echoed in the message (they may hold secrets).

    Raises:
        ConfigError: unknown keys or invalid values, each named with its expected form.
    """
    try:
        return TableConfig(**values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError(
            "invalid table configuration: " + "; ".join(problems),
            table=str(values.get("table")) if values.get("table") else None,
            hint=f"valid keys are {list(CONFIGURABLE_KEYS)}",
        ) from None


__all__ = [
    "CHECKPOINT_KINDS",
    "CONFIGURABLE_KEYS",
    "CheckpointKind",
    "DEFAULT_DRIFT_BY_LAYER",
    "DEFAULT_RETENTION_DAYS",
    "DriftPolicy",
    "RuntimeConfig",
    "TableConfig",
    "MAX_RETENTION_DAYS",
    "MAX_RETENTION_HOURS",
    "build_table_config",
    "check_number",
    "strict_bool",
]
