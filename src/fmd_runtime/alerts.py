"""Alerts operators can act on: severity, title, the tables and errors, and first steps.

Alerts are audit events (``Operation = 'Alert'`` by default, Status ``Raised``) so one query finds
them beside the run that raised them. An alert with the same key as one raised within the window
(default one hour, checked against this process and the audit log) is recorded as ``Suppressed``
and not notified again. Many table failures of one run become one alert whose title counts them
(`Alerts.table_failures`: "[CRITICAL] 5 tables failed in Daily Sync").

Notification goes to a webhook (Power Automate, Logic App, Teams incoming webhook) as JSON: run
id, tables, errors, first steps. The URL comes from `WebhookNotifier`'s ``url``, the environment
variable ``FMD_ALERT_WEBHOOK_URL``, or Key Vault (``FMD_ALERT_WEBHOOK_SECRET`` names the secret,
``FMD_KEYVAULT_URL`` the vault) through `fmd_runtime.fabric.get_secret`. Posts are retried under
the ``http`` policy; a failed notification is audited (``AlertNotification``, Failed) and never
fails the job. The URL is never logged (Logic App URLs carry a ``sig=`` token).

Example:
    >>> # rt.alerts.send("CRITICAL", "Rollback validation failed", tables=["bronze.account"])
    >>> # rt.alerts.table_failures(outcomes, job="Daily Sync")
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime.audit import RunSummary, entity_results, error_text, redact
from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError
from fmd_runtime.fabric import get_secret
from fmd_runtime.retry import RetryStats, retryer
from fmd_runtime.store import utcnow

if TYPE_CHECKING:
    from fmd_runtime.context import RunContext
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.alerts")

AlertSeverity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
_RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
WEBHOOK_ENV = "FMD_ALERT_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "FMD_ALERT_WEBHOOK_SECRET"
KEYVAULT_ENV = "FMD_KEYVAULT_URL"
DEFAULT_WINDOW = timedelta(hours=1)


class Notification(BaseModel):
    """What happened to an alert's notification (never contains the URL)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["Sent", "Failed", "NotConfigured", "BelowThreshold", "Suppressed", "Disabled"]
    target: str | None = None
    attempts: int = 0
    http_status: int | None = None
    error_type: str | None = None
    error_summary: str | None = None


class Alert(BaseModel):
    """One alert as raised (or suppressed as a duplicate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: AlertSeverity
    title: str
    key: str
    run_id: str
    alert_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    raised_at: datetime = Field(default_factory=utcnow)
    operation: str = "Alert"
    tables: tuple[str, ...] = ()
    errors: dict[str, str] = Field(default_factory=dict)
    first_steps: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    suppressed: bool = False
    notification: Notification | None = None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookNotifier:
    """Posts alerts as JSON to a webhook (Power Automate, Logic App, Teams incoming webhook).

    Args:
        url: the webhook URL (else ``env_var``, else the Key Vault secret).
        env_var: environment variable holding the URL.
        secret_name: Key Vault secret holding the URL (default: ``$FMD_ALERT_WEBHOOK_SECRET``).
        vault_url: the Key Vault URL (default: ``$FMD_KEYVAULT_URL``).
        payload: ``json`` (flat object for flows) or ``teams`` (an Adaptive Card message).
        min_severity: alerts below it are recorded but not posted.
        timeout: seconds per HTTP attempt.
        wait_seconds: first retry wait override (0 in tests).
        sleep: sleep function for retries (tests record instead of sleeping).

    Example:
        >>> # rt.alerts.notifier = WebhookNotifier(secret_name="fmd-alert-webhook",
        >>> #                                      vault_url="https://kv.vault.azure.net/")
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        env_var: str = WEBHOOK_ENV,
        secret_name: str | None = None,
        vault_url: str | None = None,
        payload: Literal["json", "teams"] = "json",
        min_severity: AlertSeverity = "LOW",
        timeout: float = 10.0,
        wait_seconds: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._url = url
        self.env_var = env_var
        self.secret_name = secret_name
        self.vault_url = vault_url
        self.payload_format = payload
        self.min_severity = min_severity
        self.timeout = timeout
        self.wait_seconds = wait_seconds
        self.sleep = sleep

    def __repr__(self) -> str:  # never show the URL
        return (
            f"WebhookNotifier(payload={self.payload_format!r}, min_severity={self.min_severity!r})"
        )

    def resolve_url(self) -> str | None:
        """The webhook URL, or None when none is configured.

        Raises:
            ConfigError: a Key Vault secret was named but could not be read.
        """
        if self._url:
            return self._url
        from_env = os.environ.get(self.env_var, "").strip()
        if from_env:
            return from_env
        secret = self.secret_name or os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
        if not secret:
            return None
        return get_secret(secret, vault_url=self.vault_url or os.environ.get(KEYVAULT_ENV) or None)

    def payload(
        self, alert: Alert, context: RunContext, *, audit_query: str | None = None
    ) -> dict[str, Any]:
        """The JSON body posted for an alert."""
        body: dict[str, Any] = {
            "severity": alert.severity,
            "title": alert.title,
            "key": alert.key,
            "alert_id": alert.alert_id,
            "raised_at": alert.raised_at.isoformat(),
            "run_id": alert.run_id,
            "pipeline_run_id": context.pipeline_run_id,
            "pipeline_name": context.pipeline_name,
            "notebook_name": context.notebook_name,
            "workspace_id": context.workspace_id,
            "triggered_by": context.triggered_by,
            "tables": list(alert.tables),
            "errors": alert.errors,
            "first_steps": list(alert.first_steps),
            "details": alert.details,
            "audit_query": audit_query,
        }
        if self.payload_format == "json":
            return body
        facts = [
            {"title": k.replace("_", " ").title(), "value": str(body[k])}
            for k in (
                "severity",
                "run_id",
                "pipeline_run_id",
                "pipeline_name",
                "notebook_name",
                "raised_at",
            )
            if body[k]
        ]
        lines = [f"- **{t}**: {e}" for t, e in list(alert.errors.items())[:20]]
        steps = [f"{i}. {s}" for i, s in enumerate(alert.first_steps, 1)]
        card_body: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "text": alert.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "FactSet", "facts": facts},
        ]
        if lines:
            card_body.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
        if steps:
            card_body.append(
                {"type": "TextBlock", "text": "First steps:\n" + "\n".join(steps), "wrap": True}
            )
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": card_body,
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    },
                }
            ],
            "fmd": body,
        }

    def notify(
        self, alert: Alert, context: RunContext, *, audit_query: str | None = None
    ) -> Notification:
        """Post the alert; return what happened. Never raises.

        Returns:
            `Notification` with status Sent, Failed, NotConfigured or BelowThreshold.
        """
        if _RANK[alert.severity] < _RANK[self.min_severity]:
            return Notification(status="BelowThreshold")
        stats = RetryStats()
        target = None
        try:
            url = self.resolve_url()
            if not url:
                return Notification(status="NotConfigured")
            parts = urlsplit(url)
            target = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            if parts.scheme not in ("https", "http") or (
                parts.scheme == "http" and not _is_loopback(parts.hostname)
            ):
                raise ConfigError(
                    "the alert webhook URL must be https:// (http only on loopback)",
                    hint=f"set {self.env_var} to the flow's HTTPS trigger URL",
                )
            data = json.dumps(
                self.payload(alert, context, audit_query=audit_query), default=str
            ).encode("utf-8")
            request = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "fmd_runtime"},
            )

            def post() -> int:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read()
                    return int(response.status)

            status = retryer(
                "http",
                wait_seconds=self.wait_seconds,
                stats=stats,
                sleep=self.sleep,
                operation="alert webhook",
            )(post)
            return Notification(
                status="Sent", target=target, attempts=stats.attempts, http_status=status
            )
        except Exception as exc:  # a notification must never fail the job
            code = getattr(exc, "code", None)
            return Notification(
                status="Failed",
                target=target,
                attempts=stats.attempts,
                http_status=code if isinstance(code, int) else None,
                error_type=type(exc).__name__,
                error_summary=redact(error_text(exc), max_length=300),
            )


class Alerts:
    """The alert capability (``rt.alerts``).

    Attributes:
        window: the deduplication window (one hour by default).
        notifier: where alerts are posted (a `WebhookNotifier` reading ``FMD_ALERT_WEBHOOK_URL``
            by default; None to only record them).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._history: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.window = DEFAULT_WINDOW
        self.notifier: WebhookNotifier | None = WebhookNotifier()

    def use_webhook(self, url: str | None = None, **options: Any) -> WebhookNotifier:
        """Configure the webhook notifier (same arguments as `WebhookNotifier`) and return it.

        Example:
            >>> # rt.alerts.use_webhook(secret_name="fmd-alert-webhook", vault_url=kv, payload="teams")
        """
        self.notifier = WebhookNotifier(url, **options)
        return self.notifier

    # -- dedup -----------------------------------------------------------------------------
    def recently_raised(
        self, key: str, *, operation: str = "Alert", window: timedelta | None = None
    ) -> bool:
        """True when an alert with ``key`` was raised within the window (this process or the log)."""
        since = utcnow() - (self.window if window is None else window)
        with self._lock:
            seen = self._history.get(key)
        if seen is not None and seen >= since:
            return True
        try:
            rows = self._rt.store.read(
                "SyncAuditLog",
                {"Operation": operation, "Status": "Raised"},
                columns=["EventTime", "Details"],
            )
        except Exception as exc:  # the log is a second opinion; memory already answered for us
            log.warning("fmd alerts: could not read past alerts: %s", redact(error_text(exc)))
            return False
        for row in rows:
            if row["EventTime"] is None or row["EventTime"] < since or not row["Details"]:
                continue
            try:
                if json.loads(row["Details"]).get("key") == key:
                    return True
            except ValueError:
                continue
        return False

    # -- raising ---------------------------------------------------------------------------
    def send(
        self,
        severity: AlertSeverity,
        title: str,
        *,
        key: str | None = None,
        tables: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        first_steps: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
        operation: str = "Alert",
        notify: bool = True,
        window: timedelta | None = None,
    ) -> Alert:
        """Raise an alert: deduplicate, notify, write it to the audit log now; never fails the job.

        Args:
            severity: CRITICAL, HIGH, MEDIUM or LOW.
            title: one line, e.g. "[CRITICAL] 5 tables failed in Daily Sync".
            key: deduplication key (defaults to the title).
            tables: tables concerned.
            errors: table -> error summary (redacted before writing and posting).
            first_steps: what the operator should do first.
            details: further JSON-able details.
            operation: the audit Operation (``Alert``; ``ValidationAlert`` for validation).
            notify: post to the notifier (when one is configured).
            window: deduplication window (default `window`, one hour).

        Returns:
            The `Alert`, with ``suppressed`` and its ``notification``.

        Raises:
            ConfigError: ``severity`` is not one of CRITICAL, HIGH, MEDIUM, LOW, or ``notify``
                is not a boolean (a bool or "true"/"false"/"1"/"0").

        Example:
            >>> # rt.alerts.send("HIGH", "Checkpoint creation failed", tables=["bronze.account"])
        """
        notify = strict_bool(notify, "notify")
        if severity not in _RANK:
            raise ConfigError(
                f"alert severity {severity!r} is not valid",
                hint="use CRITICAL, HIGH, MEDIUM or LOW",
            )
        key = key or title
        base = Alert(
            severity=severity,
            title=title,
            key=key,
            run_id=self._rt.context.run_id,
            operation=operation,
            tables=tuple(str(t) for t in tables),
            errors={str(k): redact(str(v)) or "" for k, v in (errors or {}).items()},
            first_steps=tuple(first_steps),
            details=dict(details or {}),
        )
        suppressed = self.recently_raised(key, operation=operation, window=window)
        if suppressed:
            notification = Notification(status="Suppressed")
        elif not notify or self.notifier is None:
            notification = Notification(status="Disabled")
        else:
            notification = self.notifier.notify(
                base, self._rt.context, audit_query=self.audit_query()
            )
        alert = base.model_copy(update={"suppressed": suppressed, "notification": notification})
        if not suppressed:
            with self._lock:
                self._history[key] = alert.raised_at
        self._record(alert)
        return alert

    def _record(self, alert: Alert) -> None:
        errors = dict(list(alert.errors.items())[:50])
        payload = {
            "alert_id": alert.alert_id,
            "title": alert.title,
            "key": alert.key,
            "severity": alert.severity,
            "tables": list(alert.tables[:200]),
            "errors": errors,
            "first_steps": list(alert.first_steps),
            "notification": alert.notification.model_dump(exclude_none=True)
            if alert.notification
            else None,
            **alert.details,
        }
        audit = self._rt.audit
        try:
            audit.event(
                alert.operation,
                "Suppressed" if alert.suppressed else "Raised",
                severity="INFO" if alert.suppressed else alert.severity,
                details=payload,
            )
            n = alert.notification
            if n is not None and n.status == "Failed":
                audit.event(
                    "AlertNotification",
                    "Failed",
                    severity="MEDIUM",
                    error=f"{n.error_type}: {n.error_summary}",
                    details={
                        "alert_id": alert.alert_id,
                        "key": alert.key,
                        **n.model_dump(exclude_none=True),
                    },
                )
        except Exception as exc:  # recording an alert must not fail the job that raised it
            log.warning("fmd alerts: could not audit alert: %s", redact(error_text(exc)))
        if not alert.suppressed:
            audit.flush()
        log.log(
            logging.WARNING if not alert.suppressed else logging.INFO,
            "fmd alert %s: %s",
            alert.severity,
            alert.title,
        )

    def audit_query(self) -> str:
        """The query that shows this run's failures (put in alerts for the operator)."""
        schema = self._rt.config.metadata_schema
        return (
            f"SELECT * FROM {schema}.vw_RunStatus WHERE RunId = '{self._rt.context.run_id}' "
            f"AND Status = 'Failed'"
        )

    def table_failures(
        self,
        outcomes: Any,
        *,
        job: str,
        severity: AlertSeverity = "CRITICAL",
        first_steps: Sequence[str] | None = None,
        key: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Alert | None:
        """One alert for all failed tables of a run: "[CRITICAL] 5 tables failed in Daily Sync".

        Args:
            outcomes: `Outcome`s from ``rt.map_tables``, a `RunSummary`, `EntityResult`s, or a
                mapping table -> None / exception / error text.
            job: the job's name for the title.
            severity: the alert's severity.
            first_steps: what to do first (a useful default names the audit query).
            key: deduplication key (default: the job and the set of failed tables).
            details: further details.

        Returns:
            The `Alert`, or None when nothing failed.

        Example:
            >>> # alert = rt.alerts.table_failures(rt.map_tables(sync, tables), job="Daily Sync")
        """
        if isinstance(outcomes, RunSummary):
            tops = {f.entity: f for f in outcomes.top_failed}
            failed = {
                name: (
                    f"{tops[name].error_type or 'Error'}: {tops[name].error_summary}"
                    if name in tops
                    else "failed"
                )
                for name in outcomes.failed_entities
            }
            total = outcomes.total
        else:
            results = entity_results(outcomes)
            failed = {
                r.entity: f"{r.error_type or 'Error'}: {r.error_summary or 'failed'}"
                for r in results
                if r.status == "Failed"
            }
            total = len(results)
        if not failed:
            return None
        n = len(failed)
        title = f"[{severity}] {n} table{'s' if n != 1 else ''} failed in {job}"
        digest = hashlib.sha1("|".join(sorted(failed)).encode("utf-8")).hexdigest()[:12]
        steps = (
            list(first_steps)
            if first_steps is not None
            else [
                f"See what failed and why: {self.audit_query()}",
                "Check the source system's connectivity and credentials for the failed tables",
                "Fix the cause, then re-run the pipeline for the failed tables",
            ]
        )
        return self.send(
            severity,
            title,
            key=key or f"table-failures|{job}|{digest}",
            tables=sorted(failed),
            errors=failed,
            first_steps=steps,
            details={"job": job, "failed": n, "total": total, **dict(details or {})},
        )


__all__ = ["Alert", "AlertSeverity", "Alerts", "Notification", "WebhookNotifier"]
