"""Running the library's notebooks as a Fabric pipeline would, for the notebook tests.

The parameters are injected as Fabric does (a new cell right after the cell tagged
``parameters``), built from the pipeline definition's own base parameters (their default values,
``@pipeline().RunId`` as the run id); the notebook runs with nbclient on a python3 kernel pinned
to this interpreter (the project's venv), whatever other python3 kernel specs are installed.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from fmd_runtime.fabric import fabric_notebook_source, parse_fabric_notebook_source

EXIT_PREFIX = "FMD_EXIT_VALUE="


def parameters_cell(nb: Any) -> tuple[int, dict[str, Any]]:
    """Index and ``name -> default`` of the cell tagged ``parameters``."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            values = {
                n.targets[0].id: ast.literal_eval(n.value)
                for n in tree.body
                if isinstance(n, ast.Assign)
            }
            return i, values
    raise AssertionError("no cell tagged parameters")


def notebook_activity(doc: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's Notebook activity."""
    return next(a for a in doc["properties"]["activities"] if a["type"] == "TridentNotebook")


def base_parameters(doc: dict[str, Any], run_id: str, **overrides: Any) -> dict[str, Any]:
    """The values a pipeline run with these pipeline parameters passes to the notebook."""
    values = {k: v["defaultValue"] for k, v in doc["properties"]["parameters"].items()}
    values.update(overrides)
    out = {}
    for name, spec in notebook_activity(doc)["typeProperties"]["parameters"].items():
        expr = spec["value"]["value"]
        if expr == "@pipeline().RunId":
            out[name] = run_id
        else:
            m = re.fullmatch(r"@pipeline\(\)\.parameters\.(\w+)", expr)
            assert m, expr
            out[name] = values[m.group(1)]
    return out


def execute(notebook: Path, values: dict[str, Any], tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Run ``notebook`` with ``values`` injected after its parameters cell.

    Returns:
        The executed notebook and its exit value (the JSON printed by the last cell).
    """
    nb = nbformat.read(notebook, as_version=4)
    index, _ = parameters_cell(nb)
    injected = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(
        index + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]})
    )
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (fmd venv)",
                "language": "python",
            }
        )
    )
    km = KernelManager(
        kernel_name="python3",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )
    NotebookClient(
        nb, km=km, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    line = next(ln for ln in text.splitlines() if ln.startswith(EXIT_PREFIX))
    return nb, json.loads(line[len(EXIT_PREFIX) :])


def assert_twin_agrees(notebook: Path, twin: Path) -> dict[str, Any]:
    """The Fabric git twin is exactly what the converter makes of the .ipynb; returns .platform."""
    nb = json.loads(notebook.read_text())
    content = (twin / "notebook-content.py").read_text()
    assert content == fabric_notebook_source(nb), (
        f"regenerate: fabric.write_fabric_notebook('notebooks/{notebook.name}')"
    )
    cells = parse_fabric_notebook_source(content)
    assert [c["source"] for c in cells] == ["".join(c["source"]).strip("\n") for c in nb["cells"]]
    assert [c["parameters"] for c in cells] == [
        "parameters" in c["metadata"].get("tags", []) for c in nb["cells"]
    ]
    platform: dict[str, Any] = json.loads((twin / ".platform").read_text())
    assert platform["metadata"]["type"] == "Notebook"
    assert platform["metadata"]["displayName"] == notebook.stem
    return platform
