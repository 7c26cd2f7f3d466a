"""`fmd checkpoint create|list|verify|retention` and the demo step, on a real lakehouse folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime import cli
from fmd_runtime.demo import build_lakehouse
from fmd_runtime.demo import checkpoints_step as demo_step
from fmd_runtime.engine import Column


@pytest.fixture
def lake(lakehouse: Path) -> Path:
    rt = fmd.connect(lakehouse=lakehouse, run_id="setup")
    for name in ("bronze.account", "bronze.contact"):
        t = rt.table(name)
        rt.engine.create(
            t, [Column(name="Id", type="bigint"), Column(name="IsDeleted", type="boolean")]
        )
        rt.engine.write(
            t, pa.table({"Id": pa.array([1, 2, 3], pa.int64()), "IsDeleted": [False, True, False]})
        )
        rt.configure_table(t, primary_key=["Id"], deleted_flag="IsDeleted")
    rt.close()
    return lakehouse


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_create_list_verify_retention(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--lakehouse", str(lake)]
    code, out = run(capsys, "checkpoint", "create", "bronze.*", "--name", "before_fix", *where)
    assert code == 0
    assert "before_fix" in out and "Validated" in out and "bronze.account@v1  rows 3  (scan)" in out

    code, out = run(
        capsys, "checkpoint", "create", "bronze.account", "--kind", "Daily", "--json", *where
    )
    daily = json.loads(out)
    assert (
        code == 0
        and daily["checkpoint_type"] == "Daily"
        and daily["checkpoint_name"].startswith("bronze_backup_")
    )

    code, out = run(capsys, "checkpoint", "list", *where)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["NAME", "TYPE", "CREATED"]
    assert [ln.split()[0] for ln in lines[1:]] == [daily["checkpoint_name"], "before_fix"]

    code, out = run(capsys, "checkpoint", "list", "--kind", "Manual", "--json", *where)
    assert [c["checkpoint_name"] for c in json.loads(out)] == ["before_fix"]

    code, out = run(capsys, "checkpoint", "verify", "before_fix", *where)
    assert code == 0 and out.startswith("before_fix: Restorable (2 tables)")
    code, out = run(capsys, "checkpoint", "verify", "--all", "--json", *where)
    assert code == 0 and {r["status"] for r in json.loads(out)} == {"Restorable"}

    code, out = run(capsys, "checkpoint", "retention", *where)
    assert code == 0 and "would deactivate 0" in out


def test_failures_and_bad_usage_have_exit_codes(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--lakehouse", str(lake)]
    rt = fmd.connect(lakehouse=lake, run_id="setup")
    rt.engine.update(rt.table("bronze.account"), {"Id": [1]}, {"IsDeleted": None})
    rt.engine.write(
        rt.table("bronze.account"),
        pa.table({"Id": pa.array([None], pa.int64()), "IsDeleted": [False]}),
    )
    rt.close()
    code, out = run(capsys, "checkpoint", "create", "bronze.account", *where)
    assert code == 1 and "FAILED" in out and "null primary key" in out
    assert run(capsys, "checkpoint", "verify", *where)[0] == 2
    assert cli.main(["checkpoint", "verify", "bronze_manual", *where]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint named 'bronze_manual'" in err and "did you mean bronze_manual_" in err


def test_the_cli_runs_as_a_process(lake: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "fmd_runtime.cli",
        "checkpoint",
        "create",
        "--lakehouse",
        str(lake),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Validated" in done.stdout


def test_demo_step_creates_lists_and_verifies(lakehouse: Path) -> None:
    rt = fmd.connect(lakehouse=lakehouse, run_id="demo")
    build_lakehouse(rt, say=lambda _: None)
    lines: list[str] = []
    demo_step(rt, lines.append)
    rt.close()
    assert lines[0].startswith("checkpoint bronze_batch_") and "Validated, 3 tables" in lines[0]
    assert any(ln.strip().startswith("bronze.donation") for ln in lines)
    assert lines[-1].endswith("Restorable (3 tables)")


def test_a_batch_checkpoint_from_the_cli_shows_the_load_each_version_reflects(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loader = fmd.connect(lakehouse=lake, run_id="night-load", pipeline_run_id="b-15")
    done = loader.runs.write(
        "account",
        "bronze.account",
        pa.table({"Id": pa.array([4], pa.int64()), "IsDeleted": [False]}),
        layer="bronze",
    )
    loader.close()
    where = ["--lakehouse", str(lake)]
    code, out = run(
        capsys,
        "checkpoint", "create", "bronze.*", "--kind", "DailyBatch", "--name", "nightly",
        "--batch-id", "b-15", "--wait-for-loads-seconds", "0", *where,
    )  # fmt: skip
    assert code == 0 and "Validated" in out
    code, out = run(capsys, "checkpoint", "list", "--tables", *where)
    assert code == 0
    assert "nightly (Validated, batch b-15, pinned within" in out
    assert f"bronze.account v{done.version} = batch b-15 (v{done.version}," in out
    assert "bronze.contact v1 = no library load" in out

    with pytest.raises(SystemExit) as usage:  # a usage error: argparse exits with 2
        cli.main(["checkpoint", "create", "--wait-for-loads-seconds", "-1", *where])
    assert usage.value.code == 2 and "wait_for_loads_seconds" in capsys.readouterr().err
