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
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import nbrun
import pyarrow as pa
import pytest
from nbclient.exceptions import CellExecutionError
from nbrun import base_parameters, notebook_activity, parameters_cell

import fmd_runtime as fmd
from fmd_runtime.engine import Column

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "fmd_maintenance.ipynb"
TWIN = ROOT / "notebooks" / "fmd_maintenance.Notebook"
PIPELINE = ROOT / "notebooks" / "pipelines" / "Weekly Delta Lake Maintenance.json"
ACTIVITY = "Run fmd_maintenance"
PY_TYPES = {"bool": bool, "string": str, "int": int, "float": float}


def execute(lakehouse: Path, values: dict[str, Any], tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Run the notebook as the pipeline would, on ``lakehouse``; return it and its exit value."""
    return nbrun.execute(NOTEBOOK, {**values, "lakehouse": str(lakehouse)}, tmp_path)


def _cell(nb: Any, cell_id: str) -> Any:
    return next(c for c in nb.cells if c.get("id") == cell_id)


def pipeline() -> dict[str, Any]:
    return json.loads(PIPELINE.read_text())


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
        o.get("text", "") for o in _cell(nb, "plan").outputs if o.output_type == "stream"
    )
    preflight = _cell(nb, "preflight").outputs
    assert any(
        "Preflight Healthy" in json.dumps(o.get("data", o.get("text", ""))) for o in preflight
    )

    # The scheduled run: the pipeline's defaults (DryRun false, a PreMaintenance checkpoint first).
    _, summary = execute(small_lakehouse, base_parameters(doc, "pipe-run-2"), tmp_path / "second")
    assert summary["dry_run"] is False and summary["status"] == "Succeeded", summary
    assert summary["pre_maintenance_checkpoint"]
    account = next(t for t in summary["tables"] if t["table"] == "bronze.account")
    assert account["optimize_files_removed"] == 3 and account["optimize_files_added"] == 1
    assert len(rt.engine.files(rt.table("bronze.account"))) == 1


def test_a_blocking_preflight_finding_stops_the_notebook_before_anything_is_planned(
    small_lakehouse: Path, tmp_path: Path
) -> None:
    rt = fmd.connect(lakehouse=small_lakehouse)
    rt.configure_table("bronze.ghost")  # enabled, never created
    before = rt.engine.version(rt.table("bronze.account"))
    with pytest.raises(CellExecutionError) as caught:
        execute(small_lakehouse, base_parameters(pipeline(), "pipe-stop"), tmp_path)
    assert "PreflightError" in str(caught.value) and "bronze.ghost" in str(caught.value)
    rows = rt.store.read("SyncAuditLog", {"PipelineRunId": "pipe-stop"})
    assert [r["Operation"] for r in rows] == ["Preflight"] and rows[0]["Status"] == "Failed"
    assert rt.engine.version(rt.table("bronze.account")) == before  # nothing vacuumed/optimized
    rt.close()


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
    nbrun.assert_twin_agrees(NOTEBOOK, TWIN)


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
