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

The work is done in private modules: ``_notebookutils`` (finding the real module, refusing the
stub; the only lookup by name), ``_context`` (`run_context`, the lakehouse mount), ``_secrets``,
``_exit`` (`exit_value`, `notebook_exit`, `display`) and ``_gitformat`` (Fabric's git format for
notebooks).
"""

from __future__ import annotations

from fmd_runtime.fabric._context import (
    DEFAULT_LAKEHOUSE_MOUNT,
    RunContext,
    RuntimeKind,
    default_lakehouse_root,
    run_context,
)
from fmd_runtime.fabric._exit import EXIT_VALUE_MAX_CHARS, display, exit_value, notebook_exit
from fmd_runtime.fabric._gitformat import (
    fabric_notebook_source,
    parse_fabric_notebook_source,
    write_fabric_notebook,
)
from fmd_runtime.fabric._notebookutils import IGNORE_ENV, is_fabric, notebookutils
from fmd_runtime.fabric._secrets import SECRET_ENV_PREFIX, get_secret, secret_env_var

__all__ = [
    "DEFAULT_LAKEHOUSE_MOUNT",
    "EXIT_VALUE_MAX_CHARS",
    "IGNORE_ENV",
    "RunContext",
    "RuntimeKind",
    "SECRET_ENV_PREFIX",
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
