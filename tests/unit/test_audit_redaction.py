"""Secrets never reach the audit table: redaction rules, each with a real exception object, and the
end-to-end path from an exception's message through the store (and the JSON-lines mirror).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import fmd_runtime as fmd
from fmd_runtime.audit import redact
from fmd_runtime.errors import StoreError

SECRET = "Zq9-" + uuid.uuid4().hex  # unique: any appearance anywhere is a leak


def raised(fn: Any, *args: Any) -> BaseException:
    """The real exception ``fn(*args)`` raises (Python builds the message, not the test)."""
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - we want whatever it raises
        return exc
    raise AssertionError("expected an exception")


REAL_ERRORS = {
    # int() echoes its input: a connection string passed to the wrong parameter
    "password in a connection string": lambda: raised(
        int, f"Server=tcp:db.example.net;User ID=etl;Password={SECRET};"
    ),
    "pwd": lambda: raised(int, f"Driver={{ODBC}};Uid=etl;Pwd={SECRET}"),
    "storage account key": lambda: raised(
        float,
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={SECRET}==;EndpointSuffix=core.windows.net",
    ),
    "service bus shared access key": lambda: raised(
        int,
        f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={SECRET}=",
    ),
    "SAS token in a URL": lambda: raised(
        datetime.fromisoformat,
        f"https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&se=2030&sp=r&sig={SECRET}%3D",
    ),
    "bearer token": lambda: raised(float, f"Authorization: Bearer {SECRET}"),
    "bearer token in prose": lambda: (
        raised(uuid.UUID, "x") and ConnectionError(f"request with bearer {SECRET} was refused")
    ),
    "credentials in a URL": lambda: raised(
        int, f"abfss://user:{SECRET}@onelake.dfs.fabric.microsoft.com/ws/lh"
    ),
    "JSON password": lambda: (
        raised(json.loads, f'{{"user": "etl", "password": "{SECRET}", "x": }}')
        and ValueError(f'bad config {{"user": "etl", "password": "{SECRET}"}}')
    ),
    "client secret": lambda: raised(
        int, f"client_id=abc&client_secret={SECRET}&grant_type=client_credentials"
    ),
    "api key header": lambda: raised(int, f"x-api-key: {SECRET}"),
    "quoted password with spaces": lambda: raised(int, f'Password="{SECRET} and more words"'),
    "JWT": lambda: raised(int, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + SECRET),
}


@pytest.mark.parametrize("case", sorted(REAL_ERRORS))
def test_redact_removes_secrets_from_real_exception_messages(case: str) -> None:
    exc = REAL_ERRORS[case]()
    assert isinstance(exc, BaseException)
    assert SECRET in str(exc)  # the real message does carry it
    clean = redact(str(exc))
    assert clean is not None
    assert SECRET not in clean
    assert "***" in clean


def test_redact_keeps_ordinary_text() -> None:
    text = "In table `bronze.account`: primary key AccountId has 3 nulls; token count 5; design=ok"
    assert redact(text) == text
    assert redact("basic validation failed on 3 rows") == "basic validation failed on 3 rows"


def test_redact_folds_to_one_line_and_truncates() -> None:
    assert redact("a\n  b\tc") == "a b c"
    assert len(redact("x" * 5000) or "") == 1000  # a long plain word is not a key
    assert len(redact("word " * 1000) or "") == 1000
    assert redact(None) is None


def test_a_long_base64_key_alone_is_redacted() -> None:
    key = "A" * 40 + "b+/" * 20 + "=="
    assert key not in (redact(f"key {key} was rejected") or "")


def test_a_secret_in_an_exception_never_reaches_the_audit_table(rt, tmp_path: Path) -> None:
    mirror = rt.audit.add_jsonl_sink(tmp_path / "audit.jsonl")
    connection = f"Server=tcp:db;Database=crm;User ID=etl;Password={SECRET};Encrypt=True"
    with pytest.raises(ValueError):
        with rt.audit.activity("LoadBronze", entity="account"):
            int(connection)  # a real ValueError whose message echoes the connection string
    # a capability passing a secret-bearing dict in Details, and an error chained inside a store error
    rt.audit.event(
        "Copy",
        "Failed",
        entity="contact",
        error=StoreError(f"copy failed: sig={SECRET}"),
        details={"source": {"password": SECRET, "url": f"https://u:{SECRET}@host/x"}},
    )
    rt.audit.flush()
    rows = rt.store.read("SyncAuditLog")
    assert len(rows) == 3
    for row in rows:
        for column, value in row.items():
            assert SECRET not in str(value), f"secret leaked into {column}"
    fail = next(r for r in rows if r["Operation"] == "Fail")
    assert fail["ErrorType"] == "ValueError" and "Password=***" in fail["ErrorSummary"]
    assert SECRET not in mirror.read_text()


def test_summary_and_alert_rows_do_not_leak(rt) -> None:
    outcomes = rt.map_tables(lambda t: int(f"AccountKey={SECRET}"), ["bronze.a", "bronze.b"])
    rt.audit.summarize(outcomes, name="Load")
    rt.alerts.notifier = None
    rt.alerts.table_failures(outcomes, job="Daily Sync")
    rt.audit.flush()
    for row in rt.store.read("SyncAuditLog"):
        assert SECRET not in json.dumps(row, default=str)


def test_connect_context_values_are_kept_verbatim(lakehouse: Path) -> None:
    runtime = fmd.connect(lakehouse=lakehouse, run_id="r-1", pipeline_name="Sync: bronze")
    runtime.audit.event("Ping", flush=True)
    assert runtime.store.read("SyncAuditLog")[0]["PipelineName"] == "Sync: bronze"
