"""Finding Fabric's ``notebookutils``: the real module, the deprecated name, or nothing.

The one module that looks Fabric's utilities up by name (``importlib``): they exist only inside
Fabric. The PyPI stub ``dummy-notebookutils`` installs the same import name with do-nothing
functions; it is refused here (with a one-time warning), so every other part of ``fabric``
asks `notebookutils` and gets either the real module or None.

Example:
    >>> nu = notebookutils()
    >>> nu is None or hasattr(nu, "notebook")
    True
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

log = logging.getLogger("fmd_runtime.fabric")

IGNORE_ENV = "FMD_IGNORE_NOTEBOOKUTILS"
"""Set to ``1`` (or ``true``/``yes``) to ignore any ``notebookutils`` and run in local mode."""


_MODULE_NAMES = ("notebookutils", "mssparkutils")
# PyPI stubs that install the `notebookutils` import name with do-nothing functions.
_STUB_DISTRIBUTIONS = ("dummy-notebookutils", "dummy-notebookutils-reborn")
_TRUTHY = {"1", "true", "yes", "on"}

_stub_warned = False
_verdict: tuple[ModuleType, bool] | None = None  # last module checked, and whether it is a stub


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
