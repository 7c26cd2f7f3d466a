"""Alerts: audit records, deduplication, batching, and a webhook notifier tested against a real
HTTP server on 127.0.0.1 (loopback only; nothing leaves the machine).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import fmd_runtime as fmd
from fmd_runtime.alerts import WebhookNotifier
from fmd_runtime.errors import ConfigError
from fmd_runtime.runtime import Runtime


class Hook:
    """A local webhook: records each POSTed JSON body, answers with scripted status codes."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.script: list[int] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                code = hook.script.pop(0) if hook.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.server.server_address[1]}/workflows/run?sp=x&sig=HOOKSECRET"
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook?sig=DEADSECRET"


@pytest.fixture
def full(lakehouse: Path) -> Iterator[Runtime]:
    runtime = fmd.connect(
        lakehouse=lakehouse,
        run_id="run-9",
        pipeline_run_id="pipe-9",
        pipeline_name="Daily Sync",
        notebook_name="nb_sync",
        workspace_id="ws-9",
        triggered_by="scheduler",
    )
    yield runtime
    runtime.close()


def alert_rows(runtime: Runtime, operation: str = "Alert") -> list[dict[str, Any]]:
    return runtime.store.read("SyncAuditLog", {"Operation": operation}, order_by="EventTime")


def test_alert_is_recorded_in_the_audit_log(full: Runtime) -> None:
    full.alerts.notifier = None
    alert = full.alerts.send(
        "HIGH",
        "Checkpoint creation failed",
        tables=["bronze.account"],
        errors={"bronze.account": "login failed; Password=p4ss"},
        first_steps=["Check SyncAuditLog"],
    )
    (row,) = alert_rows(full)  # written now, not left in the buffer
    assert (row["Status"], row["Severity"], row["RunId"], row["PipelineName"]) == (
        "Raised",
        "HIGH",
        "run-9",
        "Daily Sync",
    )
    details = json.loads(row["Details"])
    assert details["title"] == "Checkpoint creation failed"
    assert details["errors"] == {"bronze.account": "login failed; Password=***"}
    assert details["first_steps"] == ["Check SyncAuditLog"]
    assert alert.errors["bronze.account"].endswith("Password=***")


def test_invalid_severity_is_refused(full: Runtime) -> None:
    with pytest.raises(ConfigError):
        full.alerts.send("INFO", "x")  # type: ignore[arg-type]


def test_webhook_payload_has_run_tables_errors_and_first_steps(full: Runtime, hook: Hook) -> None:
    full.alerts.use_webhook(hook.url, wait_seconds=0)
    alert = full.alerts.send(
        "CRITICAL",
        "Rollback validation failed",
        tables=["bronze.a", "bronze.b"],
        errors={"bronze.a": "5 null keys"},
        first_steps=["Re-rollback to an earlier checkpoint"],
    )
    assert alert.notification is not None and alert.notification.status == "Sent"
    assert alert.notification.http_status == 200 and alert.notification.attempts == 1
    (body,) = hook.bodies
    assert body["severity"] == "CRITICAL" and body["title"] == "Rollback validation failed"
    assert (body["run_id"], body["pipeline_run_id"], body["pipeline_name"]) == (
        "run-9",
        "pipe-9",
        "Daily Sync",
    )
    assert body["tables"] == ["bronze.a", "bronze.b"]
    assert body["errors"] == {"bronze.a": "5 null keys"}
    assert body["first_steps"] == ["Re-rollback to an earlier checkpoint"]
    assert "vw_RunStatus" in body["audit_query"] and "run-9" in body["audit_query"]
    assert hook.paths[0].startswith("/workflows/run?")
    details = json.loads(alert_rows(full)[0]["Details"])
    assert details["notification"]["status"] == "Sent"
    assert (
        "HOOKSECRET" not in json.dumps(details) and "127.0.0.1" in details["notification"]["target"]
    )


def test_webhook_retries_a_500_then_succeeds(full: Runtime, hook: Hook) -> None:
    hook.script = [500]
    full.alerts.use_webhook(hook.url, wait_seconds=0)
    alert = full.alerts.send("HIGH", "Sync failed")
    assert alert.notification is not None
    assert (alert.notification.status, alert.notification.attempts) == ("Sent", 2)
    assert len(hook.bodies) == 2


def test_a_client_error_is_not_retried_and_never_fails_the_job(full: Runtime, hook: Hook) -> None:
    hook.script = [400]
    full.alerts.use_webhook(hook.url, wait_seconds=0)
    alert = full.alerts.send("HIGH", "Sync failed")
    assert alert.notification is not None
    assert (
        alert.notification.status,
        alert.notification.http_status,
        alert.notification.attempts,
    ) == ("Failed", 400, 1)
    assert len(hook.bodies) == 1


def test_a_dead_webhook_is_audited_and_never_fails_the_job(full: Runtime, dead_url: str) -> None:
    slept: list[float] = []
    full.alerts.use_webhook(dead_url, sleep=slept.append)
    alert = full.alerts.send("CRITICAL", "Daily sync failed", tables=["bronze.account"])
    n = alert.notification
    assert n is not None and n.status == "Failed"
    assert n.attempts == 4 and len(slept) == 3  # the http policy: 4 attempts, backoff between
    assert n.error_type == "URLError"
    (failure,) = alert_rows(full, "AlertNotification")
    assert (failure["Status"], failure["Severity"]) == ("Failed", "MEDIUM")
    (raised,) = alert_rows(full)
    assert json.loads(raised["Details"])["notification"]["status"] == "Failed"
    for row in full.store.read("SyncAuditLog"):
        assert "DEADSECRET" not in json.dumps(row, default=str)


def test_plain_http_is_refused_off_loopback(full: Runtime) -> None:
    full.alerts.use_webhook("http://hooks.example.com/x", wait_seconds=0)
    n = full.alerts.send("LOW", "x").notification
    assert n is not None and (n.status, n.error_type, n.attempts) == ("Failed", "ConfigError", 0)


def test_url_from_the_environment(
    full: Runtime, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FMD_ALERT_WEBHOOK_URL", hook.url)
    full.alerts.notifier = WebhookNotifier(wait_seconds=0)  # the default notifier reads the env
    assert full.alerts.send("MEDIUM", "Warn").notification.status == "Sent"  # type: ignore[union-attr]
    assert len(hook.bodies) == 1


def test_url_from_key_vault_through_the_fabric_secret_api(
    full: Runtime, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fmd_runtime.fabric")
    # outside Fabric, get_secret reads the secret from FMD_SECRET_<NAME>
    monkeypatch.setenv("FMD_SECRET_FMD_ALERT_WEBHOOK", hook.url)
    monkeypatch.delenv("FMD_ALERT_WEBHOOK_URL", raising=False)
    full.alerts.use_webhook(
        secret_name="fmd-alert-webhook", vault_url="https://kv.vault.azure.net/", wait_seconds=0
    )
    assert full.alerts.send("HIGH", "x").notification.status == "Sent"  # type: ignore[union-attr]


def test_missing_secret_is_a_failed_notification_not_a_failed_job(
    full: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fmd_runtime.fabric")
    monkeypatch.delenv("FMD_SECRET_NO_SUCH_HOOK", raising=False)
    full.alerts.use_webhook(secret_name="no-such-hook", wait_seconds=0)
    n = full.alerts.send("HIGH", "x").notification
    assert n is not None and (n.status, n.error_type) == ("Failed", "ConfigError")


def test_not_configured_and_below_threshold(
    full: Runtime, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FMD_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("FMD_ALERT_WEBHOOK_SECRET", raising=False)
    assert full.alerts.send("HIGH", "a").notification.status == "NotConfigured"  # type: ignore[union-attr]
    full.alerts.use_webhook(hook.url, min_severity="HIGH", wait_seconds=0)
    assert full.alerts.send("LOW", "b").notification.status == "BelowThreshold"  # type: ignore[union-attr]
    assert hook.bodies == []


def test_teams_payload_is_an_adaptive_card(full: Runtime, hook: Hook) -> None:
    full.alerts.use_webhook(hook.url, payload="teams", wait_seconds=0)
    full.alerts.send("HIGH", "2 tables failed", errors={"a": "x", "b": "y"}, first_steps=["look"])
    (body,) = hook.bodies
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "2 tables failed"
    assert body["fmd"]["run_id"] == "run-9"


# -- deduplication -------------------------------------------------------------------------


def test_duplicates_within_the_window_are_suppressed(full: Runtime, hook: Hook) -> None:
    full.alerts.use_webhook(hook.url, wait_seconds=0)
    first = full.alerts.send("HIGH", "Source unreachable", key="crm-down")
    second = full.alerts.send("HIGH", "Source unreachable again", key="crm-down")
    assert not first.suppressed and second.suppressed
    assert second.notification is not None and second.notification.status == "Suppressed"
    assert len(hook.bodies) == 1
    full.audit.flush()
    assert [r["Status"] for r in alert_rows(full)] == ["Raised", "Suppressed"]
    # outside the window it is raised again
    third = full.alerts.send("HIGH", "Source unreachable", key="crm-down", window=timedelta(0))
    assert not third.suppressed and len(hook.bodies) == 2


def test_dedup_reads_the_audit_log_across_runs(lakehouse: Path) -> None:
    first = fmd.connect(lakehouse=lakehouse, run_id="run-a")
    first.alerts.notifier = None
    first.alerts.send("CRITICAL", "Checkpoint missing", key="ck-missing")
    second = fmd.connect(lakehouse=lakehouse, run_id="run-b")  # another notebook, same lakehouse
    assert second.alerts.send("CRITICAL", "Checkpoint missing", key="ck-missing").suppressed
    assert not second.alerts.send("CRITICAL", "Other", key="other").suppressed


# -- batching ------------------------------------------------------------------------------


def test_table_failures_become_one_alert_counting_them(full: Runtime, hook: Hook) -> None:
    full.alerts.use_webhook(hook.url, wait_seconds=0)

    def sync(table: str) -> int:
        if table.endswith(("3", "5", "7", "8", "9")):
            raise TimeoutError(f"{table}: source timed out")
        return 1

    outcomes = full.map_tables(sync, [f"bronze.t{i}" for i in range(10)], max_workers=3)
    alert = full.alerts.table_failures(outcomes, job="Daily Sync")
    assert alert is not None and alert.title == "[CRITICAL] 5 tables failed in Daily Sync"
    assert alert.tables == ("bronze.t3", "bronze.t5", "bronze.t7", "bronze.t8", "bronze.t9")
    assert alert.errors["bronze.t3"].startswith("TimeoutError")
    assert any("vw_RunStatus" in step for step in alert.first_steps)
    assert len(hook.bodies) == 1 and hook.bodies[0]["details"]["failed"] == 5
    # the same failures again within the hour: one alert, not two
    again = full.alerts.table_failures(outcomes, job="Daily Sync")
    assert again is not None and again.suppressed and len(hook.bodies) == 1


def test_table_failures_from_a_summary_and_nothing_failed(full: Runtime) -> None:
    full.alerts.notifier = None
    assert full.alerts.table_failures({"a": None, "b": None}, job="Daily Sync") is None
    with pytest.raises(ValueError):
        with full.audit.activity("Load", entity="bronze.x"):
            raise ValueError("bad")
    summary = full.audit.summarize(name="Load")
    alert = full.alerts.table_failures(summary, job="Daily Sync", severity="HIGH")
    assert alert is not None and alert.title == "[HIGH] 1 table failed in Daily Sync"
    assert alert.errors == {"bronze.x": "ValueError: bad"}
