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
    # built directly by a user, it raises the library's ConfigError, never pydantic's error
    with pytest.raises(ConfigError, match="unknown: unknown setting"):
        RuntimeConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="metadata_schema: schema 'meta data' is not a plain"):
        RuntimeConfig(metadata_schema="meta data")


# -- bounds: every numeric setting has documented bounds, checked where it enters -----------
@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("vacuum_retention_floor_hours", 10**9, "less than or equal to 87600"),
        ("vacuum_retention_floor_hours", -1, "greater than or equal to 0"),
        ("metadata_vacuum_retention_hours", 10**12, "less than or equal to 87600"),
        ("metadata_vacuum_retention_hours", 24, "greater than or equal to 168"),
        ("audit_buffer_rows", 10**9, "less than or equal to 100000"),
        ("audit_buffer_rows", 0, "greater than or equal to 1"),
        ("max_workers", 1000, "less than or equal to 64"),
        ("risk_high_pct", 101, "less than or equal to 100"),
        ("risk_medium_pct", -0.5, "greater than or equal to 0"),
        ("retention_margin_days", 3_000_000, "less than or equal to 365"),
        ("at_risk_days", 10**6, "less than or equal to 365"),
        ("watermark_future_skew_hours", 10**6, "less than or equal to 8760"),
        ("watermark_future_skew_hours", -1, "greater than or equal to 0"),
    ],
)
def test_runtime_config_numbers_are_bounded(field: str, value: float, bound: str) -> None:
    with pytest.raises(ConfigError) as exc:
        RuntimeConfig(**{field: value})
    text = str(exc.value)
    assert field in text and bound in text and f"(got {value!r})" in text
    assert "docs/configuration.md" in text


def test_runtime_config_refuses_booleans_as_numbers_and_crossed_risk_thresholds() -> None:
    with pytest.raises(ConfigError, match="at_risk_days: must be a number, got a boolean"):
        RuntimeConfig(at_risk_days=True)
    with pytest.raises(ConfigError, match="risk_medium_pct: is above risk_high_pct"):
        RuntimeConfig(risk_high_pct=5, risk_medium_pct=6)
    assert RuntimeConfig(risk_high_pct=5, risk_medium_pct=5).risk_medium_pct == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Daily": 3_000_000}, "Daily: 3000000 is not a whole number of days between 1 and 3650"),
        ({"Daily": 0}, "Daily: 0 is not a whole number of days"),
        ({"Daily": True}, "Daily: True is not a whole number"),
        ({"Weekly": 7}, "checkpoint kind 'Weekly' is not one of"),
        ([7], "must be a mapping of checkpoint kind to days"),
    ],
)
def test_checkpoint_retention_per_kind_is_bounded(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RuntimeConfig(checkpoint_retention_days=value)  # type: ignore[arg-type]


def test_checkpoint_retention_per_kind_keeps_the_defaults_of_kinds_left_out() -> None:
    cfg = RuntimeConfig(checkpoint_retention_days={"Daily": 14})
    assert cfg.checkpoint_retention_days["Daily"] == 14
    assert cfg.checkpoint_retention_days["PrePurge"] == 365


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("vacuum_retention_hours", 10**9, "less than or equal to 87600"),
        ("vacuum_retention_hours", 10**12, "less than or equal to 87600"),
        ("checkpoint_retention_days", 3_000_000, "less than or equal to 3650"),
        ("checkpoint_retention_days", 0, "greater than or equal to 1"),
        ("validation_tolerance", 2, "less than or equal to 1"),
    ],
)
def test_table_config_numbers_are_bounded(field: str, value: float, bound: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build_table_config({"table": "bronze.a", field: value})
    text = str(exc.value)
    assert field in text and bound in text and f"(got {value!r})" in text
    with pytest.raises(ConfigError, match=field):
        TableConfig(table="bronze.a", **{field: value})  # direct construction: the same error
    with pytest.raises(ConfigError, match="must be a number, got a boolean"):
        TableConfig(table="bronze.a", **{field: True})


def test_table_config_refuses_another_lakehouse_and_non_dicts() -> None:
    with pytest.raises(ConfigError, match="names lakehouse 'other'"):
        build_table_config({"table": "other.bronze.a"})
    with pytest.raises(ConfigError, match="related_tables: .*names lakehouse 'other'"):
        build_table_config({"table": "bronze.a", "related_tables": "other.bronze.b"})
    with pytest.raises(ConfigError, match="must be a dict, got list"):
        build_table_config(["bronze.a"])  # type: ignore[arg-type]


def test_build_runtime_config_accepts_a_mapping_or_a_config_and_revalidates() -> None:
    from fmd_runtime.config import build_runtime_config

    assert build_runtime_config(None) == RuntimeConfig()
    assert build_runtime_config({"max_workers": 3}).max_workers == 3
    sneaky = RuntimeConfig().model_copy(update={"max_workers": 0})  # model_copy skips checks
    with pytest.raises(ConfigError, match="max_workers"):
        build_runtime_config(sneaky)
    with pytest.raises(ConfigError, match="parameter 'config' must be a RuntimeConfig or a dict"):
        build_runtime_config("max_workers=3")  # type: ignore[arg-type]


def test_configuration_doc_lists_every_setting_with_its_bounds() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    from fmd_runtime.config import CONFIGURABLE_KEYS

    for name in [*RuntimeConfig.model_fields, *CONFIGURABLE_KEYS]:
        assert f"`{name}`" in text, name
