"""What preflight calls a placeholder, what it shows of a value, and the supported versions."""

from __future__ import annotations

import uuid

import pytest

from fmd_runtime.health._preflight_env import version_findings
from fmd_runtime.health._preflight_values import (
    placeholder_guid_problem,
    shown,
    value_problem,
)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("00000000-0000-0000-0000-000000000000", "nil GUID"),
        ("{00000000-0000-0000-0000-000000000000}", "nil GUID"),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", "every digit is 'f'"),
        ("11111111-1111-1111-1111-111111111111", "every digit is '1'"),
        ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "not hexadecimal"),
        ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", "not hexadecimal"),
        ("123e4567-e89b-12d3-a456-426614174000", "documentation example"),
        ("12345678-1234-5678-1234-567812345678", "documentation example"),
    ],
)
def test_placeholder_guids(value: str, why: str) -> None:
    problem = placeholder_guid_problem(value)
    assert problem is not None and why in problem
    assert value_problem(value) == ("preflight.placeholder_guid", problem)


@pytest.mark.parametrize(
    "value", [str(uuid.uuid4()), "bronze", "account", "1b4e28ba-2fa1", "", "preflight-placeholders"]
)
def test_real_values_are_not_placeholders(value: str) -> None:
    assert placeholder_guid_problem(value) is None
    assert value_problem(value) is None


@pytest.mark.parametrize(
    ("value", "check"),
    [
        ("TODO", "preflight.placeholder_value"),
        ("<workspace-id>", "preflight.placeholder_value"),
        ("CHANGEME", "preflight.placeholder_value"),
        ("REPLACE_ME", "preflight.placeholder_value"),
        ("my-placeholder-id", "preflight.placeholder_value"),
        ("{{lakehouse}}", "preflight.placeholder_value"),
        ("@pipeline().RunId", "preflight.placeholder_value"),
        ("@{pipeline().parameters.X}", "preflight.placeholder_value"),
        ("ws-00000000-0000-0000-0000-000000000000-x", "preflight.placeholder_guid"),
    ],
)
def test_placeholder_values(value: str, check: str) -> None:
    found = value_problem(value)
    assert found is not None and found[0] == check


def test_shown_quotes_and_cuts_values_and_hides_secrets() -> None:
    assert shown("Layer", "bronze") == "'bronze'"
    assert len(shown("Layer", "x" * 500)) < 70
    assert "hidden" in shown("Layer", "Server=x;Password=hunter2")
    assert "hidden" in shown("ClientSecret", "abc")
    assert "hidden" in shown("Notes", "https://h/x?sig=abcdef123")
    assert shown("PrimaryKey", "TODO") == "'TODO'"  # a key column is not a secret


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ({"deltalake": "1.6.6"}, []),
        ({"spark": "3.5.5", "delta": "3.2.1"}, []),
        ({"spark": "4.1.1", "delta": "4.2.0"}, []),
        ({"spark": "3.5.1.5.4.20240407", "delta": "3.2.0"}, []),  # Fabric's own build names
        ({"deltalake": "1.6.3"}, ["MEDIUM"]),
        ({"deltalake": "1.6.5"}, ["HIGH"]),
        ({"deltalake": "1.2.1"}, ["HIGH"]),
        ({"deltalake": "2.0.0"}, ["LOW"]),
        ({"spark": "3.4.1", "delta": "2.4.0"}, ["HIGH", "HIGH"]),
        ({"spark": "4.2.0", "delta": "0.0.0"}, ["LOW", "LOW"]),
        ({"pyarrow": "1.0"}, []),  # not a component with a range
    ],
)
def test_versions_against_the_supported_ranges(
    versions: dict[str, str], expected: list[str]
) -> None:
    found = version_findings("engine", versions)
    assert [f.severity for f in found] == expected
    assert all(f.check == "preflight.engine_version" and f.fix for f in found)
