"""Secrets: from Key Vault in Fabric, from ``FMD_SECRET_<NAME>`` environment variables locally.

A value is never logged and never put into an error message. Separate so that the one place
that handles secret values is small enough to review whole.

Example:
    >>> secret_env_var("sql-password")
    'FMD_SECRET_SQL_PASSWORD'
"""

from __future__ import annotations

import logging
import os
import re
from types import ModuleType

from fmd_runtime.errors import ConfigError
from fmd_runtime.fabric._notebookutils import notebookutils

log = logging.getLogger("fmd_runtime.fabric")

SECRET_ENV_PREFIX = "FMD_SECRET_"
"""Local secrets are read from ``FMD_SECRET_<NAME>`` (name upper-cased, non-alnum -> ``_``)."""


def secret_env_var(name: str) -> str:
    """Name of the environment variable that holds secret ``name`` locally.

    Args:
        name: the secret's name (as in Key Vault).

    Returns:
        ``FMD_SECRET_`` + the name upper-cased with every non-alphanumeric character as ``_``.

    Example:
        >>> secret_env_var("sql-password")
        'FMD_SECRET_SQL_PASSWORD'
    """
    return SECRET_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def get_secret(name: str, *, vault_url: str | None = None, env_var: str | None = None) -> str:
    """Fetch a secret: from Key Vault in Fabric, from an environment variable locally.

    In Fabric with ``vault_url`` this calls ``notebookutils.credentials.getSecret(vault_url,
    name)``. Otherwise (locally, or in Fabric without a vault) it reads ``env_var``, by default
    ``FMD_SECRET_<NAME>`` (see `secret_env_var`). The value is never logged and never appears
    in an error message.

    Args:
        name: the secret's name in Key Vault.
        vault_url: the Key Vault URL (``https://<vault>.vault.azure.net/``); used in Fabric.
        env_var: the environment variable to read outside Fabric.

    Returns:
        The secret's value (a non-empty string).

    Raises:
        ConfigError: the name is empty, Key Vault refused or returned nothing, or the
            environment variable is unset or empty. The message names the secret and where
            it looked, never a value.

    Example:
        >>> import os
        >>> os.environ["FMD_SECRET_DEMO_TOKEN"] = "s3cr3t"
        >>> get_secret("demo-token")
        's3cr3t'
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"secret name {name!r} is empty or not a string", hint="pass the Key Vault name"
        )
    nu = notebookutils()
    if nu is not None and vault_url:
        return _secret_from_vault(nu, name, vault_url)
    variable = env_var or secret_env_var(name)
    value = os.environ.get(variable)
    if not value:
        where = f"environment variable {variable} is {'empty' if value == '' else 'not set'}"
        if nu is not None:
            hint = f"pass vault_url= to read it from Key Vault, or set {variable}"
        else:
            hint = f"set {variable} (outside Fabric secrets come from the environment)"
        raise ConfigError(f"secret `{name}` not found: {where}", hint=hint)
    log.debug("secret `%s` read from environment variable %s", name, variable)
    return value


def _secret_from_vault(nu: ModuleType, name: str, vault_url: str) -> str:
    where = f"Key Vault {vault_url}"
    try:
        value = nu.credentials.getSecret(vault_url, name)
    except Exception as exc:
        # Chain the native error (it names the vault and secret, never a value) for diagnosis.
        raise ConfigError(
            f"secret `{name}` could not be read from {where}: {type(exc).__name__}",
            hint="check the secret name, the vault URL and that the notebook's identity may "
            "read secrets from that vault",
        ) from exc
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"secret `{name}` not found: {where} returned no value",
            hint="check the secret exists and is enabled in that vault",
        )
    log.debug("secret `%s` read from %s", name, where)
    return value
