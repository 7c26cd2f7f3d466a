"""The ``fmd`` command: help lists the subcommands; the demo runs and exits cleanly every time,
re-runs in its own folder, and ends with "Try next" commands that work on what it left.

A run that does its work and then aborts at interpreter exit (exit code 134, the pyarrow/delta-rs
shutdown-order hazard in DESIGN.md) is a failed run, so the demo is run repeatedly.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fmd_runtime.demo import DEMO_CHECKPOINT, MARKER

FMD = [sys.executable, "-m", "fmd_runtime.cli"]
DEMO_RUNS = int(os.environ.get("FMD_DEMO_RUNS", "6"))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*FMD, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_help_lists_subcommands(tmp_path: Path) -> None:
    proc = run(["--help"], tmp_path)
    assert proc.returncode == 0
    for command in ("demo", "store", "config"):
        assert command in proc.stdout


def test_demo_runs_repeatedly_with_clean_exit_codes(tmp_path: Path) -> None:
    codes = []
    for i in range(DEMO_RUNS):
        proc = run(["demo", "--lakehouse", str(tmp_path / f"lh{i % 2}")], tmp_path)
        codes.append(proc.returncode)
        assert proc.returncode == 0, (
            f"run {i}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
        assert "done" in proc.stdout and "Try next" in proc.stdout
    assert codes == [0] * DEMO_RUNS
    assert (tmp_path / "lh0" / "Tables" / "bronze" / "account" / "_delta_log").is_dir()
    assert (tmp_path / "lh0" / MARKER).is_file()  # what lets the next run replace it


def test_the_demo_ends_with_commands_that_work_on_what_it_left(tmp_path: Path) -> None:
    """The printed "Try next" commands run as printed: list, verify, plan, execute, maintenance."""
    proc = run(["demo", "--lakehouse", "lh"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tail = proc.stdout.split("Try next", 1)[1]
    commands = [line.strip() for line in tail.splitlines() if line.strip().startswith("fmd ")]
    verbs = [" ".join(shlex.split(c)[1:3]) for c in commands]
    assert verbs == [
        "checkpoint list",
        "checkpoint verify",
        "rollback plan",
        "rollback execute",
        "maintenance --lakehouse",
    ]
    assert f"fmd rollback plan {DEMO_CHECKPOINT} --lakehouse {tmp_path / 'lh'}" in commands
    outputs = {}
    for command in commands:
        done = run(shlex.split(command)[1:], tmp_path / "elsewhere")  # absolute paths: any cwd
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs[" ".join(shlex.split(command)[1:3])] = done.stdout
    assert DEMO_CHECKPOINT in outputs["checkpoint list"]
    assert "Restore" in outputs["rollback plan"]  # something to roll back
    assert "Succeeded" in outputs["rollback execute"]


def test_store_ddl_and_bad_usage(tmp_path: Path) -> None:
    proc = run(["store", "ddl"], tmp_path)
    assert proc.returncode == 0 and "CREATE TABLE IF NOT EXISTS" in proc.stdout
    proc = run(["config", "show", "bronze.bad-name", "--lakehouse", str(tmp_path / "lh")], tmp_path)
    assert proc.returncode == 2 and "not a plain identifier" in proc.stderr


@pytest.mark.parametrize("args", [[], ["nope"]])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    assert run(args, tmp_path).returncode == 2
