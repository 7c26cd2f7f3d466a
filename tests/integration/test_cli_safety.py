"""The ``fmd`` command and `connect` never delete, create or answer for a folder they should not.

- the demo deletes only a folder it built itself (marker file) and refuses any other non-empty one;
- an empty lakehouse path is refused (it would mean ``/Tables`` at the filesystem root);
- a mistyped path is refused by `connect` (unless ``create=True``) and by every CLI command but
  the explicit set-up ones (``fmd store ensure``, ``fmd demo``), with how to create a lakehouse;
- every option that takes a date, a number, a table list, a zone or a kind is checked by argparse
  (exit 2 naming the option), a closed stdout ends quietly (141), an FmdError is exit 2 and a real
  bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fmd_runtime as fmd
from fmd_runtime import cli
from fmd_runtime.demo import MARKER, prepare_folder, run_demo

FMD = [sys.executable, "-m", "fmd_runtime"]


def tree(root: Path) -> list[str]:
    """Every path under ``root`` (to prove nothing was written or deleted)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def fmd_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``fmd`` in-process; argparse usage errors (SystemExit) give their exit code."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- the demo never deletes what it did not build ------------------------------------------------
def test_demo_refuses_a_non_empty_folder_it_did_not_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.txt").write_text("years of work")
    before = tree(mine)
    code, _, err = fmd_main(capsys, "demo", "--lakehouse", str(mine))
    assert code == 2 and err.startswith("fmd: error: ")
    assert "not empty and was not built by `fmd demo`" in err and "nothing was deleted" in err
    assert tree(mine) == before


def test_demo_with_an_empty_path_is_a_usage_error_and_deletes_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("keep")
    proc = subprocess.run(
        [*FMD, "demo", "--lakehouse", ""], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "argument --lakehouse" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(tmp_path) == ["keep.txt"]


@pytest.mark.parametrize("path", ["", "   "])
def test_run_demo_refuses_an_empty_path(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("keep")
    with pytest.raises(fmd.ConfigError, match="'lakehouse' is empty"):
        run_demo(path, say=lambda _: None)
    assert tree(tmp_path) == ["keep.txt"]


def test_prepare_folder_marks_what_it_builds_and_empties_only_that(tmp_path: Path) -> None:
    new = prepare_folder(tmp_path / "a" / "demo")  # created, parents too
    assert (new / MARKER).is_file()
    (new / "Tables" / "bronze").mkdir(parents=True)
    (new / "left-over.txt").write_text("x")
    again = prepare_folder(new)  # an earlier demo's folder: emptied, marked again
    assert tree(again) == [MARKER]
    kept = prepare_folder(new, fresh=False)
    assert kept == new and (new / MARKER).is_file()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert tree(prepare_folder(empty)) == [MARKER]  # an empty folder may be used

    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / MARKER).write_text("not ours\n")  # a marker file the demo did not write
    (fake / "data.csv").write_text("1,2")
    with pytest.raises(fmd.ConfigError, match="was not built by"):
        prepare_folder(fake)
    assert (fake / "data.csv").exists()

    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(fmd.ConfigError, match="is a file"):
        prepare_folder(afile)


def test_prepare_folder_refuses_to_empty_the_folder_it_runs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = prepare_folder(tmp_path / "demo")
    (demo / "Tables").mkdir()
    monkeypatch.chdir(demo / "Tables")
    with pytest.raises(fmd.ConfigError, match="current directory"):
        prepare_folder(demo)
    assert (demo / "Tables").is_dir()


# -- connect(): empty, missing, wrong-type paths ---------------------------------------------------
@pytest.mark.parametrize("path", ["", "  ", "\t"])
def test_connect_refuses_an_empty_lakehouse_path(path: str) -> None:
    existed = Path("/Tables").exists()
    with pytest.raises(fmd.ConfigError, match="parameter 'lakehouse' is empty"):
        fmd.connect(lakehouse=path)
    assert Path("/Tables").exists() == existed


def test_connect_refuses_a_missing_folder_unless_asked_to_create_it(tmp_path: Path) -> None:
    typo = tmp_path / "lakehuose"
    with pytest.raises(fmd.ConfigError, match="does not exist") as info:
        fmd.connect(lakehouse=typo)
    assert "create=True" in str(info.value) and "fmd store ensure" in str(info.value)
    assert not typo.exists()

    rt = fmd.connect(lakehouse=tmp_path / "new" / "lakehouse", create=True, run_id="set-up")
    rt.close()
    assert cli.is_lakehouse(tmp_path / "new" / "lakehouse")
    rt = fmd.connect(lakehouse=str(tmp_path / "new" / "lakehouse"), run_id="again")  # exists now
    rt.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lakehouse": 42}, "must be a folder path or URL"),
        ({"create": "yes"}, "create"),
    ],
)
def test_connect_refuses_wrong_lakehouse_arguments(
    tmp_path: Path, kwargs: dict[str, object], fragment: str
) -> None:
    args: dict[str, object] = {"lakehouse": tmp_path / "x", **kwargs}
    with pytest.raises(fmd.ConfigError, match=fragment):
        fmd.connect(**args)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_connect_refuses_a_file_as_lakehouse(tmp_path: Path) -> None:
    afile = tmp_path / "lakehouse"
    afile.write_text("x")
    with pytest.raises(fmd.ConfigError, match="names a file"):
        fmd.connect(lakehouse=afile, create=True)


def test_connect_does_not_look_for_an_object_store_url_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse"
    rt = fmd.connect(lakehouse=url, ensure=False, run_id="remote")
    assert rt.engine.root == url  # type: ignore[attr-defined]
    assert tree(tmp_path) == []  # no local "abfss:" folder


# -- CLI: only explicit set-up creates a lakehouse -------------------------------------------------
NOT_A_LAKEHOUSE = ["missing", "empty", "other"]
COMMANDS = [
    ["checkpoint", "list"],
    ["checkpoint", "verify", "--all"],
    ["checkpoint", "verify", "demo_before_bad_sync"],
    ["checkpoint", "retention"],
    ["checkpoint", "create", "bronze.account"],
    ["rollback", "plan", "latest"],
    ["rollback", "execute", "latest", "--reason", "r"],
    ["maintenance"],
    ["maintenance", "--json"],
    ["watermarks", "show"],
    ["watermarks", "migrate"],
    ["config", "show", "bronze.account"],
]


@pytest.mark.parametrize("kind", NOT_A_LAKEHOUSE)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_commands_refuse_a_folder_that_is_not_a_lakehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], kind: str
) -> None:
    folder = tmp_path / "lh"
    if kind != "missing":
        folder.mkdir()
    if kind == "other":
        (folder / "Tables" / "bronze").mkdir(parents=True)  # tables of another tool, no metadata
    before = tree(tmp_path)
    code, out, err = fmd_main(capsys, *command, "--lakehouse", str(folder))
    assert code == 2, (out, err)
    assert err.startswith("fmd: error: parameter 'lakehouse'")
    assert f"fmd store ensure --lakehouse {folder}" in err  # says how to create one
    assert "no checkpoints" not in out
    assert tree(tmp_path) == before  # nothing created, not even the folder


def test_store_ensure_is_the_explicit_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "new" / "lakehouse"
    code, out, _ = fmd_main(capsys, "store", "ensure", "--lakehouse", str(folder))
    assert code == 0 and "CheckpointHistory" in out  # it says what it created
    assert cli.is_lakehouse(folder)
    code, out, _ = fmd_main(capsys, "checkpoint", "list", "--lakehouse", str(folder))
    assert code == 0 and out.strip() == "no checkpoints"
    code, out, _ = fmd_main(capsys, "store", "ensure", "--lakehouse", str(folder))
    assert code == 0 and out.rstrip().endswith("created/upgraded: none")
    code, _, err = fmd_main(
        capsys, "checkpoint", "list", "--lakehouse", str(folder), "--metadata-schema", "other"
    )
    assert code == 2 and "no metadata tables under Tables/other/" in err


# -- CLI: option types ---------------------------------------------------------------------------
BAD_OPTIONS = [
    (["checkpoint", "list", "--since", "notadate"], "--since"),
    (["checkpoint", "list", "--since", "2025-02-30"], "--since"),
    (["checkpoint", "list", "--table", "bronze.bad-name"], "--table"),
    (["checkpoint", "create", "--retention-days", "ten"], "--retention-days"),
    (["checkpoint", "create", "--retention-days", "0"], "--retention-days"),
    (["checkpoint", "create", "--retention-days", "3000000"], "--retention-days"),
    (["checkpoint", "create", "--retention-days", "1.5"], "--retention-days"),
    (["checkpoint", "create", "bronze.a;drop"], "tables"),
    (["maintenance", "--min-retention-hours", "abc"], "--min-retention-hours"),
    (["maintenance", "--min-retention-hours", "-1"], "--min-retention-hours"),
    (["maintenance", "--min-retention-hours", "1000000000"], "--min-retention-hours"),
    (["maintenance", "--tables", ","], "--tables"),
    (["maintenance", "--tables", "bronze.a,bronze.b-c"], "--tables"),
    (["rollback", "plan", "x", "--tables", "a.b.c.d"], "--tables"),
    (["rollback", "plan", "x", "--kind", "Weekly"], "--kind"),
    (["watermarks", "show", "--source-tz", "Mars/Olympus"], "--source-tz"),
    (["watermarks", "reset", "--kind", "float"], "--kind"),
    (["checkpoint", "list", "--lakehouse", " "], "--lakehouse"),
    (["checkpoint", "list", "--metadata-schema", "meta data"], "--metadata-schema"),
    (["config", "show", "bronze.bad-name"], "table"),
]


@pytest.mark.parametrize(
    ("argv", "option"), BAD_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_bad_option_values_are_usage_errors_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(
            [*argv, "--lakehouse", str(tmp_path / "lh")] if "--lakehouse" not in argv else argv
        )
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert f"argument {option}" in err and "Traceback" not in err
    assert tree(tmp_path) == []


def test_good_option_values_are_accepted() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["checkpoint", "list", "--since", "2025-01-15", "--table", "bronze.a"])
    assert str(args.since) == "2025-01-15" and args.table == "bronze.a"
    args = parser.parse_args(["maintenance", "--min-retention-hours", "200", "--tables", "a.b,c.d"])
    assert args.min_retention_hours == 200 and args.tables == "a.b,c.d"
    args = parser.parse_args(
        ["rollback", "plan", "latest", "--kind", "dailybatch", "--tables", "All"]
    )
    assert args.kind == "DailyBatch" and args.tables == "All"
    args = parser.parse_args(
        ["checkpoint", "create", "bronze.*", "silver.x", "--retention-days", "30"]
    )
    assert args.tables == ["bronze.*", "silver.x"] and args.retention_days == 30


# Options whose names say they take a date, a number, tables, a zone, a kind or a path: each must
# be checked where it enters (a validating type= or choices), never left a free string.
TYPED = re.compile(r"(days|hours|since|until|date|tables?|tz|kind|schema|lakehouse|count|limit)$")


def _actions(
    parser: argparse.ArgumentParser, path: str = "fmd"
) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _actions(sub, f"{path} {name}")
        else:
            found.append((path, action))
    return found


def test_every_date_number_and_table_option_has_a_validating_type() -> None:
    unchecked = [
        f"{path} {action.option_strings or action.dest}"
        for path, action in _actions(cli.build_parser())
        if TYPED.search(action.dest.replace("-", "_").split("_")[-1])
        and action.nargs != 0  # flags (store_true) take no value
        and action.type is None
        and action.choices is None
    ]
    assert unchecked == []


# -- CLI: how a command ends ---------------------------------------------------------------------
def _closed_stdout(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``fmd`` with a reader that went away before the first line (``fmd ... | head -0``)."""
    proc = subprocess.Popen(
        [*FMD, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=300), err


def test_a_closed_stdout_ends_quietly_with_141(tmp_path: Path) -> None:
    lake = tmp_path / "lh"
    assert cli.main(["store", "ensure", "--lakehouse", str(lake)]) == 0
    for args in (["store", "ddl"], ["maintenance", "--json", "--lakehouse", str(lake)]):
        code, err = _closed_stdout(args, tmp_path)
        assert code == cli.EXIT_BROKEN_PIPE, err
        assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception" not in err


def test_fmd_errors_exit_2_and_bugs_keep_their_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lh"
    assert cli.main(["store", "ensure", "--lakehouse", str(lake)]) == 0
    code, _, err = fmd_main(capsys, "checkpoint", "verify", "nope", "--lakehouse", str(lake))
    assert code == 2 and err.startswith("fmd: error: ") and "Traceback" not in err

    def bug(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a real bug")

    monkeypatch.setattr(cli._store, "_config", bug)
    with pytest.raises(ZeroDivisionError):
        cli.main(["config", "show", "bronze.a", "--lakehouse", str(lake)])


def test_python_dash_m_fmd_runtime_is_the_fmd_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*FMD, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "demo" in proc.stdout and "checkpoint" in proc.stdout
