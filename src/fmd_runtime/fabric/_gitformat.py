"""Fabric's git format for notebooks: ``<Name>.Notebook/notebook-content.py`` and ``.platform``.

Renders an ``.ipynb`` as the text Fabric's git integration stores, parses it back, and writes the
twin folder. Separate: it is a file format, used by the build and the tests, not at run time.

Example:
    >>> nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}
    >>> fabric_notebook_source(nb).splitlines()[0]
    '# Fabric notebook source'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fmd_runtime.errors import ConfigError

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
    ipynb_path: str | Path, *, out_dir: str | Path | None = None, description: str = ""
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
