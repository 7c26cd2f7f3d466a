"""`fmd rollback plan|execute` and the rollback demo step, on a real lakehouse folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_rollback_scenario import ACCOUNT, CHECKPOINT, CONTACT, build, rows_of

import fmd_runtime as fmd
from fmd_runtime import cli
from fmd_runtime.demo import build_lakehouse
from fmd_runtime.demo import rollback_step as demo_step
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.errors import EngineError
from fmd_runtime.testing import FaultyEngine


def failing_restore(lakehouse: Path) -> FaultyEngine:
    """The real embedded engine, whose RESTORE of bronze.contact fails (a storage outage)."""
    return FaultyEngine(DeltaRsEngine(lakehouse)).fail(
        "restore",
        tables={CONTACT},
        error=lambda t: EngineError(
            "restore failed: injected storage outage",
            table=CONTACT,
            hint="retry when storage is back",
        ),
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_then_execute_with_the_token(
    lakehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = build(DeltaRsEngine(lakehouse))
    where = ["--lakehouse", str(lakehouse)]
    code, out, _ = run(capsys, "rollback", "plan", CHECKPOINT, "--tables", ACCOUNT, *where)
    assert code == 0 and "Rollback plan to checkpoint bronze_batch_good" in out
    token = out.split("approval_token='")[1].split("'")[0]
    code, out, _ = run(capsys, "rollback", "plan", CHECKPOINT, "--json", *where)
    assert code == 0 and json.loads(out)["totals"]["tables_to_restore"] == 3

    # refused without the token (exit 2), nothing changed
    code, _, err = run(
        capsys, "rollback", "execute", CHECKPOINT, "--tables", ACCOUNT, "--reason", "x", *where
    )
    assert code == 2 and "approval required" in err
    # a wrong checkpoint name: refused with the nearest one suggested
    code, _, err = run(capsys, "rollback", "plan", "bronze_batch_god", *where)
    assert code == 2 and "did you mean bronze_batch_good" in err

    code, out, err = run(
        capsys,
        "rollback",
        "execute",
        CHECKPOINT,
        "--tables",
        ACCOUNT,
        "--token",
        token,
        "--reason",
        "INC-1",
        *where,
    )
    assert code == 0, out + err
    assert "Succeeded (quality score 100%)" in out and "Restoring table 1 of 1" in err
    rt = fmd.connect(lakehouse=lakehouse)
    assert rows_of(rt, ACCOUNT) == rows_of(rt, ACCOUNT, scenario.pinned[ACCOUNT])
    assert rows_of(rt, CONTACT) != rows_of(rt, CONTACT, scenario.pinned[CONTACT])  # not in scope
    rt.close()


def test_partial_failure_exits_1_and_resume_finishes_it(
    lakehouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build(DeltaRsEngine(lakehouse))
    where = ["--lakehouse", str(lakehouse)]
    real_connect = fmd.connect

    def failing_connect(**kwargs: object) -> fmd.Runtime:
        return real_connect(engine=failing_restore(lakehouse), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("fmd_runtime.cli._args.connect", failing_connect)
    code, out, _ = run(capsys, "rollback", "plan", CHECKPOINT, "--json", *where)
    token = json.loads(out)["approval_token"]
    code, out, _ = run(
        capsys, "rollback", "execute", CHECKPOINT, "--token", token, "--reason", "r", *where
    )
    assert code == 1 and "PartiallyFailed" in out and "FAILED bronze.contact" in out
    run_id = out.split("Rollback ")[1].split(" ")[0]
    monkeypatch.setattr("fmd_runtime.cli._args.connect", real_connect)

    code, out, _ = run(capsys, "rollback", "plan", CHECKPOINT, "--json", "--resume", run_id, *where)
    plan = json.loads(out)
    assert {t["table"]: t["action"] for t in plan["tables"]}[CONTACT] == "Restore"
    code, out, _ = run(
        capsys,
        "rollback",
        "execute",
        CHECKPOINT,
        "--token",
        plan["approval_token"],
        "--reason",
        "resume",
        "--resume",
        run_id,
        *where,
    )
    assert code == 0 and "Succeeded (quality score 100%)" in out


def test_demo_step_undoes_a_bad_sync(lakehouse: Path) -> None:
    rt = fmd.connect(lakehouse=lakehouse, run_id="demo", triggered_by="demo")
    lines: list[str] = []
    build_lakehouse(rt, say=lines.append)
    cp = rt.checkpoints.create(["bronze.account", "bronze.contact", "bronze.donation"])
    assert cp is not None
    demo_step(rt, lines.append)
    text = "\n".join(lines)
    assert "a bad sync flagged" in text and "Rollback plan to checkpoint" in text
    assert "rollback Succeeded: restored bronze.account; quality score 100.0%" in text
    account = rt.table("bronze.account")
    pinned = cp.table("bronze.account").version
    key = "AccountId"
    assert sorted(rt.engine.read(account).to_pylist(), key=lambda r: r[key]) == sorted(
        rt.engine.read(account, pinned).to_pylist(), key=lambda r: r[key]
    )
    rt.close()
