"""Runtime and per-table configuration (pydantic, frozen, unknown keys rejected).

`RuntimeConfig` holds the connection-wide settings (metadata schema, safety floors, pool sizes).
`TableConfig` is one table's ``PipelineConfig`` row as a typed object, with defaults filled in.
Both raise `ConfigError` naming every bad field, never pydantic's ValidationError.
`strict_bool` and `check_number` check the parameters every capability takes (pipeline
parameters arrive as strings); the kinds and bounds they check against are defined once here.

The work is done in private modules: ``_bounds`` (kinds, defaults, numeric bounds), ``_inputs``
(boolean and number checks), ``_settings`` (`RuntimeConfig` and the shared error wording),
``_table`` (`TableConfig`). Every name below is importable as ``fmd_runtime.config.<name>``.

Example:
    >>> from fmd_runtime.config import RuntimeConfig, build_table_config, strict_bool
    >>> RuntimeConfig(max_workers=4).max_workers
    4
    >>> build_table_config({"table": "bronze.account"}).effective_drift_policy
    'additive'
    >>> strict_bool("false", "dry_run")
    False
"""

from __future__ import annotations

from fmd_runtime.config._bounds import (
    CHECKPOINT_KINDS,
    DEFAULT_DRIFT_BY_LAYER,
    DEFAULT_RETENTION_DAYS,
    MAX_AUDIT_BUFFER_ROWS,
    MAX_CHANGE_RATIO,
    MAX_CIRCUIT_FAILURES,
    MAX_CIRCUIT_MINUTES,
    MAX_LOAD_WAIT_SECONDS,
    MAX_MARGIN_DAYS,
    MAX_RETENTION_DAYS,
    MAX_RETENTION_HOURS,
    MAX_WATERMARK_SKEW_HOURS,
    MIN_CIRCUIT_WINDOW_MINUTES,
    CheckpointKind,
    DriftPolicy,
)
from fmd_runtime.config._inputs import StrictFlag, check_number, strict_bool
from fmd_runtime.config._settings import RuntimeConfig, build_runtime_config
from fmd_runtime.config._table import CONFIGURABLE_KEYS, TableConfig, build_table_config

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
    "MAX_CHANGE_RATIO",
    "MAX_CIRCUIT_FAILURES",
    "MAX_CIRCUIT_MINUTES",
    "MAX_LOAD_WAIT_SECONDS",
    "MAX_MARGIN_DAYS",
    "MAX_RETENTION_DAYS",
    "MAX_RETENTION_HOURS",
    "MAX_WATERMARK_SKEW_HOURS",
    "MIN_CIRCUIT_WINDOW_MINUTES",
    "build_runtime_config",
    "build_table_config",
    "check_number",
    "strict_bool",
]
