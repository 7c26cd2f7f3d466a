"""TableRef parsing, validation, quoting and the OneLake folder mapping."""

from __future__ import annotations

import pytest

from fmd_runtime.errors import InvalidIdentifierError
from fmd_runtime.tables import TableRef, parse_tables, quote_identifier, validate_identifier


@pytest.mark.parametrize(
    ("text", "lakehouse", "schema", "table"),
    [
        ("account", None, "dbo", "account"),
        ("bronze.account", None, "bronze", "account"),
        ("Sales_LH.bronze.account", "Sales_LH", "bronze", "account"),
        ("  bronze.Account_2 ", None, "bronze", "Account_2"),
    ],
)
def test_parse_forms(text: str, lakehouse: str | None, schema: str, table: str) -> None:
    ref = TableRef.parse(text)
    assert (ref.lakehouse, ref.schema_name, ref.table) == (lakehouse, schema, table)


def test_default_schema_can_be_changed() -> None:
    assert TableRef.parse("account", default_schema="bronze").name == "bronze.account"


@pytest.mark.parametrize(
    ("text", "bad_part"),
    [
        ("bronze.acc-ount", "table part"),
        ("bro nze.account", "schema part"),
        ("x;DROP TABLE y", "table part"),
        ("1bronze.account", "schema part"),
        ("bronze.`account`", "table part"),
        ("lh.bronze.acc'ount", "table part"),
        ("a.b.c.d", "4 parts"),
        ("bronze.", "table part"),
        ("", "empty"),
    ],
)
def test_rejects_non_identifiers_naming_the_part(text: str, bad_part: str) -> None:
    with pytest.raises(InvalidIdentifierError) as exc:
        TableRef.parse(text)
    assert bad_part in str(exc.value)


def test_quoting_and_path() -> None:
    ref = TableRef.parse("lh.bronze.account")
    assert ref.quoted == "`lh`.`bronze`.`account`"
    assert TableRef.parse("bronze.account").quoted == "`bronze`.`account`"
    assert ref.path("/lakehouse/default/") == "/lakehouse/default/Tables/bronze/account"
    assert ref.path("abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse") == (
        "abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Tables/bronze/account"
    )


def test_quote_identifier_refuses_backticks() -> None:
    assert quote_identifier("IsDeleted") == "`IsDeleted`"
    with pytest.raises(InvalidIdentifierError):
        quote_identifier("a`b")
    with pytest.raises(InvalidIdentifierError):
        validate_identifier("x" * 200)
    with pytest.raises(InvalidIdentifierError):
        quote_identifier("abc\n")  # `$` would match before a trailing newline


def test_parse_tables_dedupes_case_insensitively_and_keeps_order() -> None:
    assert [t.name for t in parse_tables("bronze.b, bronze.a,,BRONZE.B")] == [
        "bronze.b",
        "bronze.a",
    ]


def test_local_table_refuses_another_lakehouse_and_keeps_the_connected_one() -> None:
    from fmd_runtime.tables import local_table

    assert local_table("bronze.account").name == "bronze.account"
    ref = local_table("Sales_LH.bronze.account", lakehouses=["sales_lh"])
    assert (ref.lakehouse, ref.name) == (None, "bronze.account")
    with pytest.raises(InvalidIdentifierError) as exc:
        local_table("other.bronze.account", lakehouses=["sales_lh"])
    text = str(exc.value)
    assert "names lakehouse 'other'" in text and "connected to ['sales_lh']" in text
    assert "pass 'bronze.account'" in text
    with pytest.raises(InvalidIdentifierError, match="names lakehouse 'lh'"):
        local_table(TableRef.parse("lh.bronze.account"))
    with pytest.raises(InvalidIdentifierError, match="parameter 'tables' must be a table name"):
        local_table(42, parameter="tables")  # type: ignore[arg-type]
