"""connect(), configure_table, table names and map_tables refuse bad input with an FmdError
naming the parameter, before anything is written (issue 11: ValidationError leaks, 3-part names,
case-insensitive table identity, wrong types)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from written import snapshot

import fmd_runtime as fmd
from fmd_runtime import ConfigError, InvalidIdentifierError
from fmd_runtime.config import RuntimeConfig


# -- connect(): ConfigError, never pydantic's ValidationError -----------------------------------
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"metadata_schema": "bad name"}, "metadata_schema: schema 'bad name'"),
        ({"metadata_schema": 5}, "metadata_schema"),
        ({"config": {"vacuum_retention_floor_hours": 10**9}}, "vacuum_retention_floor_hours"),
        ({"config": {"metadata_vacuum_retention_hours": 10**12}}, "(got 1000000000000)"),
        ({"config": {"checkpoint_retention_days": {"DailyBatch": 3_000_000}}}, "DailyBatch"),
        ({"config": {"max_workers": "many"}}, "max_workers"),
        ({"config": {"no_such_setting": 1}}, "no_such_setting: unknown setting"),
        ({"config": RuntimeConfig().model_copy(update={"at_risk_days": -5})}, "at_risk_days"),
        ({"config": "max_workers=4"}, "parameter 'config'"),
        ({"run_id": 5}, "parameter 'run_id'"),
        ({"pipeline_run_id": ["x"]}, "parameter 'pipeline_run_id'"),
        ({"triggered_by": 1.5}, "parameter 'triggered_by'"),
        ({"ensure": "maybe"}, "parameter 'ensure'"),
    ],
)
def test_connect_raises_config_error_naming_the_field(
    lakehouse: Path, kwargs: dict[str, object], named: str
) -> None:
    before = sorted(lakehouse.rglob("*"))
    with pytest.raises(ConfigError) as exc:
        fmd.connect(lakehouse=lakehouse, **kwargs)  # type: ignore[arg-type]
    assert not isinstance(exc.value, ValidationError)
    assert named in str(exc.value) and "What to do:" in str(exc.value)
    assert sorted(lakehouse.rglob("*")) == before  # not even the metadata tables


def test_connect_takes_a_config_dict_and_metadata_schema_over_it(lakehouse: Path) -> None:
    rt = fmd.connect(
        lakehouse=lakehouse,
        config={"max_workers": 3, "metadata_schema": "meta1"},
        metadata_schema="meta2",
        ensure=False,
    )
    assert (rt.config.max_workers, rt.config.metadata_schema) == (3, "meta2")


# -- table names: another lakehouse is refused, this one is accepted ---------------------------
def test_a_name_of_another_lakehouse_is_refused_everywhere(rt) -> None:
    before = snapshot(rt)
    calls = [
        lambda: rt.table("otherlakehouse.bronze.account"),
        lambda: rt.configure_table("otherlakehouse.bronze.account", primary_key=["Id"]),
        lambda: rt.table_config("otherlakehouse.bronze.account"),
        lambda: rt.checkpoints.create("otherlakehouse.bronze.account", kind="Manual"),
        lambda: rt.checkpoints.create(["otherlakehouse.bronze.account"]),  # DailyBatch too
    ]
    for call in calls:
        with pytest.raises(InvalidIdentifierError) as exc:
            call()
        text = str(exc.value)
        assert "'otherlakehouse.bronze.account' names lakehouse 'otherlakehouse'" in text
        assert "pass 'bronze.account'" in text
    with pytest.raises(InvalidIdentifierError, match="4 parts"):
        rt.table("ws.lh.bronze.account")
    assert snapshot(rt) == before


def test_the_connected_lakehouse_may_be_named(rt) -> None:
    here = Path(rt.engine.root).name
    assert rt.lakehouse_names == (here,)
    ref = rt.table(f"{here.upper()}.bronze.account")
    assert (ref.lakehouse, ref.name) == (None, "bronze.account")
    assert rt.configure_table(f"{here}.bronze.account", primary_key=["Id"]).table == (
        "bronze.account"
    )


def test_a_onelake_root_is_named_by_its_lakehouse(lakehouse: Path) -> None:
    from fmd_runtime.engine.deltars import DeltaRsEngine

    engine = DeltaRsEngine(lakehouse)
    engine.root = "abfss://ws@onelake.dfs.fabric.microsoft.com/Sales.Lakehouse"
    rt = fmd.connect(engine=engine, ensure=False)
    assert rt.lakehouse_names == ("Sales",)
    assert rt.table("sales.bronze.a").name == "bronze.a"


# -- table identity is case-insensitive ------------------------------------------------------
def _config_rows(rt) -> list[tuple[str, str]]:
    return sorted((r["SchemaName"], r["TableName"]) for r in rt.store.read("PipelineConfig"))


def test_configure_table_matches_names_case_insensitively_and_keeps_the_first_spelling(rt) -> None:
    rt.configure_table("bronze.account", primary_key=["AccountId"])
    cfg = rt.configure_table("bronze.ACCOUNT", deleted_flag="IsDeleted")
    assert cfg.table == "bronze.account"
    assert (cfg.primary_key, cfg.deleted_flag) == (["AccountId"], "IsDeleted")
    assert _config_rows(rt) == [("bronze", "account")]
    assert rt.table_config("BRONZE.Account").deleted_flag == "IsDeleted"
    assert [c.table for c in rt.table_configs()] == ["bronze.account"]


def test_duplicate_spellings_written_before_the_fix_are_one_table(rt) -> None:
    rows = [
        rt.configure_table("bronze.account", primary_key=["Id"]).to_row(),
        {**rt.table_config("bronze.account").to_row(), "TableName": "ACCOUNT", "Layer": "x"},
    ]
    rt.store.append("PipelineConfig", rows[1:])
    assert len(rt.table_configs()) == 1  # one table, as Spark sees it
    before = snapshot(rt)
    with pytest.raises(ConfigError, match="2 rows for what Spark sees as one table"):
        rt.configure_table("bronze.Account", enabled=False)  # which row? refused
    assert snapshot(rt) == before
    assert rt.configure_table("bronze.ACCOUNT", layer="bronze").layer == "bronze"  # exact one


# -- configure_table: values and types, nothing written --------------------------------------
@pytest.mark.parametrize(
    ("table", "settings", "error", "named"),
    [
        ("bronze.a", {"vacuum_retention_hours": 10**9}, ConfigError, "vacuum_retention_hours"),
        ("bronze.a", {"vacuum_retention_hours": 10**12}, ConfigError, "87600"),
        ("bronze.a", {"checkpoint_retention_days": 3_000_000}, ConfigError, "3650"),
        ("bronze.a", {"enabled": "maybe"}, ConfigError, "enabled"),
        ("bronze.a", {"nope": 1}, ConfigError, "unknown configuration key"),
        (None, {}, InvalidIdentifierError, "parameter 'table'"),
        (123, {}, InvalidIdentifierError, "parameter 'table'"),
        ("bronze.a-b", {}, InvalidIdentifierError, "table part"),
    ],
)
def test_configure_table_refuses_before_writing(
    rt, table: object, settings: dict[str, object], error: type, named: str
) -> None:
    rt.configure_table("bronze.a", primary_key=["Id"])
    before = snapshot(rt)
    with pytest.raises(error, match=named):
        rt.configure_table(table, **settings)  # type: ignore[arg-type]
    assert snapshot(rt) == before
    assert rt.table_config("bronze.a").vacuum_retention_hours == 168


def test_table_config_and_table_configs_check_their_arguments(rt) -> None:
    with pytest.raises(InvalidIdentifierError, match="parameter 'table'"):
        rt.table_config(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'enabled_only'"):
        rt.table_configs(enabled_only="sometimes")


def test_map_tables_checks_its_arguments_before_any_work(rt) -> None:
    calls: list[object] = []
    for kwargs, named in [
        ({"fn": 5, "items": [1]}, "'fn'"),
        ({"fn": calls.append, "items": "ab"}, "'items'"),
        ({"fn": calls.append, "items": 7}, "'items'"),
        ({"fn": calls.append, "items": [1], "max_workers": 0}, "'max_workers'"),
        ({"fn": calls.append, "items": [1], "max_workers": "lots"}, "'max_workers'"),
        ({"fn": calls.append, "items": [1], "label": 3}, "'label'"),
        ({"fn": calls.append, "items": [1], "key": "name"}, "'key'"),
        ({"fn": calls.append, "items": [1], "progress": "print"}, "'progress'"),
    ]:
        with pytest.raises(ConfigError, match=named):
            rt.map_tables(**kwargs)
    assert calls == []
    assert [o.value for o in rt.map_tables(lambda x: x * 2, (1, 2), max_workers="2")] == [2, 4]


def test_refused_configuration_leaves_no_trace_in_a_fresh_lakehouse(lakehouse: Path) -> None:
    rt = fmd.connect(lakehouse=lakehouse, run_id="r", ensure=True)
    before = snapshot(rt)
    for bad in ({"vacuum_retention_hours": 10**12}, {"checkpoint_retention_days": 0}):
        with pytest.raises(ConfigError):
            rt.configure_table("bronze.new", **bad)
    assert snapshot(rt) == before
    assert rt.store.read("PipelineConfig") == []
    rt.close()


def test_a_row_stored_out_of_bounds_is_named_and_can_be_fixed(rt) -> None:
    row = rt.configure_table("bronze.old", primary_key=["Id"]).to_row()
    rt.store.update(
        "PipelineConfig", {"TableName": "old"}, {"VacuumRetentionHours": 10**9}
    )  # as an older version could store it
    with pytest.raises(ConfigError, match="In table `bronze.old`: .*vacuum_retention_hours"):
        rt.table_config("bronze.old")
    with pytest.raises(ConfigError, match="vacuum_retention_hours"):
        rt.configure_table("bronze.old", enabled=False)  # still names the stored bad value
    cfg = rt.configure_table("bronze.old", vacuum_retention_hours=336)
    assert (cfg.vacuum_retention_hours, cfg.primary_key) == (336, ["Id"])
    assert row["PrimaryKey"] == "Id" and len(rt.store.read("PipelineConfig")) == 1
