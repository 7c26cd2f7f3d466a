"""The Runtime facade: wires the config, the engine, the metadata store, the run context and the
capabilities (``rt.audit``, ``rt.checkpoints``, ``rt.rollback`` ...).

Example:
    >>> import tempfile, fmd_runtime as fmd
    >>> rt = fmd.connect(lakehouse=tempfile.mkdtemp(), run_id="demo-run")
    >>> rt.context.run_id
    'demo-run'
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from fmd_runtime.config import (
    CONFIGURABLE_KEYS,
    RuntimeConfig,
    TableConfig,
    build_table_config,
)
from fmd_runtime.engine import CommitOptions, DeltaEngine
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.store import MetadataStore, utcnow
from fmd_runtime.tables import TableRef

log = logging.getLogger("fmd_runtime")

T = TypeVar("T")
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


# Capability attributes and where they live; each class takes the Runtime as its only argument.
_CAPABILITIES: dict[str, tuple[str, str]] = {
    "audit": ("fmd_runtime.audit", "Audit"),
    "alerts": ("fmd_runtime.alerts", "Alerts"),
    "checkpoints": ("fmd_runtime.checkpoints", "Checkpoints"),
    "rollback": ("fmd_runtime.rollback", "Rollback"),
    "maintenance": ("fmd_runtime.maintenance", "Maintenance"),
    "watermarks": ("fmd_runtime.watermarks", "Watermarks"),
    "runs": ("fmd_runtime.runs", "RunLedger"),
    "drift": ("fmd_runtime.drift", "Drift"),
}


class Runtime:
    """One connection: engine + metadata store + run context + capabilities.

    Build it with `connect`. Capabilities are created on first use (``rt.checkpoints``...).

    Attributes:
        engine: the `DeltaEngine` adapter.
        store: the `MetadataStore`.
        config: the `RuntimeConfig`.
        context: the `RunContext`.
    """

    def __init__(self, engine: DeltaEngine, config: RuntimeConfig, context: RunContext) -> None:
        self.engine = engine
        self.config = config
        self.context = context
        self.store = MetadataStore(
            engine,
            config.metadata_schema,
            buffer_rows=config.audit_buffer_rows,
            run_id=context.run_id,
        )
        self._capabilities: dict[str, Any] = {}
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in _CAPABILITIES:
            raise AttributeError(name)
        with self._lock:
            if name not in self._capabilities:
                module, cls = _CAPABILITIES[name]
                self._capabilities[name] = getattr(importlib.import_module(module), cls)(self)
            return self._capabilities[name]

    def __repr__(self) -> str:
        return f"Runtime(engine={self.engine.name!r}, metadata_schema={self.config.metadata_schema!r}, run_id={self.context.run_id!r})"

    def commit_options(self, **metadata: str) -> CommitOptions:
        """The metadata of a commit this run makes: ``fmd.runId`` plus ``metadata``.

        Example:
            >>> # rt.engine.set_properties(ref, values, commit=rt.commit_options())
        """
        return CommitOptions(metadata={"fmd.runId": self.context.run_id, **metadata})

    # -- tables ----------------------------------------------------------------------------
    def table(self, name: str | TableRef) -> TableRef:
        """Parse a table name with this runtime's default schema."""
        return TableRef.parse(name, default_schema=self.config.default_schema)

    def configure_table(self, table: str | TableRef, **settings: Any) -> TableConfig:
        """Create or update the table's ``PipelineConfig`` row (validated; unknown keys rejected).

        Settings not given keep their stored value (or the default for a new row).

        Args:
            table: ``schema.table``.
            **settings: any of `fmd_runtime.config.CONFIGURABLE_KEYS`, e.g. ``primary_key=["Id"]``,
                ``deleted_flag="IsDeleted"``, ``vacuum_retention_hours=168``.

        Returns:
            The stored configuration with defaults filled in.

        Raises:
            ConfigError: unknown keys or invalid values (named, values not echoed).

        Example:
            >>> # rt.configure_table("bronze.account", primary_key=["AccountId"], deleted_flag="IsDeleted")
        """
        unknown = sorted(set(settings) - set(CONFIGURABLE_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown configuration key(s) {unknown}",
                table=str(table),
                hint=f"valid keys are {list(CONFIGURABLE_KEYS)}",
            )
        ref = self.table(table)
        current = self._config_row(ref)
        base = TableConfig.from_row(current).model_dump() if current else {}
        base.update(settings)
        base.update(
            table=ref.name,
            updated_date=utcnow(),
            updated_by=self.context.triggered_by or self.context.run_id,
        )
        cfg = build_table_config(base)
        row = cfg.to_row()
        if current:
            where = {"SchemaName": ref.schema_name, "TableName": ref.table}
            self.store.update(
                "PipelineConfig", where, {k: v for k, v in row.items() if k not in where}
            )
        else:
            self.store.append("PipelineConfig", [row])
        return cfg

    def table_config(self, table: str | TableRef) -> TableConfig:
        """The table's configuration, defaults filled in (a table without a row gets all defaults)."""
        ref = self.table(table)
        row = self._config_row(ref)
        return TableConfig.from_row(row) if row else build_table_config({"table": ref.name})

    def table_configs(self, *, enabled_only: bool = True) -> list[TableConfig]:
        """Every configured table (enabled ones by default), sorted by name."""
        rows = self.store.read("PipelineConfig")
        configs = [TableConfig.from_row(r) for r in rows]
        return sorted((c for c in configs if c.enabled or not enabled_only), key=lambda c: c.table)

    def _config_row(self, ref: TableRef) -> dict[str, Any] | None:
        rows = self.store.read(
            "PipelineConfig", {"SchemaName": ref.schema_name, "TableName": ref.table}
        )
        return rows[-1] if rows else None

    def map_tables(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "Processing",
        max_workers: int | None = None,
        progress: Callable[[str], None] | None = None,
        key: Callable[[T], str] = str,
    ) -> list[Outcome[R]]:
        """Run ``fn`` over ``items`` with a bounded thread pool; one failure never stops the rest.

        Progress lines ("Restoring table 7 of 50: bronze.account") go to ``progress`` (default:
        the ``fmd_runtime`` logger). Results come back in the order of ``items``.

        Args:
            fn: the per-item work.
            items: the items (tables, plans ...).
            label: verb for progress lines.
            max_workers: pool size (default ``config.max_workers``).
            progress: callback for progress lines.
            key: how an item is named in outcomes and progress.

        Returns:
            One `Outcome` per item: ``value`` or ``error`` (message) and ``error_type``.

        Example:
            >>> # outcomes = rt.map_tables(restore_one, plans, label="Restoring table")
        """
        say = progress or log.info
        total = len(items)
        results: dict[int, Outcome[R]] = {}
        done = 0
        lock = threading.Lock()

        def run(index: int, item: T) -> Outcome[R]:
            name = key(item)
            try:
                return Outcome(item=name, value=fn(item))
            except Exception as exc:  # per-item failures degrade gracefully by design
                message = str(exc) if isinstance(exc, FmdError) else f"{type(exc).__name__}: {exc}"
                from fmd_runtime.audit import redact

                return Outcome(item=name, error=redact(message), error_type=type(exc).__name__)

        workers = max(1, min(max_workers or self.config.max_workers, total or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fmd") as pool:
            futures = {pool.submit(run, i, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                with lock:
                    done += 1
                    say(
                        f"{label} {done} of {total}: {results[i].item}{'' if results[i].ok else ' (failed)'}"
                    )
        return [results[i] for i in range(total)]

    def close(self) -> None:
        """Flush buffered metadata (audit events...) ; safe to call twice."""
        audit = self._capabilities.get("audit")
        if audit is not None:
            audit.flush()
        self.store.flush()


def connect(
    lakehouse: str | Path | None = None,
    *,
    spark: Any = None,
    engine: DeltaEngine | None = None,
    metadata_schema: str | None = None,
    config: RuntimeConfig | None = None,
    run_id: str | None = None,
    pipeline_run_id: str | None = None,
    parent_run_id: str | None = None,
    pipeline_name: str | None = None,
    notebook_name: str | None = None,
    workspace_id: str | None = None,
    triggered_by: str | None = None,
    storage_options: dict[str, str] | None = None,
    ensure: bool = True,
) -> Runtime:
    """Connect to a lakehouse and return the `Runtime`.

    Engine choice: ``spark=`` uses the Spark adapter (Fabric Spark notebooks); otherwise delta-rs
    on ``lakehouse`` (a folder, ``/lakehouse/default`` in a Fabric Python notebook, or an abfss
    URL with ``storage_options``). With neither, ``/lakehouse/default`` is used when it exists.

    Args:
        lakehouse: lakehouse root for the embedded engine.
        spark: a SparkSession (Delta-enabled) for the Spark engine.
        engine: an engine instance (tests, custom adapters).
        metadata_schema: schema of the metadata tables (default ``metadata``).
        config: full `RuntimeConfig` (``metadata_schema`` overrides its field).
        run_id: this run's id (generated when omitted).
        pipeline_run_id: ``@pipeline().RunId`` passed by the pipeline.
        parent_run_id: parent run (defaults to ``pipeline_run_id``).
        pipeline_name, notebook_name, workspace_id, triggered_by: run context; taken from the
            Fabric runtime context when not given.
        storage_options: delta-rs object-store options (never logged).
        ensure: create/upgrade the metadata tables now.

    Raises:
        ConfigError: no engine can be chosen, or the settings are invalid.

    Example:
        >>> # rt = fmd.connect(lakehouse="./lakehouse", pipeline_run_id="…", triggered_by="scheduler")
    """
    cfg = config or RuntimeConfig()
    if metadata_schema:
        cfg = cfg.model_copy(
            update={
                "metadata_schema": RuntimeConfig(metadata_schema=metadata_schema).metadata_schema
            }
        )
    if engine is None:
        if spark is not None:
            from fmd_runtime.engine.spark import SparkEngine

            engine = SparkEngine(spark)
        else:
            root = lakehouse
            if root is None and os.path.isdir("/lakehouse/default"):
                root = "/lakehouse/default"
            if root is None:
                raise ConfigError(
                    "no lakehouse and no Spark session given",
                    hint="call connect(lakehouse='./lakehouse') or connect(spark=spark)",
                )
            from fmd_runtime.engine.deltars import DeltaRsEngine

            engine = DeltaRsEngine(root, storage_options=storage_options)
    fabric_ctx = _fabric_context()
    context = RunContext(
        run_id=run_id or str(uuid.uuid4()),
        pipeline_run_id=pipeline_run_id or None,
        parent_run_id=parent_run_id or pipeline_run_id or None,
        pipeline_name=pipeline_name or None,
        notebook_name=notebook_name or fabric_ctx.get("notebook_name"),
        workspace_id=workspace_id or fabric_ctx.get("workspace_id"),
        triggered_by=triggered_by or os.environ.get("FMD_TRIGGERED_BY") or _user(),
        is_pipeline_run=bool(fabric_ctx.get("is_pipeline_run")),
    )
    rt = Runtime(engine, cfg, context)
    if ensure:
        rt.store.ensure()
    return rt


def _fabric_context() -> dict[str, Any]:
    try:
        from fmd_runtime.fabric import run_context

        return run_context().model_dump()
    except Exception:  # the run context is best effort; never block connecting
        return {}


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return None


__all__ = ["Outcome", "RunContext", "Runtime", "connect"]
