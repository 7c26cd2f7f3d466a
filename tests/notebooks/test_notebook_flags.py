"""The rollback and maintenance notebooks read flags as pipelines pass them (issue 11, item 4).

A pipeline (or its REST trigger) can pass ``"false"``; ``bool("false")`` is True. The notebooks
parse every flag strictly in the cell after the injected parameters, before connecting: "false"
runs for real and the exit value says so, and a value that is not a boolean stops the notebook
with a ConfigError naming the parameter before anything is created or written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbrun
import pyarrow as pa
import pytest
from nbclient.exceptions import CellExecutionError

import fmd_runtime as fmd
from fmd_runtime.engine import Column, arrow_schema

ROOT = Path(__file__).resolve().parents[2]
ROLLBACK = ROOT / "notebooks" / "fmd_rollback.ipynb"
MAINTENANCE = ROOT / "notebooks" / "fmd_maintenance.ipynb"
COLS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="IsDeleted", type="boolean", nullable=False),
]


def _disk(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def flagged(lakehouse: Path) -> Path:
    """bronze.t, checkpoint ``cp``, then a bad sync flagging rows deleted."""
    rt = fmd.connect(lakehouse=lakehouse, run_id="setup")
    ref = rt.table("bronze.t")
    rt.engine.create(ref, COLS)
    rt.engine.write(
        ref, pa.table({"Id": list(range(10)), "IsDeleted": [False] * 10}, schema=arrow_schema(COLS))
    )
    rt.configure_table("bronze.t", primary_key=["Id"], deleted_flag="IsDeleted")
    assert rt.checkpoints.create(["bronze.t"], kind="Manual", name="cp") is not None
    rt.engine.update(ref, {"Id": [1, 2, 3]}, {"IsDeleted": True})
    rt.close()
    return lakehouse


def _run(notebook: Path, lakehouse: Path, tmp: Path, **values: Any) -> dict[str, Any]:
    _, exit_value = nbrun.execute(notebook, {**values, "lakehouse": str(lakehouse)}, tmp)
    return exit_value


def test_rollback_notebook_takes_string_flags_and_reports_what_ran(
    flagged: Path, tmp_path: Path
) -> None:
    planned = _run(ROLLBACK, flagged, tmp_path / "1", checkpoint_name="cp", dry_run="True")
    assert planned["status"] == "Planned" and planned["dry_run"] is True
    done = _run(
        ROLLBACK,
        flagged,
        tmp_path / "2",
        checkpoint_name="cp",
        dry_run="false",
        require_approval="1",
        approval_token=planned["approval_token"],
        reason="strings from a pipeline",
    )
    assert done["status"] == "Succeeded" and done["dry_run"] is False, done
    rt = fmd.connect(lakehouse=flagged)
    flagged_rows = rt.engine.sql(
        'SELECT COUNT(*) AS n FROM {t} WHERE "IsDeleted"', {"t": rt.table("bronze.t")}
    )
    assert flagged_rows.to_pylist()[0]["n"] == 0  # really restored
    [summary] = [
        r
        for r in rt.store.read("SyncAuditLog", {"RunId": done["run_id"], "Operation": "Rollback"})
        if r["Status"] == "Succeeded"
    ]
    assert summary["DryRun"] is False
    rt.close()


@pytest.mark.parametrize(
    ("notebook", "values", "parameter"),
    [
        (ROLLBACK, {"dry_run": "yes"}, "dry_run"),
        (ROLLBACK, {"require_approval": ""}, "require_approval"),
        (MAINTENANCE, {"dry_run": "no"}, "dry_run"),
        (MAINTENANCE, {"pre_maintenance_checkpoint": "on"}, "pre_maintenance_checkpoint"),
        (MAINTENANCE, {"include_metadata_tables": 2}, "include_metadata_tables"),
        (MAINTENANCE, {"min_retention_hours": "a week"}, "min_retention_hours"),
    ],
)
def test_a_bad_flag_stops_the_notebook_before_anything_is_written(
    notebook: Path, values: dict[str, Any], parameter: str, lakehouse: Path, tmp_path: Path
) -> None:
    assert _disk(lakehouse) == []  # a fresh folder: connecting would create the metadata store
    with pytest.raises(CellExecutionError) as caught:
        _run(notebook, lakehouse, tmp_path, **values)
    assert "ConfigError" in str(caught.value) and f"'{parameter}'" in str(caught.value)
    assert _disk(lakehouse) == []


def test_maintenance_notebook_runs_for_real_on_the_string_false(
    flagged: Path, tmp_path: Path
) -> None:
    summary = _run(
        MAINTENANCE,
        flagged,
        tmp_path,
        dry_run="false",
        pre_maintenance_checkpoint="FALSE",
        include_metadata_tables="0",
        tables_scope="bronze.t",
        min_retention_hours="168",
    )
    assert summary["dry_run"] is False and summary["status"] == "Succeeded", summary
    assert summary["pre_maintenance_checkpoint"] is None
    assert [t["table"] for t in summary["tables"]] == ["bronze.t"]
    assert all(t["dry_run"] is False for t in summary["tables"])
