"""One notebook of a fan-out, run in its own process by the circuit breaker scenario.

`load_entities` is what a bronze notebook does for its share of a pipeline run's entities: one
run-level activity around the loop, each entity an activity naming its source, the simulated
copy raising ``ConnectionError`` for the source that is down. It returns what the process saw,
so the test can add up every process's view and compare it with the metadata tables.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

import fmd_runtime as fmd
from fmd_runtime.engine import Column

COLUMNS = [Column(name="Id", type="bigint", nullable=False)]


def copy_from(source: str, down: set[str]) -> pa.Table:
    """The simulated source copy: a connection error when the source is down."""
    if source in down:
        raise ConnectionError(f"[Errno 111] connection refused: {source}.example.net:1433")
    return pa.table({"Id": pa.array([1, 2, 3], pa.int64())})


def load_entities(
    lakehouse: str, worker: int, entities: list[tuple[str, str]], down: list[str]
) -> dict[str, Any]:
    """Load ``(entity, source)`` pairs in order; return each entity's outcome and the summary."""
    rt = fmd.connect(
        lakehouse=lakehouse,
        run_id=f"worker-{worker}",
        pipeline_run_id="pipe-fanout",
        triggered_by="pytest",
        config={"circuit_failure_threshold": 3, "circuit_cooldown_minutes": 10},
        ensure=False,
    )
    rt.alerts.notifier = None
    outcomes: dict[str, str] = {}
    with rt.audit.activity("Notebook", layer="bronze"):
        for entity, source in entities:
            try:
                with rt.audit.activity("Load", entity=entity, source=source, layer="bronze") as a:
                    data = copy_from(source, set(down))
                    ref = rt.table(f"bronze.{entity}")
                    rt.engine.create(ref, COLUMNS)
                    rt.engine.write(ref, data, mode="append")
                    a.rows_written = data.num_rows
                outcomes[entity] = "loaded"
            except fmd.CircuitOpenError:
                outcomes[entity] = "refused"
            except ConnectionError:
                outcomes[entity] = "failed"
    summary = rt.audit.summarize(name="Load")
    rt.close()
    return {"outcomes": outcomes, "summary": summary.model_dump(mode="json")}
