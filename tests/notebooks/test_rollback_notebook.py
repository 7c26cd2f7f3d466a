"""The rollback notebook, its Fabric git twin and the "Manual Rollback to Checkpoint" pipeline.

The notebook is executed end to end with nbclient on a python3 kernel of this interpreter (the
project's venv), the parameters injected as Fabric does: a new cell right after the cell tagged
``parameters``, built from the pipeline definition's own base parameters (their default values
overridden as an operator would, ``@pipeline().RunId`` as the pipeline run id). The operator's
path is followed: dry run (Planned, token), execute without the token (AwaitingApproval), execute
with it (Succeeded), and a mistyped checkpoint (Failed, with the nearest name suggested).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import nbrun
import pyarrow as pa
import pytest
from nbclient.exceptions import CellExecutionError
from nbrun import base_parameters, notebook_activity, parameters_cell

import fmd_runtime as fmd
from fmd_runtime.engine import Column, arrow_schema

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "fmd_rollback.ipynb"
TWIN = ROOT / "notebooks" / "fmd_rollback.Notebook"
PIPELINE = ROOT / "notebooks" / "pipelines" / "Manual Rollback to Checkpoint.json"
ACTIVITY = "Run rollback"
PY_TYPES = {"bool": bool, "string": str, "int": int, "float": float}
CHECKPOINT = "bronze_batch_nb"
COLS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="ParentId", type="bigint"),
    Column(name="IsDeleted", type="boolean", nullable=False),
    Column(name="IsPurged", type="boolean", nullable=False),
]


def execute(lakehouse: Path, values: dict[str, Any], tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Run the notebook as the pipeline would, on ``lakehouse``; return it and its exit value."""
    return nbrun.execute(NOTEBOOK, {**values, "lakehouse": str(lakehouse)}, tmp_path)


def pipeline() -> dict[str, Any]:
    return json.loads(PIPELINE.read_text())


def activities(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every activity, the branches' ones included."""
    out = []
    for a in doc["properties"]["activities"]:
        out.append(a)
        props = a.get("typeProperties", {})
        out += props.get("ifTrueActivities", []) + props.get("ifFalseActivities", [])
    return out


def shown(nb: Any) -> str:
    """What the notebook showed: printed text and displayed HTML."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") if o.output_type == "stream" else "")
            out.append(o.get("data", {}).get("text/html", ""))
    return "".join(out)


@pytest.fixture
def small_lakehouse(lakehouse: Path) -> Path:
    """Two related tables, a validated checkpoint, then a bad sync flagging 12 parents deleted."""
    rt = fmd.connect(lakehouse=lakehouse, run_id="setup")
    for name, n in (("bronze.parent", 20), ("bronze.child", 30)):
        ref = rt.table(name)
        rt.engine.create(ref, COLS)
        ids = list(range(1, n + 1))
        data = {
            "Id": ids,
            "ParentId": [1 + i % 20 for i in ids],
            "IsDeleted": [False] * n,
            "IsPurged": [False] * n,
        }
        rt.engine.write(ref, pa.table(data, schema=arrow_schema(COLS)))
        rt.configure_table(
            name,
            primary_key=["Id"],
            deleted_flag="IsDeleted",
            purged_flag="IsPurged",
            foreign_keys={"ParentId": "bronze.parent.Id"} if name == "bronze.child" else {},
        )
    assert rt.checkpoints.create(["bronze.parent", "bronze.child"], name=CHECKPOINT) is not None
    rt.engine.update(rt.table("bronze.parent"), {"Id": list(range(1, 13))}, {"IsDeleted": True})
    rt.close()
    return lakehouse


def test_notebook_runs_the_operators_path_as_the_pipeline_calls_it(
    small_lakehouse: Path, tmp_path: Path
) -> None:
    doc = pipeline()
    rt = fmd.connect(lakehouse=small_lakehouse)
    parent = rt.table("bronze.parent")
    bad_version = rt.engine.version(parent)

    # 1. the pipeline's defaults: a dry run (DryRun true) that names the checkpoint
    nb, dry = execute(
        small_lakehouse, base_parameters(doc, "pipe-1", CheckpointName=CHECKPOINT), tmp_path / "1"
    )
    assert dry["status"] == "Planned" and dry["dry_run"] is True, dry
    token = dry["approval_token"]
    assert token.startswith("rb-") and dry["checkpoint"] == CHECKPOINT
    assert {t["table"]: t["action"] for t in dry["tables"]} == {
        "bronze.child": "NoOp",
        "bronze.parent": "Restore",
    }
    assert "Rollback plan to bronze_batch_nb" in shown(nb) and "<table>" in shown(nb)
    assert rt.engine.version(parent) == bad_version  # a dry run changed nothing
    events = rt.store.read("SyncAuditLog", {"RunId": dry["run_id"]})
    assert {e["PipelineRunId"] for e in events} == {"pipe-1"}
    assert {"RollbackValidation", "RollbackImpactAnalysis", "Rollback"} <= {
        e["Operation"] for e in events
    }

    # 2. DryRun false without the token: nothing runs, the token is handed back
    _, waiting = execute(
        small_lakehouse,
        base_parameters(doc, "pipe-2", CheckpointName=CHECKPOINT, DryRun=False),
        tmp_path / "2",
    )
    assert waiting["status"] == "AwaitingApproval" and waiting["approval_token"] == token
    assert rt.engine.version(parent) == bad_version

    # 3. with the approved token: executed and validated
    nb, done = execute(
        small_lakehouse,
        base_parameters(
            doc,
            "pipe-3",
            CheckpointName=CHECKPOINT,
            DryRun=False,
            ApprovalToken=token,
            Reason="INC-77: bad sync",
        ),
        tmp_path / "3",
    )
    assert done["status"] == "Succeeded" and done["quality_score"] == 100.0, done
    assert "Restoring table 1 of 1: bronze.parent" in shown(nb)
    cp = rt.checkpoints.get(CHECKPOINT)
    pinned = cp.table("bronze.parent").version
    assert sorted(rt.engine.read(parent).to_pylist(), key=lambda r: r["Id"]) == sorted(
        rt.engine.read(parent, pinned).to_pylist(), key=lambda r: r["Id"]
    )
    [report] = rt.store.read("RollbackValidationReports", {"RollbackRunId": done["run_id"]})
    assert report["PipelineRunId"] == "pipe-3" and report["Reason"] == "INC-77: bad sync"

    # 4. a mistyped checkpoint: Failed, with the nearest name to use
    _, failed = execute(
        small_lakehouse,
        base_parameters(doc, "pipe-4", CheckpointName="bronze_batch_n", CheckpointType=""),
        tmp_path / "4",
    )
    assert failed["status"] == "Failed" and "did you mean bronze_batch_nb" in failed["message"]
    rt.close()


def test_a_table_in_scope_that_does_not_exist_stops_the_notebook_before_any_plan(
    small_lakehouse: Path, tmp_path: Path
) -> None:
    values = base_parameters(
        pipeline(), "pipe-stop", CheckpointName=CHECKPOINT, TablesScope="bronze.parent,bronze.gone"
    )
    with pytest.raises(CellExecutionError) as caught:
        execute(small_lakehouse, values, tmp_path)
    assert "PreflightError" in str(caught.value) and "bronze.gone" in str(caught.value)
    rt = fmd.connect(lakehouse=small_lakehouse)
    rows = rt.store.read("SyncAuditLog", {"PipelineRunId": "pipe-stop"})
    assert [r["Operation"] for r in rows] == ["Preflight"]  # no validation, no plan
    rt.close()


def test_exit_is_alone_in_the_last_top_level_cell_and_nowhere_else() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].source.strip() == "notebook_exit(exit_text)"
    assert nb.cells[-1] is code[-1]
    assert all("notebook_exit(" not in c.source for c in code[:-1])
    for cell in code:
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.Try, ast.If, ast.For, ast.While)) for n in ast.walk(tree))
        assert "deltalake" not in cell.source and "pyspark" not in cell.source  # library only


def test_fabric_git_twin_agrees_with_the_notebook() -> None:
    nbrun.assert_twin_agrees(NOTEBOOK, TWIN)


def test_pipeline_definition_matches_the_notebook_and_branches_on_its_exit_value() -> None:
    doc = pipeline()
    assert doc["name"] == "Manual Rollback to Checkpoint"
    activity = notebook_activity(doc)
    assert activity["name"] == ACTIVITY
    assert (
        activity["typeProperties"]["notebookId"]
        == json.loads((TWIN / ".platform").read_text())["config"]["logicalId"]
    )
    params = activity["typeProperties"]["parameters"]
    _, notebook_params = parameters_cell(nbformat.read(NOTEBOOK, as_version=4))
    assert set(notebook_params) - set(params) == {"lakehouse"}  # local runs only
    assert set(params) <= set(notebook_params)
    declared = doc["properties"]["parameters"]
    assert params["pipeline_run_id"]["value"]["value"] == "@pipeline().RunId"
    for name, spec in params.items():
        assert isinstance(notebook_params[name], PY_TYPES[spec["type"]]), name
        m = re.fullmatch(r"@pipeline\(\)\.parameters\.(\w+)", spec["value"]["value"])
        if m:
            assert declared[m.group(1)]["type"] == spec["type"], name
    # safe defaults: a run with the defaults is a dry run that needs approval to execute
    assert declared["DryRun"]["defaultValue"] is True
    assert declared["RequireApproval"]["defaultValue"] is True
    # every expression names declared parameters and existing activities only
    text = json.dumps(doc)
    names = {a["name"] for a in activities(doc)}
    assert len(names) == len(activities(doc)) == 5  # unique names
    assert set(re.findall(r"pipeline\(\)\.parameters\.(\w+)", text)) <= set(declared)
    assert set(re.findall(r"activity\('([^']+)'\)", text)) == {ACTIVITY}
    assert set(declared) - set(re.findall(r"pipeline\(\)\.parameters\.(\w+)", text)) == set()
    # the branch on the notebook's exit value
    branch = next(a for a in doc["properties"]["activities"] if a["type"] == "IfCondition")
    assert branch["dependsOn"] == [{"activity": ACTIVITY, "dependencyConditions": ["Succeeded"]}]
    expr = branch["typeProperties"]["expression"]["value"]
    assert f"json(activity('{ACTIVITY}').output.result.exitValue).status" in expr
    assert set(re.findall(r"'(\w+)'", expr)) == {"Succeeded", "Planned", "AwaitingApproval"}
    good = branch["typeProperties"]["ifTrueActivities"]
    bad = branch["typeProperties"]["ifFalseActivities"]
    assert [a["type"] for a in good] == ["Office365Outlook"]
    assert [a["type"] for a in bad] == ["Office365Outlook", "Fail"]
    fail = bad[1]
    assert fail["dependsOn"] == [
        {"activity": bad[0]["name"], "dependencyConditions": ["Completed"]}
    ]
    assert "exitValue).message" in fail["typeProperties"]["message"]["value"]
    for mail in (good[0], bad[0]):
        body = mail["typeProperties"]["inputs"]["body"]
        assert body["To"] == "@pipeline().parameters.NotifyTo"
        assert ".approval_token}" in body["Body"] and ".status}" in body["Body"]
    # the statuses the branch tests are the ones the library produces
    from typing import get_args

    from fmd_runtime.rollback import RunStatus

    assert {"Succeeded", "Planned", "AwaitingApproval"} < set(get_args(RunStatus))
