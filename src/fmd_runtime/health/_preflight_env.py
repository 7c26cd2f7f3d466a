"""The preflight checks of the place a job runs in: engine versions, and the alert webhook.

`check_engine` compares the engine's library versions (``fmd_runtime.engine.engine_versions``)
with `SUPPORTED_VERSIONS`; `check_alerts` resolves the alert webhook the way a notification would
and names what is wrong with it by its source and host, never by its URL (Logic App and Teams
URLs carry their secret in the path or the ``sig=`` parameter).

Example:
    >>> _version("3.5.1.5.4.20240407")
    (3, 5, 1)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fmd_runtime.alerts import KEYVAULT_ENV, WEBHOOK_ENV, WEBHOOK_SECRET_ENV
from fmd_runtime.engine import engine_label, engine_versions
from fmd_runtime.errors import FmdError
from fmd_runtime.health._models import FindingSeverity, HealthFinding
from fmd_runtime.health._preflight_values import finding, value_problem

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

# (component, oldest supported, first version not yet tested) from pyproject.toml's pins and
# FABRIC.md: deltalake 1.5 (the adapter refuses older), Spark 3.5 / Delta 3.2 (Runtime 1.3) up to
# Spark 4.1 / Delta 4.2 (Runtime 2.0).
SUPPORTED_VERSIONS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "deltalake": ((1, 5, 0), (2, 0, 0)),
    "spark": ((3, 5, 0), (4, 2, 0)),
    "delta": ((3, 2, 0), (4, 3, 0)),
}
_DELTALAKE_YANKED = {(1, 6, 4), (1, 6, 5)}
_DELTALAKE_DV_RESTORE = (1, 6, 6)


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(x) for x in re.findall(r"\d+", text)[:3]] + [0, 0, 0]
    return parts[0], parts[1], parts[2]


def check_engine(rt: Runtime) -> list[HealthFinding]:
    """The engine's library versions against `SUPPORTED_VERSIONS` (and delta-rs' known gaps)."""
    return version_findings(engine_label(rt.engine), engine_versions(rt.engine))


def version_findings(label: str, versions: Mapping[str, str]) -> list[HealthFinding]:
    """Findings for library versions outside the supported ranges (none when all are inside).

    Example:
        >>> [f.severity for f in version_findings("Spark", {"spark": "3.4.1", "delta": "3.2.1"})]
        ['HIGH']
    """
    found: list[HealthFinding] = []
    for component, text in versions.items():
        if component not in SUPPORTED_VERSIONS:
            continue
        low, untested = SUPPORTED_VERSIONS[component]
        version = _version(text)
        span = f"{'.'.join(map(str, low))} or later, before {'.'.join(map(str, untested))}"
        if version == (0, 0, 0):
            found.append(finding("preflight.engine_version", "LOW",
                                 f"{label}: the {component} version could not be read",
                                 "check the session's libraries", component=component))  # fmt: skip
        elif version < low or version in _DELTALAKE_YANKED and component == "deltalake":
            found.append(finding("preflight.engine_version", "HIGH",
                                 f"{label}: {component} {text} is not supported (supported: {span})",
                                 f"use a supported {component} ({span})", component=component))  # fmt: skip
        elif version >= untested:
            found.append(finding("preflight.engine_version", "LOW",
                                 f"{label}: {component} {text} is newer than the releases tested ({span})",
                                 "run the project's tests on it before relying on it", component=component))  # fmt: skip
        elif component == "deltalake" and version < _DELTALAKE_DV_RESTORE:
            found.append(finding("preflight.engine_version", "MEDIUM",
                                 f"{label}: RESTORE of deletion-vector tables is refused on deltalake {text} "
                                 "(a silent no-op before 1.6.6, delta-rs #4613)",
                                 "pip install 'deltalake>=1.6.6,<2'", component=component))  # fmt: skip
    return found


def check_alerts(rt: Runtime, *, required: bool) -> list[HealthFinding]:
    """The alert webhook, when alerts are configured (or ``required``); never shows the URL."""
    notifier = rt.alerts.notifier
    if notifier is None:
        return [] if not required else [_no_webhook("rt.alerts.notifier is None", "HIGH")]
    secret = notifier.secret_name or os.environ.get(WEBHOOK_SECRET_ENV, "").strip() or None
    try:
        url = notifier.resolve_url()
    except FmdError as exc:
        vault = notifier.vault_url or os.environ.get(KEYVAULT_ENV) or None
        return [
            finding(
                "preflight.alert_webhook",
                "HIGH",
                f"the alert webhook's Key Vault secret {secret!r} could not be read"
                + ("" if vault else f" (no vault URL: {KEYVAULT_ENV} is not set)")
                + f": {exc.message}",
                f"set {KEYVAULT_ENV} (or vault_url=) and grant the identity read access to the "
                "secret",
            )
        ]
    if not url:
        return [_no_webhook("no webhook is configured", "HIGH" if required else "INFO")]
    source = (
        f"${notifier.env_var}"
        if os.environ.get(notifier.env_var, "").strip() == url
        else f"Key Vault secret {secret!r}"
        if secret
        else "rt.alerts.use_webhook(url=...)"
    )
    parts = urlsplit(url.strip())
    host = parts.hostname or "(no host)"
    problem = value_problem(url)
    if problem is not None or not parts.hostname:
        why = problem[1] if problem else "not a URL"
        return [
            finding(
                "preflight.alert_webhook",
                "HIGH",
                f"the alert webhook URL (from {source}) is {why}",
                "set it to the flow's HTTPS trigger URL",
            )
        ]
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        return [
            finding(
                "preflight.alert_webhook",
                "HIGH",
                f"the alert webhook URL (from {source}, host {host}) is {parts.scheme or 'no'}:// "
                "where https:// is required: every alert notification would fail",
                "set it to the flow's HTTPS trigger URL",
            )
        ]
    return [
        finding(
            "preflight.alert_webhook",
            "INFO",
            f"alerts post to {parts.scheme}://{host} (URL from {source})",
            "-",
        )
    ]


def _no_webhook(why: str, severity: FindingSeverity) -> HealthFinding:
    return finding(
        "preflight.alert_webhook",
        severity,
        f"alerts are recorded in SyncAuditLog but not posted: {why}",
        f"set ${WEBHOOK_ENV} (or ${WEBHOOK_SECRET_ENV} and ${KEYVAULT_ENV}), or call "
        "rt.alerts.use_webhook(secret_name=..., vault_url=...)",
    )


__all__ = ["SUPPORTED_VERSIONS", "check_alerts", "check_engine", "version_findings"]
