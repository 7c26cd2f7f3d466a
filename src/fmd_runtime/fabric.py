"""The one place that touches Fabric's ``notebookutils``; local equivalents everywhere else.

What works where:

============================  ======================================  ============================
function                      in a Fabric notebook                    outside Fabric (local, CI)
============================  ======================================  ============================
`notebookutils`               the ``notebookutils`` module            ``None``
                              (or the deprecated ``mssparkutils``)
`is_fabric`                   ``True``                                ``False``
`run_context`                 ``notebookutils.runtime.context``       env ``FMD_NOTEBOOK_NAME``,
                                                                      ``FMD_WORKSPACE_ID``
`get_secret`                  ``credentials.getSecret(vault, name)``  env ``FMD_SECRET_<NAME>``
`exit_value`                  compact JSON text (same everywhere)     same
`notebook_exit`               ``notebook.exit(value)``                prints ``FMD_EXIT_VALUE=..``
`display`                     the notebook's rich display             ``print`` (``to_text()``)
`default_lakehouse_root`      ``/lakehouse/default`` when mounted     ``None``
============================  ======================================  ============================

``notebookutils`` is imported lazily, inside `notebookutils`, so ``import fmd_runtime`` works on
any machine. The PyPI stub package ``dummy-notebookutils`` (and its fork
``dummy-notebookutils-reborn``) installs the same import name with functions that do nothing; it
is refused and treated as absent, with a one-time warning, because trusting it would silently
turn secrets into ``None`` and exit values into no-ops. ``FMD_IGNORE_NOTEBOOKUTILS=1`` forces
local mode even when a real ``notebookutils`` is importable.

Example:
    >>> from fmd_runtime import fabric
    >>> text = fabric.exit_value({"status": "succeeded", "tables": 3})
    >>> text
    '{"status":"succeeded","tables":3}'
    >>> fabric.notebook_exit(text)          # locally: prints instead of exiting
    FMD_EXIT_VALUE={"status":"succeeded","tables":3}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import importlib.metadata
import json
import logging
import math
import os
import re
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePath
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from fmd_runtime.errors import ConfigError

log = logging.getLogger("fmd_runtime.fabric")

IGNORE_ENV = "FMD_IGNORE_NOTEBOOKUTILS"
"""Set to ``1`` (or ``true``/``yes``) to ignore any ``notebookutils`` and run in local mode."""

SECRET_ENV_PREFIX = "FMD_SECRET_"
"""Local secrets are read from ``FMD_SECRET_<NAME>`` (name upper-cased, non-alnum -> ``_``)."""

DEFAULT_LAKEHOUSE_MOUNT = "/lakehouse/default"
"""Where Fabric mounts the notebook's default lakehouse."""

EXIT_VALUE_MAX_CHARS = 8_000
"""Default cap on `exit_value` text.

Fabric does not document a hard limit on a notebook's exit value, but the value travels through
the pipeline's activity output (which Fabric caps in size) and is usually parsed in an If
Condition: a small summary is what belongs there, and details belong in the audit tables. 8,000
characters keeps a typical run summary whole while leaving a wide margin below the activity
output limits.
"""

Runtime = Literal["fabric-spark", "fabric-python", "local"]

_MODULE_NAMES = ("notebookutils", "mssparkutils")
# PyPI stubs that install the `notebookutils` import name with do-nothing functions.
_STUB_DISTRIBUTIONS = ("dummy-notebookutils", "dummy-notebookutils-reborn")
_TRUTHY = {"1", "true", "yes", "on"}
_MIN_EXIT_CHARS = 64
_MAX_STRING_AFTER_CUT = 256

_stub_warned = False
_verdict: tuple[ModuleType, bool] | None = None  # last module checked, and whether it is a stub


# --------------------------------------------------------------------------- notebookutils


def notebookutils() -> ModuleType | None:
    """Return Fabric's ``notebookutils`` module, or ``None`` outside Fabric.

    Tries ``import notebookutils`` then the deprecated ``import mssparkutils``. Refuses the PyPI
    stub ``dummy-notebookutils`` (detected by the installed distribution that owns the module
    file, or by an empty ``runtime.context``, which a real Fabric session never has) and logs a
    warning once per process. ``FMD_IGNORE_NOTEBOOKUTILS=1`` makes it return ``None`` always.

    Returns:
        The module, or ``None`` when it is absent, a stub, or ignored.

    Example:
        >>> nu = notebookutils()
        >>> nu is None or hasattr(nu, "notebook")
        True
    """
    global _verdict
    if os.environ.get(IGNORE_ENV, "").strip().lower() in _TRUTHY:
        return None
    for name in _MODULE_NAMES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        except Exception as exc:  # a broken install must not stop the library from importing
            log.debug("importing %s failed: %s", name, exc)
            continue
        if _verdict is not None and _verdict[0] is module:
            is_stub = _verdict[1]
        else:
            is_stub = _stub_reason(module) is not None
            _verdict = (module, is_stub)
        if is_stub:
            _warn_stub(module)
            continue
        return module
    return None


def is_fabric() -> bool:
    """Tell whether the code runs in a Fabric notebook (a real ``notebookutils`` is present).

    Returns:
        ``True`` in Fabric, ``False`` locally, with the stub package, or when ignored.

    Example:
        >>> isinstance(is_fabric(), bool)
        True
    """
    return notebookutils() is not None


def _stub_reason(module: ModuleType) -> str | None:
    """Why ``module`` is a stub rather than Fabric's real notebookutils, or ``None``."""
    owner = _owning_stub_distribution(module)
    if owner:
        return f"it is installed by the PyPI package `{owner}`"
    try:
        context = module.runtime.context
    except Exception:
        return None
    if isinstance(context, Mapping) and len(context) == 0:
        # Every real Fabric session fills at least the notebook and workspace keys.
        return "its runtime.context is empty (no Fabric session behind it)"
    return None


def _owning_stub_distribution(module: ModuleType) -> str | None:
    module_file = getattr(module, "__file__", None)
    if not module_file:
        return None
    target = _resolve(module_file)
    for dist_name in _STUB_DISTRIBUTIONS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for entry in dist.files or ():
            if _resolve(str(dist.locate_file(entry))) == target:
                return dist_name
    return None


def _resolve(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return os.path.abspath(path)


def _warn_stub(module: ModuleType) -> None:
    global _stub_warned
    if _stub_warned:
        return
    _stub_warned = True
    log.warning(
        "Ignoring `%s` from %s: %s. fmd_runtime runs in local mode. What to do: uninstall "
        "dummy-notebookutils (pip uninstall dummy-notebookutils), or set %s=1 to silence this.",
        module.__name__,
        getattr(module, "__file__", None) or "<no file>",
        _stub_reason(module) or "it is a stub",
        IGNORE_ENV,
    )


# --------------------------------------------------------------------------- run context


class RunContext(BaseModel):
    """Where the notebook runs, as Fabric reports it (or the local environment says).

    Attributes:
        workspace_id: ``currentWorkspaceId`` (locally ``FMD_WORKSPACE_ID``).
        workspace_name: ``currentWorkspaceName``.
        notebook_name: ``currentNotebookName`` (locally ``FMD_NOTEBOOK_NAME``).
        notebook_id: ``currentNotebookId``.
        lakehouse_name: ``defaultLakehouseName`` (the attached default lakehouse).
        is_pipeline_run: ``isForPipeline``: the notebook runs from a pipeline activity.
        runtime: ``fabric-spark``, ``fabric-python`` (no Spark) or ``local``.
        activity_id: ``activityId``: Fabric's id of this notebook session/run.

    Example:
        >>> RunContext(notebook_name="nb_load").runtime
        'local'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: str | None = None
    workspace_name: str | None = None
    notebook_name: str | None = None
    notebook_id: str | None = None
    lakehouse_name: str | None = None
    is_pipeline_run: bool = False
    runtime: Runtime = "local"
    activity_id: str | None = None


# RunContext field <- key of notebookutils.runtime.context (Microsoft's documented names;
# activityId is not in the documented table but is present in Fabric sessions).
_CONTEXT_KEYS = {
    "workspace_id": "currentWorkspaceId",
    "workspace_name": "currentWorkspaceName",
    "notebook_name": "currentNotebookName",
    "notebook_id": "currentNotebookId",
    "lakehouse_name": "defaultLakehouseName",
    "activity_id": "activityId",
}


def run_context() -> RunContext:
    """Read the current run's context from Fabric, or from the environment locally.

    In Fabric the keys of ``notebookutils.runtime.context`` are mapped to `RunContext` fields;
    a missing or empty key becomes ``None`` (``False`` for ``is_pipeline_run``). Fabric gives no
    pipeline run id: pass ``@pipeline().RunId`` as a notebook parameter instead.

    Returns:
        A frozen `RunContext`.

    Example:
        >>> ctx = run_context()
        >>> ctx.runtime in ("fabric-spark", "fabric-python", "local")
        True
    """
    nu = notebookutils()
    if nu is None:
        return RunContext(
            notebook_name=os.environ.get("FMD_NOTEBOOK_NAME") or None,
            workspace_id=os.environ.get("FMD_WORKSPACE_ID") or None,
            runtime="local",
        )
    raw = _read_context(nu)
    values: dict[str, Any] = {field: _text(raw.get(key)) for field, key in _CONTEXT_KEYS.items()}
    return RunContext(
        **values,
        is_pipeline_run=_flag(raw.get("isForPipeline")),
        runtime=_fabric_runtime(),
    )


def _read_context(nu: ModuleType) -> Mapping[str, Any]:
    try:
        context = nu.runtime.context
        return context if isinstance(context, Mapping) else dict(context)
    except Exception as exc:  # the context is informational: never fail a run over it
        log.debug("notebookutils.runtime.context unreadable: %s", exc)
        return {}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flag(value: Any) -> bool:
    # Lenient on purpose, unlike config.strict_bool: its only caller reads Fabric's own
    # ``isForPipeline`` context value (environment detection, never a user parameter), where an
    # unexpected spelling must not fail the run; anything unrecognised means "not a pipeline run".
    if isinstance(value, str):
        return value.strip().lower() in _TRUTHY
    return bool(value)


def _fabric_runtime() -> Runtime:
    # A Fabric Spark notebook starts its Spark session (and so imports pyspark) before the
    # first cell; a Python notebook has no Spark at all.
    return "fabric-spark" if "pyspark" in sys.modules else "fabric-python"


# --------------------------------------------------------------------------- secrets


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


# --------------------------------------------------------------------------- exit value


def exit_value(result: Any, *, max_chars: int = EXIT_VALUE_MAX_CHARS) -> str:
    """Render a run's result as the JSON text for ``notebookutils.notebook.exit``.

    The text is compact (no spaces), has sorted keys, ASCII only, datetimes in ISO 8601, NaN
    and infinities as ``null``: a pipeline's ``@json(activity('nb').output.result.exitValue)``
    always parses it. When it would exceed ``max_chars`` it is cut to fit, in this order:

    1. the longest list is halved, repeatedly (first items kept); the top level then carries
       ``"truncated": true`` and ``"truncated_lists": {"<path>": <original length>}``;
    2. strings longer than 256 characters are cut (ending with ``...``);
    3. only the top-level scalar values are kept, with ``"truncated": true``.

    Args:
        result: a pydantic model, a mapping, or an object with ``to_exit_dict()`` (preferred
            when present).
        max_chars: the size cap, at least 64 characters.

    Returns:
        JSON text of a single object, at most ``max_chars`` characters.

    Raises:
        TypeError: ``result`` is none of the accepted kinds.
        ValueError: ``max_chars`` is below 64.

    Example:
        >>> import datetime as dt
        >>> exit_value({"ok": True, "at": dt.datetime(2025, 1, 2, 3, 4, 5)})
        '{"at":"2025-01-02T03:04:05","ok":true}'
    """
    if max_chars < _MIN_EXIT_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_EXIT_CHARS}, got {max_chars}")
    payload = _to_jsonable(_as_exit_dict(result))
    text = _dumps(payload)
    if len(text) <= max_chars:
        return text
    return _shrink(payload, max_chars)


def _as_exit_dict(result: Any) -> dict[str, Any]:
    to_exit_dict = getattr(result, "to_exit_dict", None)
    if callable(to_exit_dict):
        data = to_exit_dict()
    elif isinstance(result, BaseModel):
        data = result.model_dump(mode="json")
    elif isinstance(result, Mapping):
        data = result
    else:
        raise TypeError(
            f"exit_value() takes a pydantic model, a mapping or an object with to_exit_dict(), "
            f"not {type(result).__name__}"
        )
    if not isinstance(data, Mapping):
        raise TypeError(f"to_exit_dict() must return a mapping, not {type(data).__name__}")
    return {str(key): value for key, value in data.items()}


def _to_jsonable(value: Any) -> Any:
    """Plain JSON values only: dict/list/str/int/float/bool/None, NaN as None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return _to_jsonable(value.value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return _to_jsonable(float(value)) if value.is_finite() else None
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if isinstance(value, BaseModel):
        return _to_jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_to_jsonable(item) for item in value), key=_dumps)
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _shrink(payload: dict[str, Any], max_chars: int) -> str:
    data = json.loads(_dumps(payload))  # a private copy to cut
    original: dict[str, int] = {}

    def render() -> str:
        marked = dict(data)
        marked["truncated"] = True
        if original:
            marked["truncated_lists"] = dict(original)
        return _dumps(marked)

    # 1. Halve the longest list until the text fits.
    text = render()
    while len(text) > max_chars:
        lists = [(path, items) for path, items in _lists(data, "") if items]
        if not lists:
            break
        path, items = max(lists, key=lambda entry: len(entry[1]))
        original.setdefault(path or "$", len(items))
        del items[len(items) // 2 :]
        text = render()
    if len(text) <= max_chars:
        return text
    # 2. Cut long strings.
    data = _cut_strings(data)
    text = render()
    if len(text) <= max_chars:
        return text
    # 3. Keep top-level scalars only, smallest first, while they fit.
    kept: dict[str, Any] = {"truncated": True}
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, (dict, list))]
    for key, value in sorted(scalars, key=lambda kv: len(_dumps(kv[1])) + len(kv[0])):
        candidate = dict(kept, **{key: value})
        if len(_dumps(candidate)) <= max_chars:
            kept = candidate
    return _dumps(kept)


def _lists(value: Any, path: str) -> list[tuple[str, list[Any]]]:
    found: list[tuple[str, list[Any]]] = []
    if isinstance(value, list):
        found.append((path, value))
        for index, item in enumerate(value):
            found.extend(_lists(item, f"{path}[{index}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_lists(item, f"{path}.{key}" if path else key))
    return found


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_STRING_AFTER_CUT:
        return value[: _MAX_STRING_AFTER_CUT - 3] + "..."
    if isinstance(value, dict):
        return {key: _cut_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item) for item in value]
    return value


# --------------------------------------------------------------------------- notebook exit


def notebook_exit(value: str) -> None:
    """End the notebook with ``value`` as its exit value (Fabric), or print it (locally).

    !!! CALL IT ONLY AT THE TOP LEVEL OF THE NOTEBOOK'S LAST CELL. NEVER INSIDE try/except. !!!
    Fabric's ``notebook.exit`` works by interrupting the cell; inside ``try``/``except`` (or in
    library code wrapped by one) Fabric ignores it and the notebook goes on, so the pipeline
    never sees the value. Build the value with `exit_value`, keep the ``try`` in earlier cells,
    and make this call the last statement of the last cell.

    Args:
        value: the exit value, a string (use `exit_value` to make JSON text).

    Returns:
        ``None`` locally (after printing ``FMD_EXIT_VALUE=<value>`` to stdout). In Fabric the
        notebook stops here.

    Raises:
        TypeError: ``value`` is not a string (Fabric exit values always are).

    Example:
        >>> notebook_exit('{"status":"succeeded"}')
        FMD_EXIT_VALUE={"status":"succeeded"}
    """
    if not isinstance(value, str):
        raise TypeError(
            f"notebook_exit() takes a string, not {type(value).__name__}: "
            "build it with fabric.exit_value(result)"
        )
    nu = notebookutils()
    if nu is not None:
        nu.notebook.exit(value)
        return
    print(f"FMD_EXIT_VALUE={value}", flush=True)


# --------------------------------------------------------------------------- display


def display(obj: Any) -> None:
    """Show ``obj`` as richly as the place allows.

    In a notebook kernel an object with ``_repr_html_`` is shown through IPython's display (its
    HTML). Otherwise an object with ``to_text()`` is printed as that text; in Fabric anything
    else goes to the notebook's own ``display`` (tables for DataFrames); elsewhere it is printed.

    Args:
        obj: what to show (a result with ``_repr_html_``/``to_text()``, a DataFrame, anything).

    Example:
        >>> display("3 tables loaded")
        3 tables loaded
    """
    shell = _ipython_shell()
    if shell is not None and callable(getattr(obj, "_repr_html_", None)):
        from IPython.display import display as ipython_display

        ipython_display(obj)  # type: ignore[no-untyped-call]
        return
    to_text = getattr(obj, "to_text", None)
    if callable(to_text):
        print(to_text())
        return
    if shell is not None and is_fabric():
        notebook_display = getattr(shell, "user_ns", {}).get("display")
        if callable(notebook_display) and notebook_display is not display:
            notebook_display(obj)
            return
    print(obj)


def _ipython_shell() -> Any:
    # Only when IPython is already loaded (a kernel is running): never import it just to look.
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


# --------------------------------------------------------------------------- lakehouse mount


def default_lakehouse_root() -> str | None:
    """The mounted default lakehouse folder, when there is one.

    Fabric Python notebooks (and Spark notebooks with a default lakehouse) mount it at
    ``/lakehouse/default`` with ``Files/`` and ``Tables/`` inside.

    Returns:
        ``"/lakehouse/default"`` when that folder exists, else ``None``.

    Example:
        >>> root = default_lakehouse_root()
        >>> root is None or root.endswith("default")
        True
    """
    return DEFAULT_LAKEHOUSE_MOUNT if os.path.isdir(DEFAULT_LAKEHOUSE_MOUNT) else None


# --------------------------------------------------------------------------- git format

_FABRIC_HEADER = "# Fabric notebook source"
_MARKERS = {"code": "# CELL ********************", "markdown": "# MARKDOWN ********************"}
_PARAMETERS_MARKER = "# PARAMETERS CELL ********************"
_METADATA_MARKER = "# METADATA ********************"
_CELL_META = {"language": "python", "language_group": "synapse_pyspark"}
_NOTEBOOK_META = {"kernel_info": {"name": "synapse_pyspark"}, "dependencies": {}}
_PLATFORM_SCHEMA = "https://developer.microsoft.com/json-schemas/fabric/gitIntegration/platformProperties/2.0.0/schema.json"


def _meta_block(meta: Mapping[str, Any]) -> list[str]:
    body = json.dumps(meta, indent=2).splitlines()
    return [_METADATA_MARKER, "", *[f"# META {line}" for line in body]]


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return ("".join(src) if isinstance(src, list) else str(src)).rstrip("\n")


def fabric_notebook_source(notebook: Mapping[str, Any]) -> str:
    """Render an nbformat-4 notebook (a dict) as Fabric's git ``notebook-content.py``.

    Code cells become ``# CELL`` blocks (the cell tagged ``parameters`` becomes
    ``# PARAMETERS CELL``), markdown cells ``# MARKDOWN`` blocks with every line commented; each
    code cell is followed by its ``# METADATA`` block, as Fabric writes them.

    Args:
        notebook: the parsed ``.ipynb`` JSON.

    Returns:
        The file text (first line ``# Fabric notebook source``).

    Example:
        >>> nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}}]}
        >>> "# PARAMETERS CELL" in fabric_notebook_source(nb)
        True
    """
    lines = [_FABRIC_HEADER, "", *_meta_block(_NOTEBOOK_META)]
    for cell in notebook.get("cells", []):
        kind = cell.get("cell_type")
        text = _source(cell)
        if kind == "markdown":
            lines += ["", _MARKERS["markdown"], ""]
            lines += [f"# {line}".rstrip() for line in text.splitlines()]
        elif kind == "code":
            tags = (cell.get("metadata") or {}).get("tags") or []
            lines += ["", _PARAMETERS_MARKER if "parameters" in tags else _MARKERS["code"], ""]
            lines += text.splitlines()
            lines += ["", *_meta_block(_CELL_META)]
    return "\n".join(lines) + "\n"


def parse_fabric_notebook_source(text: str) -> list[dict[str, Any]]:
    """Parse Fabric's ``notebook-content.py`` back into cells (type, source, parameters flag).

    Raises:
        ConfigError: the text does not start with ``# Fabric notebook source``.

    Example:
        >>> parse_fabric_notebook_source(fabric_notebook_source({"cells": [
        ...     {"cell_type": "code", "source": "x = 1", "metadata": {}}]}))
        [{'cell_type': 'code', 'source': 'x = 1', 'parameters': False}]
    """
    rows = text.splitlines()
    if not rows or rows[0] != _FABRIC_HEADER:
        raise ConfigError(
            "not a Fabric notebook source file", hint=f"first line must be {_FABRIC_HEADER!r}"
        )
    cells: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    in_meta = False
    for line in rows[1:]:
        if line in (_MARKERS["code"], _PARAMETERS_MARKER, _MARKERS["markdown"]):
            current = {
                "cell_type": "markdown" if line == _MARKERS["markdown"] else "code",
                "lines": [],
                "parameters": line == _PARAMETERS_MARKER,
            }
            cells.append(current)
            in_meta = False
        elif line == _METADATA_MARKER:
            in_meta = True
        elif not in_meta and current is not None:
            current["lines"].append(line)
    out = []
    for cell in cells:
        body = "\n".join(cell.pop("lines")).strip("\n")
        if cell["cell_type"] == "markdown":
            body = "\n".join(
                ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body.splitlines()
            )
        out.append(
            {"cell_type": cell["cell_type"], "source": body, "parameters": cell["parameters"]}
        )
    return out


def write_fabric_notebook(
    ipynb_path: str | Path, out_dir: str | Path | None = None, *, description: str = ""
) -> Path:
    """Write the Fabric git-format twin ``<Name>.Notebook/`` of an ``.ipynb`` file.

    The folder holds ``notebook-content.py`` and ``.platform`` (type Notebook, display name, and
    a logical id derived from the name, so regenerating it changes nothing).

    Args:
        ipynb_path: the source notebook.
        out_dir: where to put the folder (default: beside the ``.ipynb``).
        description: the ``.platform`` description.

    Returns:
        The ``<Name>.Notebook`` folder.

    Example:
        >>> # write_fabric_notebook("notebooks/fmd_rollback.ipynb")  -> notebooks/fmd_rollback.Notebook
    """
    src = Path(ipynb_path)
    name = src.stem
    folder = Path(out_dir or src.parent) / f"{name}.Notebook"
    folder.mkdir(parents=True, exist_ok=True)
    notebook = json.loads(src.read_text(encoding="utf-8"))
    (folder / "notebook-content.py").write_text(fabric_notebook_source(notebook), encoding="utf-8")
    platform = {
        "$schema": _PLATFORM_SCHEMA,
        "metadata": {"type": "Notebook", "displayName": name, "description": description},
        "config": {
            "version": "2.0",
            "logicalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fmd_runtime/notebooks/{name}")),
        },
    }
    (folder / ".platform").write_text(json.dumps(platform, indent=2) + "\n", encoding="utf-8")
    return folder


__all__ = [
    "DEFAULT_LAKEHOUSE_MOUNT",
    "EXIT_VALUE_MAX_CHARS",
    "IGNORE_ENV",
    "RunContext",
    "default_lakehouse_root",
    "display",
    "exit_value",
    "fabric_notebook_source",
    "get_secret",
    "is_fabric",
    "notebook_exit",
    "notebookutils",
    "parse_fabric_notebook_source",
    "run_context",
    "secret_env_var",
    "write_fabric_notebook",
]
