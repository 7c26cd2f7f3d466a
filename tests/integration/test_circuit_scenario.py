"""The source circuit breaker on real Delta tables: a fan-out with one source down, the probe,
refusals, the off switch and the commit economy of a healthy run.

The fan-out runs three processes (``spawn``) on one delta-rs lakehouse, as parallel notebooks
of one pipeline run: only the metadata store connects them. The other scenarios run on every
engine (``any_rt``; the probe scenario also on Spark + Delta, see conftest's
``SPARK_SCENARIOS``). Time never passes in them: the cooldown is set through
``rt.runs.configure_source`` (the state is derived from the events with the current settings).
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from circuitload import load_entities

import fmd_runtime as fmd
from fmd_runtime.errors import ContractViolation

SOURCE = "crm"


def circuit_rows(rt: Any, source: str = SOURCE) -> list[dict[str, Any]]:
    """The source's breaker events, oldest first (its ``Configured`` settings left out)."""
    rows = rt.store.read("SourceCircuit", {"SourceName": source})
    return sorted((r for r in rows if r["Operation"] != "Configured"), key=lambda r: r["EventTime"])


def raised_alerts(rt: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in rt.store.read("SyncAuditLog", {"Operation": "Alert", "Status": "Raised"})
        if f'"circuit-open:{SOURCE}:' in (r["Details"] or "")
    ]


def load(rt: Any, entity: str, *, error: BaseException | None = None) -> str:
    """One entity's activity naming the source; the outcome as the test sees it."""
    try:
        with rt.audit.activity("Load", entity=entity, source=SOURCE, layer="bronze"):
            if error is not None:
                raise error
        return "loaded"
    except fmd.CircuitOpenError:
        return "refused"
    except (ConnectionError, ContractViolation):
        return "failed"


@pytest.fixture
def crm(any_rt: Any) -> Any:
    any_rt.alerts.notifier = None
    any_rt.runs.configure_source(SOURCE, failure_threshold=2, cooldown_minutes=10)
    return any_rt


# -- the fan-out: three processes, two sources, one down ---------------------------------------
def test_parallel_notebooks_stop_the_failing_source_after_the_threshold_with_one_alert(
    lakehouse: Any,
) -> None:
    workers, per_source, threshold = 3, 9, 3
    rt = fmd.connect(
        lakehouse=lakehouse, run_id="setup", config={"circuit_failure_threshold": threshold}
    )
    entities = [(f"{src}_{i}", src) for i in range(per_source) for src in ("crm", "erp")]
    shares = [entities[w::workers] for w in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        results = pool.starmap(
            load_entities, [(str(lakehouse), w, shares[w], ["crm"]) for w in range(workers)]
        )
    outcomes = {e: o for r in results for e, o in r["outcomes"].items()}
    crm_seen = [outcomes[f"crm_{i}"] for i in range(per_source)]
    failed, refused = crm_seen.count("failed"), crm_seen.count("refused")
    # every erp entity loaded; crm stopped after the threshold (+ at most one in flight per
    # other process when it opened), the rest refused at once
    assert all(outcomes[f"erp_{i}"] == "loaded" for i in range(per_source))
    assert threshold <= failed <= threshold + workers - 1
    assert failed + refused == per_source and refused >= per_source - threshold - workers + 1
    # the summaries add up exactly to what happened
    totals = {
        k: sum(r["summary"][k] for r in results)
        for k in ("total", "succeeded", "failed", "circuit_open")
    }
    assert totals == {
        "total": 2 * per_source,
        "succeeded": per_source,
        "failed": failed,
        "circuit_open": refused,
    }
    assert all(not fmd.RunSummary(**r["summary"]).ok for r in results if r["summary"]["failed"])
    # the store agrees: one Failure per failed entity, the breaker open, exactly one alert
    events = circuit_rows(rt)
    assert sorted(e["EntityId"] for e in events if e["Operation"] == "Failure") == sorted(
        f"crm_{i}" for i in range(per_source) if crm_seen[i] == "failed"
    )
    assert [e["Operation"] for e in events].count("Opened") >= 1
    assert rt.runs.circuit("crm").state == "open" and rt.runs.circuit("erp").state == "closed"
    assert circuit_rows(rt, "erp") == []  # the healthy source paid no commit
    assert len(raised_alerts(rt)) == 1
    refusals = rt.store.read("SyncAuditLog", {"Operation": "CircuitOpen"})
    assert sorted(r["EntityId"] for r in refusals) == sorted(
        f"crm_{i}" for i in range(per_source) if crm_seen[i] == "refused"
    )
    assert all("source crm is unavailable" in r["ErrorSummary"] for r in refusals)
    rt.close()


# -- the probe ------------------------------------------------------------------------------
def test_after_the_cooldown_one_probe_runs_its_failure_re_opens_and_its_success_closes(
    crm: Any,
) -> None:
    rt = crm
    assert [load(rt, f"e{i}", error=ConnectionError("refused")) for i in range(3)] == [
        "failed",
        "failed",
        "refused",
    ]
    assert rt.runs.circuit(SOURCE).state == "open" and len(raised_alerts(rt)) == 1
    rt.runs.configure_source(SOURCE, cooldown_minutes=0)  # the cooldown is over
    state = rt.runs.check_source(SOURCE, entity="probe1")  # claims the probe
    assert state.state == "half_open"
    with pytest.raises(fmd.CircuitOpenError, match="probing"):
        rt.runs.check_source(SOURCE, entity="other")
    rt.runs.configure_source(SOURCE, cooldown_minutes=10)
    assert load(rt, "probe1", error=ConnectionError("still refused")) == "failed"
    st = rt.runs.circuit(SOURCE)
    assert st.state == "open" and st.failures == 3 and st.alerted  # re-opened, same opening
    assert load(rt, "e4") == "refused"
    rt.runs.configure_source(SOURCE, cooldown_minutes=0)
    assert load(rt, "probe2") == "loaded"  # the second probe succeeds
    assert rt.runs.circuit(SOURCE).state == "closed"
    assert load(rt, "e5") == "loaded"
    ops = [e["Operation"] for e in circuit_rows(rt)]
    assert ops == ["Failure", "Failure", "Opened", "Probe", "Failure", "Probe", "Closed"]
    assert len(raised_alerts(rt)) == 1  # one alert for the whole outage
    summary = rt.audit.summarize(name="Load")
    assert (summary.failed, summary.circuit_open, summary.succeeded) == (3, 2, 2)
    assert not summary.ok and "2 refused (source circuit open)" in summary.line()


# -- what never opens it, and the off switches ----------------------------------------------
def test_validation_errors_never_open_it_and_a_healthy_run_writes_nothing(crm: Any) -> None:
    rt = crm
    for i in range(4):
        assert load(rt, f"v{i}", error=ContractViolation("column Id is null")) == "failed"
    for i in range(3):
        assert load(rt, f"ok{i}") == "loaded"
    assert rt.runs.circuit(SOURCE).state == "closed" and circuit_rows(rt) == []


def test_a_success_after_a_failure_resets_the_count(crm: Any) -> None:
    rt = crm
    load(rt, "a", error=ConnectionError("refused"))
    load(rt, "b")  # written: a failure is counted
    load(rt, "c", error=ConnectionError("refused"))
    assert rt.runs.circuit(SOURCE).state == "closed"
    assert [e["Operation"] for e in circuit_rows(rt)] == ["Failure", "Success", "Failure"]


def test_the_off_switch_per_source_and_for_every_source(crm: Any) -> None:
    rt = crm
    rt.runs.configure_source(SOURCE, enabled=False)
    assert [load(rt, f"x{i}", error=ConnectionError("refused")) for i in range(4)] == ["failed"] * 4
    assert circuit_rows(rt) == [] and rt.runs.circuit(SOURCE).state == "disabled"
    off = fmd.connect(engine=rt.engine, run_id="off-run", config={"circuit_enabled": False})
    assert [load(off, "y", error=ConnectionError("refused")) for _ in range(4)] == ["failed"] * 4
    assert off.runs.check_source("erp").state == "disabled"
    assert circuit_rows(off, "erp") == []
    off.close()


def test_should_skip_and_fail_name_the_source_and_a_reset_closes_it(crm: Any) -> None:
    rt = crm
    for entity in ("a", "b"):
        assert rt.runs.should_skip(entity, "bronze", source=SOURCE) is False
        err = ConnectionError("refused")
        rt.runs.fail(entity, "bronze", error=err, source=SOURCE)
        rt.runs.fail(entity, "bronze", error=err, source=SOURCE)  # the same failure: once
    assert [e["Operation"] for e in circuit_rows(rt)] == ["Failure", "Failure", "Opened"]
    with pytest.raises(fmd.CircuitOpenError) as info:
        rt.runs.should_skip("c", "bronze", source=SOURCE)
    assert info.value.entity == "c" and info.value.details["failures"] == 2
    with pytest.raises(fmd.ConfigError, match="reason"):
        rt.runs.reset_circuit(SOURCE, reason=" ")
    assert rt.runs.reset_circuit(SOURCE, reason="CRM back (CHG-1)").state == "closed"
    assert rt.runs.should_skip("c", "bronze", source=SOURCE) is False
    assert rt.store.read("SyncAuditLog", {"Operation": "CircuitReset"})


def test_fmd_circuit_status_exits_1_while_open_and_reset_closes_it(
    rt: Any, lakehouse: Any, capsys: Any
) -> None:
    from fmd_runtime.cli import main

    rt.alerts.notifier = None
    rt.runs.configure_source(SOURCE, failure_threshold=2)
    for entity in ("a", "b"):
        load(rt, entity, error=ConnectionError("refused"))
    assert main(["circuit", "status", "--lakehouse", str(lakehouse)]) == 1
    assert "source crm is unavailable: 2 consecutive failures" in capsys.readouterr().out
    assert main(["circuit", "reset", SOURCE, "--lakehouse", str(lakehouse)]) == 2
    args = ["circuit", "reset", SOURCE, "--reason", "CRM back", "--lakehouse", str(lakehouse)]
    assert main(args) == 0
    assert main(["circuit", "status", SOURCE, "--lakehouse", str(lakehouse)]) == 0


def _claim(runtime: Any, entity: str, barrier: Any, passed: list[str]) -> None:
    """Wait for the other claimer, then check the source (a claim when it is half-open)."""
    barrier.wait()
    try:
        runtime.runs.check_source(SOURCE, entity=entity)
        passed.append(entity)
    except fmd.CircuitOpenError:
        pass


def test_two_processes_claiming_the_probe_at_once_let_exactly_one_through(
    rt: Any, lakehouse: Any
) -> None:
    import threading

    rt.alerts.notifier = None
    other = fmd.connect(lakehouse=lakehouse, run_id="other-process")
    other.alerts.notifier = None
    for round_ in range(3):
        rt.runs.configure_source(SOURCE, failure_threshold=1, cooldown_minutes=10)
        load(rt, f"down{round_}", error=ConnectionError("refused"))
        # the cooldown is over; a probe is lost only after 10 minutes
        rt.runs.configure_source(SOURCE, cooldown_minutes=0, probe_timeout_minutes=10)
        barrier, passed = threading.Barrier(2), []
        threads = [
            threading.Thread(
                target=_claim, args=(r, f"{r.context.run_id}-{round_}", barrier, passed)
            )
            for r in (rt, other)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(passed) == 1, passed
        rt.runs.reset_circuit(SOURCE, reason="next round")
    other.close()
