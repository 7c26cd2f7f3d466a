"""One wording for every report: "1 table" / "2 tables", sizes in KiB (1024), and an error that
nests another says "What to do:" once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.engine import Column, arrow_schema
from fmd_runtime.errors import CheckpointError, ConfigError, FmdError

SRC = Path(fmd.__file__).parent


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 tables"), (1, "1 table"), (2, "2 tables"), (1500, "1,500 tables")]
)
def test_plural(count: int, text: str) -> None:
    assert plural(count, "table") == text


def test_plural_with_an_irregular_noun() -> None:
    assert plural(1, "entity", "entities") == "1 entity"
    assert plural(3, "entity", "entities") == "3 entities"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "0 B"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (4200, "4.1 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2 * 1024**4, "2.0 TiB"),
        (5000 * 1024**4, "5000.0 TiB"),
    ],
)
def test_format_bytes_uses_binary_units(size: int | None, text: str) -> None:
    assert format_bytes(size) == text


def test_every_report_formats_sizes_the_same_way() -> None:
    # the reports that show sizes call the one formatter, and no other module formats them
    for report in ("maintenance", "rollback"):
        sources = [SRC / f"{report}.py", *sorted((SRC / report).glob("*.py"))]
        assert any("format_bytes(" in p.read_text() for p in sources if p.is_file()), report
    for path in SRC.rglob("*.py"):
        if path.name != "_text.py":
            assert "KiB" not in path.read_text(encoding="utf-8"), path
    # no decimal-looking units left in the sources' text
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""["'](KB|MB|GB|TB)["']""", text), path


def test_a_nested_error_says_what_to_do_once() -> None:
    inner = ConfigError("retention is too short", table="bronze.a", hint="raise it to 168 hours")
    outer = CheckpointError(f"checkpoint failed: {inner}", hint="fix the cause and retry")
    assert str(outer).count("What to do:") == 1
    assert str(outer).endswith("What to do: raise it to 168 hours; then fix the cause and retry")
    from_hint = FmdError("refused", hint=str(inner))
    assert str(from_hint).count("What to do:") == 1
    assert str(FmdError("plain", hint="do it")) == "plain. What to do: do it"


def test_a_checkpoint_of_a_bad_name_says_what_to_do_once(rt: Any) -> None:
    with pytest.raises(FmdError) as info:
        rt.checkpoints.create("bronze.bad-name", kind="Manual", raise_on_failure=True)
    assert str(info.value).count("What to do:") == 1


def _one_table(rt: Any) -> str:
    columns = [
        Column(name="Id", type="bigint", nullable=False),
        Column(name="IsDeleted", type="boolean", nullable=False),
    ]
    ref = rt.table("bronze.only")
    rt.engine.create(ref, columns)
    rows = pa.table({"Id": [1, 2], "IsDeleted": [False, False]}, schema=arrow_schema(columns))
    rt.engine.write(ref, rows, mode="append")
    rt.configure_table("bronze.only", primary_key=["Id"], deleted_flag="IsDeleted")
    return ref.name


def test_reports_about_one_table_say_1_table(rt: Any) -> None:
    name = _one_table(rt)
    cp = rt.checkpoints.create([name], kind="Manual", name="one", raise_on_failure=True)
    assert "(1 table)" in rt.checkpoints.verify(cp.checkpoint_name).to_text()
    plan = rt.maintenance.plan(name, include_metadata_tables=False)
    assert plan.to_text().splitlines()[0].endswith(": 1 table")
    assert " - 1 table, " in rt.maintenance.run(plan, dry_run=True).to_text()
    assert "(1 table)" in rt.rollback.plan("one").to_text()
    for text in (plan.to_text(), rt.rollback.plan("one").to_text()):
        assert not re.search(r"\b1 tables\b", text)


def test_the_audit_summary_line_says_1_entity() -> None:
    from fmd_runtime.audit import RunSummary

    one = RunSummary(run_id="r", name="Load", total=1, succeeded=1).line()
    assert one.startswith("Load r: 1 entity, 1 succeeded")
    assert RunSummary(run_id="r", total=3, succeeded=3).line().startswith("run r: 3 entities,")
