"""Parameter guards and metadata-row contracts: every problem named at once, values never echoed."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

import fmd_runtime as fmd
from fmd_runtime.errors import ContractViolation
from fmd_runtime.guards import (
    NIL_GUID,
    EnvSensitive,
    Guid,
    NotPlaceholder,
    check_model,
    check_params,
    check_rows,
    coerce_params,
    expected_form,
    guard,
    is_placeholder,
)

WS = "5f0c3c1e-8a4b-4b7e-9d2a-0c1d2e3f4a5b"
LH = "9A1B2C3D-4E5F-4A6B-8C7D-0E1F2A3B4C5D"


class LoadParams(BaseModel):
    """What a bronze load notebook needs from its pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: Annotated[Guid, EnvSensitive()]
    lakehouse_id: Annotated[Guid, EnvSensitive()]
    entity_id: int = Field(description="EntityId in the metadata table")
    full_load: bool = False
    batch_size: int = 1000
    tables: list[str] = []
    options: dict[str, str] = {}
    load_date: date | None = None
    mode: Literal["append", "overwrite"] = "append"


def params(**overrides: str) -> dict[str, str]:
    base = {"workspace_id": WS, "lakehouse_id": LH, "entity_id": "42"}
    base.update(overrides)
    return base


def test_pipeline_strings_become_typed_values() -> None:
    p = guard(
        params(
            full_load="TRUE",
            batch_size=" 250 ",
            tables="bronze.account, bronze.contact,",
            options='{"sep": ";"}',
            load_date="2025-01-31",
            mode="overwrite",
        ),
        LoadParams,
    )
    assert p.full_load is True and p.batch_size == 250 and p.entity_id == 42
    assert p.tables == ["bronze.account", "bronze.contact"]
    assert p.options == {"sep": ";"}
    assert p.load_date == date(2025, 1, 31)
    assert p.lakehouse_id == LH.lower()  # GUIDs normalized


def test_json_arrays_empty_strings_and_false() -> None:
    p = guard(params(tables='["a", "b"]', full_load="false", batch_size=""), LoadParams)
    assert p.tables == ["a", "b"] and p.full_load is False and p.batch_size == 1000
    assert guard(json.dumps(params()), LoadParams).entity_id == 42  # one JSON string of params


def test_missing_two_fields_raise_one_error_naming_both() -> None:
    with pytest.raises(ContractViolation) as info:
        guard({"workspace_id": WS, "full_load": "true"}, LoadParams)
    message = str(info.value)
    assert "2 parameter problem(s)" in message
    assert "lakehouse_id: missing (required)" in message and "a GUID" in message
    assert "entity_id: missing (required)" in message and "a whole number" in message
    assert "EntityId in the metadata table" in message  # the field's description helps
    assert "What to do:" in message
    assert [v["field"] for v in info.value.details["violations"]] == ["lakehouse_id", "entity_id"]


def test_every_invalid_field_is_listed_with_its_expected_form_and_never_its_value() -> None:
    secret = "Password=hunter2-top-secret"
    with pytest.raises(ContractViolation) as info:
        guard(
            params(
                entity_id=secret, full_load="maybe", mode="merge", batch_size="1.5", unknown="x"
            ),
            LoadParams,
        )
    message = str(info.value)
    for field, form in [
        ("entity_id", "a whole number"),
        ("full_load", '"true" or "false"'),
        ("mode", "one of 'append', 'overwrite'"),
        ("batch_size", "a whole number"),
        ("unknown", "no such field"),
    ]:
        assert field in message and form in message
    assert "hunter2" not in message and "maybe" not in message and "merge" not in message
    assert "hunter2" not in json.dumps(info.value.details)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (NIL_GUID, "nil GUID"),
        ("REPLACE_ME", "placeholder"),
        ("TODO", "placeholder"),
        ("<workspace-id>", "placeholder"),
        ("{{workspace_id}}", "placeholder"),
        ("not-a-guid", "is not a GUID"),
    ],
)
def test_guid_fields_reject_nil_and_placeholders(value: str, problem: str) -> None:
    with pytest.raises(ContractViolation) as info:
        guard(params(workspace_id=value), LoadParams)
    assert f"workspace_id: invalid: {'is ' if problem != 'is not a GUID' else ''}" in str(
        info.value
    )
    assert problem in str(info.value)


def test_placeholder_detection() -> None:
    for text in (
        "REPLACE_ME",
        "replace-me",
        "TODO",
        "tbd",
        "<your lakehouse>",
        "https://<ws>.dfs/x",
        "${ID}",
        "",
        "  ",
    ):
        assert is_placeholder(text), text
    for text in ("bronze.account", "TODO_list_table", "Todo app", WS):
        assert not is_placeholder(text), text

    class Source(BaseModel):
        query: NotPlaceholder

    with pytest.raises(ContractViolation, match="placeholder"):
        guard({"query": "SELECT * FROM <table>"}, Source)


SQL_WITH_COMPARISONS = [
    "SELECT * FROM crm.account WHERE a < 5 AND b > 3",
    "SELECT * FROM crm.account WHERE a<5 AND b>3",
    "SELECT * FROM crm.account WHERE a<b AND c>d",
    "SELECT * FROM crm.account WHERE a <> b",
    "SELECT * FROM crm.account WHERE a<>b AND c <= 5 AND d >= 3",
    "SELECT * FROM crm.account WHERE x < y AND y > z",
    "SELECT CASE WHEN a<b THEN 1 END AS f, c>d AS g FROM crm.account",
    "SELECT CAST(tags AS ARRAY<STRING>), CAST(m AS MAP<STRING,INT>) FROM crm.account",
    "SELECT * FROM crm.account WHERE 'a'<b AND c>'d'",
]


@pytest.mark.parametrize("sql", SQL_WITH_COMPARISONS)
def test_sql_comparisons_are_not_placeholders(sql: str) -> None:
    class Source(BaseModel):
        query: NotPlaceholder

    assert not is_placeholder(sql)
    assert guard({"query": sql}, Source).query == sql


@pytest.mark.parametrize(
    "text",
    [
        "<your-guid>",
        "<WORKSPACE_ID>",
        "<your lakehouse>",
        "{{x}}",
        "TODO",
        "Server=<server>;Database=crm",
        "abfss://<workspace>@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Tables",
        "SELECT * FROM <table> WHERE a < 5",
    ],
)
def test_real_placeholders_are_still_refused(text: str) -> None:
    assert is_placeholder(text)


def test_environment_sensitive_fields_must_have_no_default() -> None:
    class Unsafe(BaseModel):
        workspace_id: Annotated[Guid, EnvSensitive()] = WS
        lakehouse_id: Annotated[Guid, EnvSensitive()] = Field(default_factory=lambda: LH)
        connection: Guid = "REPLACE_ME"

    problems = check_model(Unsafe)
    assert [(p.field, p.problem) for p in problems] == [
        ("workspace_id", "environment-sensitive field has a default"),
        ("lakehouse_id", "environment-sensitive field has a default"),
        ("connection", "default is a placeholder"),
    ]
    with pytest.raises(ContractViolation, match="itself is unsafe"):
        guard({}, Unsafe)
    assert check_model(LoadParams) == []


def test_expected_forms() -> None:
    assert expected_form(int) == "a whole number, e.g. 42"
    assert expected_form(list[int]).startswith("a comma-separated list")
    assert expected_form(dict[str, int]).startswith("a JSON object")
    assert expected_form(Guid).startswith("a GUID")
    assert expected_form(date | None) == "an ISO date, e.g. 2025-01-31"


def test_coerce_params_leaves_typed_values_alone() -> None:
    assert coerce_params({"entity_id": 5, "tables": ["a"], "full_load": True}, LoadParams) == {
        "entity_id": 5,
        "tables": ["a"],
        "full_load": True,
    }


def test_refusal_is_audited_without_values(rt) -> None:
    with pytest.raises(ContractViolation):
        guard(params(entity_id="pwd=s3cr3t-value"), LoadParams, audit=rt)
    (row,) = rt.store.read("SyncAuditLog", {"Operation": "ContractViolation"})
    assert (row["Status"], row["Severity"], row["ErrorType"]) == (
        "Failed",
        "HIGH",
        "ContractViolation",
    )
    assert "s3cr3t" not in json.dumps(row, default=str)
    assert json.loads(row["Details"])["violations"][0]["field"] == "entity_id"


def test_bypass_turns_violations_into_audited_warnings(rt) -> None:
    p = guard(
        {"workspace_id": NIL_GUID, "entity_id": "7", "batch_size": "lots"},
        LoadParams,
        bypass=True,
        audit=rt.audit,
    )
    assert p.entity_id == 7  # valid fields are typed
    assert p.workspace_id == NIL_GUID and p.batch_size == "lots"  # the rest as passed
    assert p.lakehouse_id is None  # missing
    rt.audit.flush()
    (row,) = rt.store.read("SyncAuditLog", {"Operation": "ContractBypass"})
    assert (row["Status"], row["Severity"]) == ("Warning", "MEDIUM")
    fields = {v["field"] for v in json.loads(row["Details"])["violations"]}
    assert fields == {"workspace_id", "lakehouse_id", "batch_size"}


def test_public_api_exposes_guard() -> None:
    assert fmd.guard is guard
    assert "guard" in fmd.__all__


# -- metadata rows -------------------------------------------------------------------------


class EntityRow(BaseModel):
    """The user's contract for one metadata entity row."""

    model_config = ConfigDict(extra="ignore")

    EntityId: int
    SourceDataRetrieval: NotPlaceholder
    ConnectionGuid: Guid
    IsIncremental: bool = False
    KeyColumns: list[str]


def rows() -> list[dict[str, object]]:
    good = {
        "SourceDataRetrieval": "SELECT * FROM crm.account",
        "ConnectionGuid": WS,
        "KeyColumns": "AccountId",
    }
    return [
        {"EntityId": "1", **good},
        {"EntityId": "2", **good, "ConnectionGuid": NIL_GUID, "IsIncremental": "yes please"},
        {"EntityId": "3", **good, "SourceDataRetrieval": "TODO"},
        {"EntityId": "4", **good},
        {"EntityId": "4", **good},  # duplicate
        {"EntityId": "", **good, "KeyColumns": ""},
    ]


def test_check_rows_reports_every_violation_by_entity() -> None:
    with pytest.raises(ContractViolation) as info:
        check_rows(rows(), EntityRow)
    message = str(info.value)
    assert "4 of 6 metadata row(s) break the contract `EntityRow` (6 problem(s))" in message
    assert "entity 2:" in message and "ConnectionGuid: invalid: is the nil GUID" in message
    assert "IsIncremental: invalid" in message
    assert "entity 3:" in message and "SourceDataRetrieval: invalid: is a placeholder" in message
    assert "EntityId: duplicate key (also row 4)" in message
    assert (
        "entity row 6:" in message
        and "EntityId: missing" in message
        and "KeyColumns: missing" in message
    )
    assert info.value.details["entities"] == ["2", "3", "4", "row 6"]


def test_check_rows_accepts_spark_rows_and_returns_typed_models() -> None:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    good = [pyspark_sql.Row(**r) for r in rows()[:1]] + [rows()[3]]
    result = check_rows(good, EntityRow)
    assert result.ok and result.checked == 2
    assert [m.EntityId for m in result.valid] == [1, 4]
    assert result.valid[0].KeyColumns == ["AccountId"]


def test_check_rows_bypass_audits_each_entity(rt) -> None:
    result = check_rows(rows(), EntityRow, bypass=True, audit=rt)
    assert not result.ok
    assert [m.EntityId for m in result.valid] == [1, 4]
    assert len(result.bypassed) == 4
    assert set(result.by_entity()) == {"2", "3", "4", "row 6"}
    rt.audit.flush()
    audited = rt.store.read("SyncAuditLog", {"Operation": "ContractBypass"})
    assert sorted(r["EntityId"] for r in audited) == ["2", "3", "4", "row 6"]
    assert {r["Severity"] for r in audited} == {"MEDIUM"}


def test_check_rows_refusal_marks_entities_failed_in_the_audit(rt) -> None:
    with pytest.raises(ContractViolation):
        check_rows(rows()[:3], EntityRow, audit=rt)
    audited = rt.store.read("SyncAuditLog", {"Operation": "ContractViolation"})
    assert sorted((r["EntityId"], r["Status"]) for r in audited) == [
        ("2", "Failed"),
        ("3", "Failed"),
    ]


def test_check_params_returns_violations_in_hand() -> None:
    check = check_params({"workspace_id": WS, "entity_id": "x"}, LoadParams)
    assert not check.ok and check.checked == 1
    assert [(v.field, v.problem.split(":")[0]) for v in check.violations] == [
        ("lakehouse_id", "missing (required)"),
        ("entity_id", "invalid"),
    ]
    assert check.bypassed[0].workspace_id == WS
    assert check_params(params(), LoadParams).valid[0].entity_id == 42
