"""The health notebook, its Fabric git twin and the "Daily Platform Health" pipeline.

The notebook is executed end to end with nbclient on a python3 kernel of this interpreter (the
embedded engine, on a real lakehouse with loads and checkpoints), the parameters injected as
Fabric does: a new cell right after the cell tagged ``parameters``, built from the pipeline
definition's own base parameters (their default values, ``@pipeline().RunId`` as a run id), so
the pipeline, the notebook and the library are checked together.
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
NOTEBOOK = ROOT / "notebooks" / "fmd_health.ipynb"
TWIN = ROOT / "notebooks" / "fmd_health.Notebook"
PIPELINE = ROOT / "notebooks" / "pipelines" / "Daily Platform Health.json"
ACTIVITY = "Run fmd_health"
PY_TYPES = {"bool": bool, "string": str, "int": int, "float": float}
TABLES = ("bronze.account", "bronze.contact")


def pipeline() -> dict[str, Any]:
    return json.loads(PIPELINE.read_text())


def execute(lakehouse: Path, values: dict[str, Any], tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Run the notebook as the pipeline would, on ``lakehouse``; return it and its exit value."""
    return nbrun.execute(NOTEBOOK, {**values, "lakehouse": str(lakehouse)}, tmp_path)


def html_outputs(nb: Any) -> str:
    """Every ``text/html`` output of the executed notebook."""
    return "".join(
        o.get("data", {}).get("text/html", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )


@pytest.fixture
def platform(lakehouse: Path) -> Path:
    """Two tables loaded twice through the ledger, each load followed by a batch checkpoint."""
    cols = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
    for n in range(2):
        rt = fmd.connect(lakehouse=lakehouse, run_id=f"load-{n}", pipeline_run_id=f"batch-{n}")
        for name in TABLES:
            ref = rt.table(name)
            if n == 0:
                rt.engine.create(ref, cols)
                rt.configure_table(name, primary_key=["Id"])
            ids = list(range(n * 10, n * 10 + 4))
            version = rt.engine.write(
                ref, pa.table({"Id": pa.array(ids, pa.int64()), "Name": [f"n{i}" for i in ids]})
            )
            rt.runs.complete(name.split(".")[1], "bronze", table=name, version=version)
        rt.checkpoints.create("bronze.*", kind="DailyBatch", name=f"bronze_batch_{n}")
        rt.close()
    return lakehouse


def test_notebook_runs_end_to_end_and_its_page_shows_the_charts(
    platform: Path, tmp_path: Path
) -> None:
    doc = pipeline()
    nb, summary = execute(platform, base_parameters(doc, "pipe-run-1"), tmp_path)
    assert summary["status"] == "Healthy", summary
    assert summary["counts"]["HIGH"] == 0 and summary["tables"] == 2
    page = Path(summary["html_path"])
    assert page.parent == platform / "Files" / "fmd" / "health"
    assert page.read_text().count("<svg") == 3
    # the notebook's own output: the same page, charts included, shown inline
    shown = html_outputs(nb)
    assert shown.count("<svg") == 3 and "<polyline" in shown
    for title in ("Rows per table over the last checkpoints", "Failed loads per day"):
        assert title in shown
    assert "Platform health: Healthy" in "".join(
        o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "stream"
    )
    rt = fmd.connect(lakehouse=platform)
    rows = rt.store.read("HealthFindings", {"ReportId": summary["report_id"]})
    assert rows and {r["PipelineRunId"] for r in rows} == {"pipe-run-1"}
    events = rt.store.read("SyncAuditLog", {"RunId": summary["run_id"]})
    assert {e["PipelineName"] for e in events} == {"Daily Platform Health"}
    assert "HealthReport" in {e["Operation"] for e in events}


def test_an_unhealthy_platform_is_the_exit_value_the_pipeline_fails_on(
    platform: Path, tmp_path: Path
) -> None:
    rt = fmd.connect(lakehouse=platform, run_id="night")
    rt.runs.fail("contact", "bronze", table="bronze.contact", error="source <timed> out")
    rt.close()
    values = base_parameters(pipeline(), "pipe-run-2", WriteFindings="false", SinceHours="48")
    nb, summary = execute(platform, values, tmp_path)
    assert summary["status"] == "Unhealthy" and summary["counts"]["HIGH"] == 1
    assert summary["html_path"] is None  # WriteFindings false: no page, no rows
    assert any("report.run_failed" in b for b in summary["blocking"])
    assert "source &lt;timed&gt; out" in html_outputs(nb)  # shown, escaped
    assert fmd.connect(lakehouse=platform).store.read("HealthFindings") == []


def test_a_bad_parameter_stops_the_notebook_before_connecting(
    platform: Path, tmp_path: Path
) -> None:
    values = base_parameters(pipeline(), "pipe-run-3", SinceHours="0")
    with pytest.raises(CellExecutionError, match="since_hours"):
        execute(platform, values, tmp_path)
    rt = fmd.connect(lakehouse=platform)
    assert rt.store.read("HealthFindings") == []
    assert "HealthReport" not in {e["Operation"] for e in rt.store.read("SyncAuditLog")}
    assert not (platform / "Files").exists()


def test_exit_is_alone_in_the_last_top_level_cell_and_nowhere_else() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].source.strip() == "notebook_exit(exit_text)"
    assert nb.cells[-1] is code[-1]
    assert all("notebook_exit(" not in c.source for c in code[:-1])
    assert all(not isinstance(n, ast.Try) for c in code for n in ast.walk(ast.parse(c.source)))
    assert all("deltalake" not in c.source and "pyspark" not in c.source for c in code)


def test_fabric_git_twin_agrees_with_the_notebook() -> None:
    nbrun.assert_twin_agrees(NOTEBOOK, TWIN)


def test_pipeline_definition_runs_the_notebook_daily_with_matching_parameters() -> None:
    doc = pipeline()
    assert doc["name"] == "Daily Platform Health"
    activity = notebook_activity(doc)
    assert activity["name"] == ACTIVITY
    assert (
        activity["typeProperties"]["notebookId"]
        == json.loads((TWIN / ".platform").read_text())["config"]["logicalId"]
    )
    params = activity["typeProperties"]["parameters"]
    _, notebook_params = parameters_cell(nbformat.read(NOTEBOOK, as_version=4))
    assert set(notebook_params) - set(params) == {"lakehouse"}  # local runs only
    declared = doc["properties"]["parameters"]
    for name, spec in params.items():
        assert isinstance(notebook_params[name], PY_TYPES[spec["type"]]), name
        expr = spec["value"]["value"]
        m = re.fullmatch(r"@pipeline\(\)\.parameters\.(\w+)", expr)
        assert expr == "@pipeline().RunId" or (m and m.group(1) in declared), expr
        if m:
            assert declared[m.group(1)]["type"] == spec["type"]
            assert declared[m.group(1)]["defaultValue"] == notebook_params[name]
    branch = next(a for a in doc["properties"]["activities"] if a["type"] == "IfCondition")
    assert branch["dependsOn"] == [{"activity": ACTIVITY, "dependencyConditions": ["Succeeded"]}]
    expression = branch["typeProperties"]["expression"]["value"]
    assert f"activity('{ACTIVITY}').output.result.exitValue" in expression
    assert "'Unhealthy'" in expression
    assert [a["type"] for a in branch["typeProperties"]["ifFalseActivities"]] == ["Fail"]

    [schedule] = doc["schedules"]
    cfg = schedule["configuration"]
    assert schedule["jobType"] == "Pipeline" and schedule["enabled"] is True
    assert cfg["type"] == "Daily" and cfg["times"] == ["06:00"]
    assert cfg["localTimeZoneId"] == "UTC"
    start = datetime.fromisoformat(cfg["startDateTime"])
    end = datetime.fromisoformat(cfg["endDateTime"])
    assert end > start  # Fabric schedules need an end date
