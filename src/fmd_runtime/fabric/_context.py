"""Where the notebook runs (`RunContext`) and where its default lakehouse is mounted.

Read from ``notebookutils.runtime.context`` in Fabric, from environment variables locally.
Separate from the detection of ``notebookutils`` (``_notebookutils``), which it asks.

Example:
    >>> run_context().runtime in ("fabric-spark", "fabric-python", "local")
    True
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime.fabric._notebookutils import _TRUTHY, notebookutils

log = logging.getLogger("fmd_runtime.fabric")

DEFAULT_LAKEHOUSE_MOUNT = "/lakehouse/default"
"""Where Fabric mounts the notebook's default lakehouse."""


RuntimeKind = Literal["fabric-spark", "fabric-python", "local"]
"""Where a notebook runs: a Fabric Spark notebook, a Fabric Python notebook, or elsewhere."""


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

    model_config = FROZEN

    workspace_id: str | None = None
    workspace_name: str | None = None
    notebook_name: str | None = None
    notebook_id: str | None = None
    lakehouse_name: str | None = None
    is_pipeline_run: bool = False
    runtime: RuntimeKind = "local"
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


def _fabric_runtime() -> RuntimeKind:
    # A Fabric Spark notebook starts its Spark session (and so imports pyspark) before the
    # first cell; a Python notebook has no Spark at all.
    return "fabric-spark" if "pyspark" in sys.modules else "fabric-python"


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
