"""Summaries of a fan-out: each entity's status from its events, and the run's totals.

`derive_status` applies the same rules as ``vw_RunStatus`` (sql/views.sql) to one entity's
events; `entity_results` normalizes explicit outcomes; `RunSummary` is what `Audit.summarize`
returns and writes. Pure functions over rows, so the view and the library agree by test.

Example:
    >>> derive_status(failures=1, open_activities=0, skips=0, successes=3)
    'Failed'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime._text import plural
from fmd_runtime.audit._envelope import LIFECYCLE, RUN_LEVEL, entity_key, error_text
from fmd_runtime.redaction import redact


class EntityResult(BaseModel):
    """The outcome of one entity of a fan-out (what `Audit.summarize` counts)."""

    model_config = FROZEN

    entity: str
    status: Literal["Succeeded", "Failed", "CircuitOpen", "Skipped", "Running", "Warning", "Info"]
    activity: str | None = None
    error_type: str | None = None
    error_summary: str | None = None


CIRCUIT_OPEN_ERROR = "CircuitOpenError"
"""The ErrorType of an entity refused by an open source circuit (counted as ``circuit_open``)."""


class RunSummary(BaseModel):
    """Totals of a run (or one activity of it) and the first failed entities with their errors.

    ``circuit_open`` counts the entities an open source circuit breaker refused (their only
    failures are ``CircuitOpenError``): not in ``failed``, but the run is not ``ok`` either.
    """

    model_config = FROZEN

    run_id: str
    name: str | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    circuit_open: int = 0
    failed_entities: tuple[str, ...] = ()
    top_failed: tuple[EntityResult, ...] = ()
    circuit_open_entities: tuple[str, ...] = ()
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed, no source circuit refused an entity, nothing is running."""
        return self.failed == 0 and self.running == 0 and self.circuit_open == 0

    @property
    def status(self) -> str:
        """Failed, Running or Succeeded (the Summary row's Status); refusals count as failed."""
        if self.failed or self.circuit_open:
            return "Failed"
        return "Running" if self.running else "Succeeded"

    def line(self) -> str:
        """One line for logs and notebook output."""
        entities = plural(self.total, "entity", "entities")
        head = f"{self.name or 'run'} {self.run_id}: {entities}, {self.succeeded} succeeded, "
        head += f"{self.failed} failed, {self.skipped} skipped"
        if self.circuit_open:
            head += f", {self.circuit_open} refused (source circuit open)"
        if self.running:
            head += f", {self.running} running"
        if self.top_failed:
            head += " — " + "; ".join(
                f"{f.entity}: {f.error_type or 'Error'}" for f in self.top_failed
            )
        return head

    def details(self) -> dict[str, Any]:
        """The Summary row's Details."""
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "running": self.running,
            "circuit_open": self.circuit_open,
            "circuit_open_entities": list(self.circuit_open_entities[:200]),
            "failed_entities": list(self.failed_entities[:200]),
            "top_failed": [f.model_dump(exclude_none=True) for f in self.top_failed],
            **({"note": self.note} if self.note else {}),
        }


def derive_status(
    *,
    failures: int,
    open_activities: int,
    skips: int,
    successes: int,
    warnings: int = 0,
    circuit_open: int = 0,
) -> str:
    """An entity's status from its events; the same rules as ``vw_RunStatus`` in sql/views.sql.

    Failed if any event failed (other than a source circuit's refusal); CircuitOpen if an open
    source circuit refused it (``CircuitOpenError`` events only); Running if an activity started and has not ended; Skipped if it
    was skipped and nothing succeeded; Succeeded if anything ended well; else Warning or Info.

    Example:
        >>> derive_status(failures=0, open_activities=0, skips=0, successes=2)
        'Succeeded'
    """
    if failures:
        return "Failed"
    if circuit_open:
        return "CircuitOpen"
    if open_activities > 0:
        return "Running"
    if skips and not successes:
        return "Skipped"
    if successes:
        return "Succeeded"
    return "Warning" if warnings else "Info"


def _entities_from_events(
    rows: Iterable[Mapping[str, Any]], name: str | None
) -> list[EntityResult]:
    """Group event rows by entity and derive each entity's status (rows in any order)."""
    groups: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["EventTime"], r.get("EventId") or "")):
        key = entity_key(r.get("EntityId"), r.get("SchemaName"), r.get("TableName"))
        op, status = r.get("Operation"), r.get("Status")
        if key is None or op in RUN_LEVEL or name not in (None, r.get("ActivityName")):
            continue
        g = groups.setdefault(
            key,
            dict.fromkeys(
                ("failures", "circuit_open", "starts", "skips", "successes", "warnings"), 0
            ),
        )
        if status == "Failed":
            g["circuit_open" if r.get("ErrorType") == CIRCUIT_OPEN_ERROR else "failures"] += 1
            g["last"] = r
        g["starts"] += (op == "Start") - (op in ("End", "Fail", "Skip"))
        g["skips"] += op == "Skip" or status == "Skipped"
        g["successes"] += op == "End" or (op not in LIFECYCLE and status == "Succeeded")
        g["warnings"] += status == "Warning"
    out: list[EntityResult] = []
    order: list[tuple[int, Any]] = []
    for key, g in groups.items():
        last = g.pop("last", None) or {}
        status = derive_status(open_activities=g.pop("starts"), **g)
        out.append(
            EntityResult(
                entity=key,
                status=status,  # type: ignore[arg-type]
                activity=last.get("ActivityName"),
                error_type=last.get("ErrorType"),
                error_summary=last.get("ErrorSummary"),
            )
        )
        order.append((0, last["EventTime"]) if last else (1, len(order)))
    # failed entities in the order they (last) failed, like vw_RunStatus.FailedAt; then the rest
    return [e for _, e in sorted(zip(order, out, strict=True), key=lambda pair: pair[0])]


def entity_results(results: Any) -> list[EntityResult]:
    """Normalize explicit results to `EntityResult`s.

    Args:
        results: `Outcome`s (``rt.map_tables``), `EntityResult`s, or a mapping entity -> None /
            True / "Succeeded" (succeeded), "Skipped", an exception, error text or False (failed).

    Example:
        >>> [r.status for r in entity_results({"a": None, "b": ValueError("x"), "c": "Skipped"})]
        ['Succeeded', 'Failed', 'Skipped']
    """
    return [_entity_result(entity, r) for entity, r in _result_items(results)]


def _result_items(results: Any) -> Iterable[tuple[str | None, Any]]:
    return results.items() if isinstance(results, Mapping) else ((None, r) for r in results)


def _entity_result(entity: str | None, r: Any) -> EntityResult:
    if isinstance(r, EntityResult):
        return r
    error_type = error = None
    if entity is None and hasattr(r, "item"):  # runtime.Outcome
        entity, error_type, error = str(r.item), r.error_type, r.error
        r = False if error is not None else getattr(r, "value", None)
    elif isinstance(r, BaseException):
        error_type, error, r = type(r).__name__, error_text(r), False
    elif isinstance(r, str) and r.lower() not in ("skipped", "succeeded", "ok"):
        error, r = r, False
    name = str(entity)
    if r is False and error_type == CIRCUIT_OPEN_ERROR:
        return EntityResult(
            entity=name, status="CircuitOpen", error_type=error_type, error_summary=redact(error)
        )
    if r is False:
        return EntityResult(
            entity=name, status="Failed", error_type=error_type, error_summary=redact(error)
        )
    if (isinstance(r, str) and r.lower() == "skipped") or getattr(r, "skipped", False) is True:
        return EntityResult(entity=name, status="Skipped")
    return EntityResult(entity=name, status="Succeeded")
