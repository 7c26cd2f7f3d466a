"""The connection-wide settings (`RuntimeConfig`) and the base every settings model shares.

`_Settings` turns pydantic's ValidationError into one `ConfigError` naming every bad field
(`_config_error`), whether a model is built by the library or by a user; `TableConfig`
(``_table``) builds on it. `RuntimeConfig` is separate from the table model because it is
validated once per connection, the table model once per ``PipelineConfig`` row.

Example:
    >>> RuntimeConfig(max_workers=4).max_workers
    4
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from fmd_runtime._base import FROZEN
from fmd_runtime.config._bounds import (
    CHECKPOINT_KINDS,
    DEFAULT_RETENTION_DAYS,
    MAX_AUDIT_BUFFER_ROWS,
    MAX_CIRCUIT_FAILURES,
    MAX_CIRCUIT_MINUTES,
    MAX_LOAD_WAIT_SECONDS,
    MAX_MARGIN_DAYS,
    MAX_RETENTION_DAYS,
    MAX_RETENTION_HOURS,
    MAX_WATERMARK_SKEW_HOURS,
    MIN_CIRCUIT_WINDOW_MINUTES,
)
from fmd_runtime.config._inputs import StrictFlag, _number
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import DEFAULT_SCHEMA, validate_identifier


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

    model_config = FROZEN

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
        circuit_enabled: the source circuit breaker (``rt.runs.check_source``, docs/
            circuit-breaker.md); False switches it off for every source: nothing is read,
            counted or refused (default True). One source: ``rt.runs.configure_source``.
        circuit_failure_threshold: consecutive transient failures of one source that open its
            breaker (default 5; 1 to `MAX_CIRCUIT_FAILURES` = 1,000).
        circuit_window_minutes: those failures count when they fall within this many minutes
            (default 15; 0.001 to `MAX_CIRCUIT_MINUTES` = 10,080).
        circuit_cooldown_minutes: how long an open breaker refuses every entity before one is
            let through as the probe (default 10; 0 to 10,080).
        circuit_probe_timeout_minutes: a probe without an outcome after this long is lost (its
            process died) and another entity may probe (default None: the cooldown; 0 to 10,080).

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
    circuit_enabled: StrictFlag = True
    circuit_failure_threshold: int = Field(default=5, ge=1, le=MAX_CIRCUIT_FAILURES)
    circuit_window_minutes: float = Field(
        default=15.0, ge=MIN_CIRCUIT_WINDOW_MINUTES, le=MAX_CIRCUIT_MINUTES
    )
    circuit_cooldown_minutes: float = Field(default=10.0, ge=0, le=MAX_CIRCUIT_MINUTES)
    circuit_probe_timeout_minutes: float | None = Field(default=None, ge=0, le=MAX_CIRCUIT_MINUTES)

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
        "circuit_failure_threshold",
        "circuit_window_minutes",
        "circuit_cooldown_minutes",
        "circuit_probe_timeout_minutes",
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
