"""README.md and docs/ as a newcomer reads them: the quick start runs as written on a fresh folder,
every ``fmd`` command they show parses, and the checkpoints they name are ones the demo creates.

The code is taken from the files themselves, so the documentation cannot rot unnoticed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fmd_runtime import cli
from fmd_runtime.demo import DEMO_CHECKPOINT

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def quick_start() -> str:
    """The first ```python block under README's "## Quick start" heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quick start", 1)[1]
    for lang, body in FENCE.findall(section):
        if lang == "python":
            return str(body)
    raise AssertionError("README.md: no python block under '## Quick start'")


def test_the_readme_quick_start_runs_as_written_in_a_fresh_folder(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(quick_start(), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.fullmatch(r"bronze_batch_\d{4}-\d{2}-\d{2} Validated 3\n", proc.stdout), proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lakehouse", "quickstart.py"]

    # what the README says to run next works on what it built
    proc = subprocess.run(
        [sys.executable, "-m", "fmd_runtime", "checkpoint", "list", "--lakehouse", "./lakehouse"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "bronze_batch_" in proc.stdout and "Validated" in proc.stdout


def shown_commands(*, synopses: bool = False) -> list[tuple[str, str]]:
    """``fmd ...`` lines of the code blocks of README.md and docs/*.md (usage synopses, with
    ``[optional]`` parts, only when ``synopses``)."""
    found = []
    for path in [README, *DOCS]:
        for lang, body in FENCE.findall(path.read_text(encoding="utf-8")):
            if lang not in ("", "bash", "sh", "console"):
                continue
            for line in body.splitlines():
                line = line.split("  #", 1)[0].strip().removeprefix("$ ")
                if line.startswith("fmd ") and (synopses or ("[" not in line and "|" not in line)):
                    found.append((path.name, line))
    return found


COMMANDS = shown_commands()


def test_the_docs_show_fmd_commands() -> None:
    assert len(COMMANDS) >= 10  # the extraction still finds them


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_every_command_in_the_docs_parses(doc: str, command: str) -> None:
    argv = shlex.split(command.replace("rb-…", "rb-0").replace("…", "x"))[1:]
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse refused it
        raise AssertionError(f"{doc}: `{command}` does not parse (exit {exc.code})") from None
    assert getattr(args, "func", None) is not None, f"{doc}: `{command}` names no command"


NAMED = [
    (doc, command)
    for doc, command in shown_commands(synopses=True)
    if re.match(r"fmd (rollback (plan|execute)|checkpoint verify) (?!--)", command)
]


@pytest.mark.parametrize(("doc", "command"), NAMED, ids=[f"{d}: {c}" for d, c in NAMED])
def test_checkpoints_named_in_the_docs_exist_after_the_demo(doc: str, command: str) -> None:
    name = shlex.split(command)[3]
    placeholders = {"CHECKPOINT", "NAME", "latest"}
    assert name in placeholders | {DEMO_CHECKPOINT}, (
        f"{doc}: `{command}` names checkpoint {name!r}, which `fmd demo` never creates; use "
        f"{DEMO_CHECKPOINT!r}, 'latest' or a placeholder"
    )
