"""RuntimeConfig / TableConfig validation and the PipelineConfig row round trip."""

from __future__ import annotations

import pytest

from fmd_runtime.config import RuntimeConfig, TableConfig, build_table_config
from fmd_runtime.errors import ConfigError


def test_table_config_defaults_and_derived_values() -> None:
    cfg = build_table_config({"table": "silver.customer", "primary_key": "Id, Code"})
    assert cfg.primary_key == ["Id", "Code"]
    assert cfg.effective_layer == "silver"
    assert cfg.effective_drift_policy == "strict"
    assert not cfg.has_tracking
    assert cfg.vacuum_retention_hours == 168


def test_row_round_trip() -> None:
    cfg = build_table_config(
        {
            "table": "bronze.donation",
            "primary_key": ["DonationId"],
            "deleted_flag": "IsDeleted",
            "purged_flag": "IsPurged",
            "related_tables": "bronze.account",
            "foreign_keys": {"AccountId": "bronze.account.AccountId"},
            "zorder_columns": ["AccountId"],
            "checkpoint_retention_days": 14,
        }
    )
    assert TableConfig.from_row(cfg.to_row()) == cfg


def test_errors_name_every_bad_field_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as exc:
        build_table_config(
            {
                "table": "bronze.a",
                "vacuum_retention_hours": "s3cr3t-value",
                "drift_policy": "lenient",
                "nope": 1,
            }
        )
    text = str(exc.value)
    assert "vacuum_retention_hours" in text and "drift_policy" in text and "nope" in text
    assert "s3cr3t-value" not in text and "lenient" not in text


def test_bad_identifiers_in_config_are_refused() -> None:
    with pytest.raises(ConfigError):
        build_table_config({"table": "bronze.a", "primary_key": ["Id; DROP"]})
    with pytest.raises(ConfigError):
        build_table_config(
            {"table": "bronze.a", "foreign_keys": {"AccountId": "account.AccountId"}}
        )


def test_runtime_config_is_frozen_and_strict() -> None:
    cfg = RuntimeConfig()
    assert cfg.vacuum_retention_floor_hours == 168
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        RuntimeConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        RuntimeConfig(metadata_schema="meta data")
