"""Who and what is running (`RunContext`, stamped on every audit event) and the outcome of one
item of a fan-out (`Outcome`, from `Runtime.map_tables`).

Example:
    >>> RunContext(run_id="r1").run_id
    'r1'
    >>> Outcome(item="bronze.account", error="boom").ok
    False
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

R = TypeVar("R")


class Outcome(BaseModel, Generic[R]):
    """The result of one item of a fan-out: its value, or the error that stopped it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    item: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        """True when the item succeeded."""
        return self.error is None


class RunContext(BaseModel):
    """Who and what is running: stamped on every audit event.

    Attributes:
        run_id: this run (given, or a generated UUID).
        pipeline_run_id: ``@pipeline().RunId`` passed by the pipeline as a parameter.
        parent_run_id: the parent run (defaults to the pipeline run id).
        pipeline_name / notebook_name / workspace_id: where it runs.
        triggered_by: user, schedule or pipeline.
        is_pipeline_run: True when Fabric reports the notebook runs from a pipeline.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    pipeline_run_id: str | None = None
    parent_run_id: str | None = None
    pipeline_name: str | None = None
    notebook_name: str | None = None
    workspace_id: str | None = None
    triggered_by: str | None = None
    is_pipeline_run: bool = False


__all__ = ["Outcome", "RunContext"]
