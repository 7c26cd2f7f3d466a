"""The maintenance notebook, its Fabric git twin and the "Weekly Delta Lake Maintenance" pipeline.

The notebook is executed end to end with nbclient on a python3 kernel of this interpreter, the
parameters injected as Fabric does: a new cell right after the cell tagged ``parameters``, built
from the pipeline definition's own base parameters (their default values, ``@pipeline().RunId``
as a run id), so the pipeline, the notebook and the library are checked together.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import pyarrow as pa
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import fmd_runtime as fmd
from fmd_runtime.engine import Column
from fmd_runtime.fabric import fabric_notebook_source, parse_fabric_notebook_source

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "fmd_maintenance.ipynb"
TWIN = ROOT / "notebooks" / "fmd_maintenance.Notebook"
PIPELINE = ROOT / "notebooks" / "pipelines" / "Weekly Delta Lake Maintenance.json"
ACTIVITY = "Run fmd_maintenance"
PY_TYPES = {"bool": bool, "string": str, "int": int, "float": float}


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


def pipeline() -> dict[str, Any]:
    return json.loads(PIPELINE.read_text())


def notebook_activity(doc: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in doc["properties"]["activities"] if a["type"] == "TridentNotebook")


def base_parameters(doc: dict[str, Any], run_id: str, **overrides: Any) -> dict[str, Any]:
    """The values a pipeline run with its default parameters passes to the notebook."""
    defaults = {k: v["defaultValue"] for k, v in doc["properties"]["parameters"].items()}
    defaults.update(overrides)
    out = {}
    for name, spec in notebook_activity(doc)["typeProperties"]["parameters"].items():
        expr = spec["value"]["value"]
        if expr == "@pipeline().RunId":
            out[name] = run_id
        else:
            out[name] = defaults[re.fullmatch(r"@pipeline\(\)\.parameters\.(\w+)", expr).group(1)]  # type: ignore[union-attr]
    return out


def execute(lakehouse: Path, values: dict[str, Any], tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Run the notebook with ``values`` injected after the parameters cell; return it and its exit value."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index, _ = parameters_cell(nb)
    injected = "\n".join(f"{k} = {v!r}" for k, v in {**values, "lakehouse": str(lakehouse)}.items())
    nb.cells.insert(
        index + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]})
    )
    # The notebook's python3 kernel, pinned to this interpreter (the project's venv: run the tests
    # with .venv/bin/python), whatever other python3 kernel specs are installed.
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
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
    line = next(ln for ln in text.splitlines() if ln.startswith("FMD_EXIT_VALUE="))
    return nb, json.loads(line[len("FMD_EXIT_VALUE=") :])


@pytest.fixture
def small_lakehouse(lakehouse: Path) -> Path:
    rt = fmd.connect(lakehouse=lakehouse, run_id="setup")
    cols = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
    for name in ("bronze.account", "bronze.contact"):
        t = rt.table(name)
        rt.engine.create(t, cols)
        for i in range(3):
            rt.engine.write(t, pa.table({"Id": pa.array([i], pa.int64()), "Name": [f"n{i}"]}))
        rt.configure_table(name, primary_key=["Id"])
    rt.close()
    return lakehouse


def test_notebook_runs_end_to_end_as_the_pipeline_calls_it(
    small_lakehouse: Path, tmp_path: Path
) -> None:
    doc = pipeline()
    nb, summary = execute(
        small_lakehouse, base_parameters(doc, "pipe-run-1", DryRun=True), tmp_path
    )
    assert summary["dry_run"] is True and summary["status"] == "Succeeded"
    assert {t["table"] for t in summary["tables"]} >= {
        "bronze.account",
        "bronze.contact",
        "metadata.SyncAuditLog",
    }
    rt = fmd.connect(lakehouse=small_lakehouse)
    assert rt.engine.version(rt.table("bronze.account")) == 3  # a dry run changed nothing
    rows = rt.store.read("SyncAuditLog", {"RunId": summary["run_id"]})
    assert {r["PipelineRunId"] for r in rows} == {"pipe-run-1"}
    assert {"MaintenancePlan", "Vacuum", "Optimize", "MaintenanceSummary"} <= {
        r["Operation"] for r in rows
    }
    assert "Maintenance plan" in "".join(
        o.get("text", "") for o in nb.cells[4].outputs if o.output_type == "stream"
    )

    # The scheduled run: the pipeline's defaults (DryRun false, a PreMaintenance checkpoint first).
    _, summary = execute(small_lakehouse, base_parameters(doc, "pipe-run-2"), tmp_path / "second")
    assert summary["dry_run"] is False and summary["status"] == "Succeeded", summary
    assert summary["pre_maintenance_checkpoint"]
    account = next(t for t in summary["tables"] if t["table"] == "bronze.account")
    assert account["optimize_files_removed"] == 3 and account["optimize_files_added"] == 1
    assert len(rt.engine.files(rt.table("bronze.account"))) == 1


def test_exit_is_alone_in_the_last_top_level_cell_and_nowhere_else() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].source.strip() == "notebook_exit(exit_text)"
    assert nb.cells[-1] is code[-1]
    assert all("notebook_exit(" not in c.source for c in code[:-1])
    assert all(not isinstance(n, ast.Try) for c in code for n in ast.walk(ast.parse(c.source)))
    assert all(
        "deltalake" not in c.source and "pyspark" not in c.source for c in code
    )  # library calls only


def test_fabric_git_twin_agrees_with_the_notebook() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    content = (TWIN / "notebook-content.py").read_text()
    assert content == fabric_notebook_source(nb), (
        "regenerate: fabric.write_fabric_notebook('notebooks/fmd_maintenance.ipynb')"
    )
    cells = parse_fabric_notebook_source(content)
    assert [c["source"] for c in cells] == ["".join(c["source"]).strip("\n") for c in nb["cells"]]
    assert [c["parameters"] for c in cells] == [
        "parameters" in c["metadata"].get("tags", []) for c in nb["cells"]
    ]
    platform = json.loads((TWIN / ".platform").read_text())
    assert platform["metadata"] == {
        "type": "Notebook",
        "displayName": "fmd_maintenance",
        "description": platform["metadata"]["description"],
    }


def test_pipeline_definition_runs_the_notebook_weekly_with_matching_parameters() -> None:
    doc = pipeline()
    assert doc["name"] == "Weekly Delta Lake Maintenance"
    activity = notebook_activity(doc)
    assert activity["name"] == ACTIVITY
    assert (
        activity["typeProperties"]["notebookId"]
        == json.loads((TWIN / ".platform").read_text())["config"]["logicalId"]
    )
    params = activity["typeProperties"]["parameters"]
    _, notebook_params = parameters_cell(nbformat.read(NOTEBOOK, as_version=4))
    assert set(params) <= set(notebook_params)
    assert set(notebook_params) - set(params) == {"lakehouse"}  # local runs only
    declared = doc["properties"]["parameters"]
    for name, spec in params.items():
        assert isinstance(notebook_params[name], PY_TYPES[spec["type"]]), name
        expr = spec["value"]["value"]
        m = re.fullmatch(r"@pipeline\(\)\.parameters\.(\w+)", expr)
        assert expr == "@pipeline().RunId" or (m and m.group(1) in declared), expr
        if m:
            assert declared[m.group(1)]["type"] == spec["type"]
    assert (
        declared["DryRun"]["defaultValue"] is False
    )  # the schedule maintains; the notebook alone dry-runs
    branch = next(a for a in doc["properties"]["activities"] if a["type"] == "IfCondition")
    assert branch["dependsOn"] == [{"activity": ACTIVITY, "dependencyConditions": ["Succeeded"]}]
    assert (
        f"activity('{ACTIVITY}').output.result.exitValue"
        in branch["typeProperties"]["expression"]["value"]
    )
    assert [a["type"] for a in branch["typeProperties"]["ifFalseActivities"]] == ["Fail"]

    [schedule] = doc["schedules"]
    cfg = schedule["configuration"]
    assert schedule["jobType"] == "Pipeline" and schedule["enabled"] is True
    assert cfg["type"] == "Weekly" and cfg["weekdays"] == ["Sunday"] and cfg["times"] == ["02:00"]
    assert cfg["localTimeZoneId"] == "UTC"
    start, end = (
        datetime.fromisoformat(cfg["startDateTime"]),
        datetime.fromisoformat(cfg["endDateTime"]),
    )
    assert end > start  # Fabric schedules need an end date
    assert start.strftime("%A") == "Sunday"
