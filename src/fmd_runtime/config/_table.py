"""One table's settings (`TableConfig`): its ``PipelineConfig`` row as a typed object.

Separate from the connection-wide settings because it is the row's mapping too (`to_row`,
`from_row`) and the list of keys ``rt.configure_table`` accepts (`CONFIGURABLE_KEYS`).

Example:
    >>> build_table_config({"table": "bronze.a", "enable_vacuum": "false"}).enable_vacuum
    False
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from fmd_runtime.config._bounds import (
    DEFAULT_DRIFT_BY_LAYER,
    MAX_CHANGE_RATIO,
    MAX_RETENTION_DAYS,
    MAX_RETENTION_HOURS,
    DriftPolicy,
)
from fmd_runtime.config._inputs import StrictFlag, _number
from fmd_runtime.config._settings import _Settings
from fmd_runtime.errors import ConfigError
from fmd_runtime.store import to_json
from fmd_runtime.tables import TableRef, local_table, parse_tables, validate_identifier


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
    0 to 1; the merge circuit breaker's ``max_delete_share`` 0 to 1 (default 0.10: a merge may
    soft-delete at most 10% of the active rows) and ``max_change_ratio`` 1 to
    `MAX_CHANGE_RATIO` (default 3.0: at most 3x the table's usual change volume). ``table`` and ``related_tables`` are ``schema.table`` names of the connected
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
    compare_columns: list[str] = Field(default_factory=list)
    max_delete_share: float = Field(default=0.10, ge=0.0, le=1.0)
    max_change_ratio: float = Field(default=3.0, ge=1.0, le=MAX_CHANGE_RATIO)
    last_purge_date: datetime | None = None
    updated_date: datetime | None = None
    updated_by: str | None = None
    source_name: str | None = None
    """The source system the table is loaded from: the key of its source circuit breaker."""

    _numbers = field_validator(
        "vacuum_retention_hours",
        "checkpoint_retention_days",
        "validation_tolerance",
        "max_delete_share",
        "max_change_ratio",
        mode="before",
    )(_number)

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        return local_table(v).name

    @field_validator("primary_key", "zorder_columns", "compare_columns", mode="before")
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

    @field_validator("source_name")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if len(v) > 256:
            raise ValueError("must be at most 256 characters")
        return v.strip()

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
            "CompareColumns": ",".join(self.compare_columns) or None,
            "MaxDeleteShare": self.max_delete_share,
            "MaxChangeRatio": self.max_change_ratio,
            "LastPurgeDate": self.last_purge_date,
            "UpdatedDate": self.updated_date,
            "UpdatedBy": self.updated_by,
            "SourceName": self.source_name,
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
            "CompareColumns": "compare_columns",
            "MaxDeleteShare": "max_delete_share",
            "MaxChangeRatio": "max_change_ratio",
            "LastPurgeDate": "last_purge_date",
            "UpdatedDate": "updated_date",
            "UpdatedBy": "updated_by",
            "SourceName": "source_name",
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
