"""The Runtime facade: wires the config, the engine, the metadata store, the run context and the
capabilities (``rt.audit``, ``rt.checkpoints``, ``rt.rollback`` ...).

Example:
    >>> import tempfile, fmd_runtime as fmd
    >>> rt = fmd.connect(lakehouse=tempfile.mkdtemp(), run_id="demo-run")
    >>> rt.context.run_id
    'demo-run'
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar, cast

from fmd_runtime.alerts import Alerts
from fmd_runtime.audit import Audit
from fmd_runtime.checkpoints import Checkpoints
from fmd_runtime.config import (
    CONFIGURABLE_KEYS,
    RuntimeConfig,
    TableConfig,
    build_runtime_config,
    build_table_config,
    check_number,
    strict_bool,
)
from fmd_runtime.context import Outcome, RunContext
from fmd_runtime.drift import Drift
from fmd_runtime.engine import CommitOptions, DeltaEngine
from fmd_runtime.engine.deltars import DeltaRsEngine
from fmd_runtime.engine.spark import SparkEngine
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.fabric import run_context
from fmd_runtime.health import Health, PreflightReport, run_preflight
from fmd_runtime.maintenance import Maintenance
from fmd_runtime.redaction import redact
from fmd_runtime.rollback import Rollback
from fmd_runtime.runs import RunLedger
from fmd_runtime.store import MetadataStore, utcnow
from fmd_runtime.tables import TableRef, local_table
from fmd_runtime.watermarks import Watermarks

log = logging.getLogger("fmd_runtime")

T = TypeVar("T")
R = TypeVar("R")


class Runtime:
    """One connection: engine + metadata store + run context + capabilities.

    Build it with `connect`. Each capability is a typed property, created on first use and shared
    by everything on this connection (``rt.audit``, ``rt.runs``, ``rt.checkpoints`` ...).

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
        self._capabilities: dict[type[Any], Any] = {}
        self._lock = threading.RLock()
        self._lakehouse_names: tuple[str, ...] | None = None

    def _capability(self, cls: Callable[[Runtime], T]) -> T:
        """The connection's one instance of a capability class, built on first use."""
        with self._lock:  # two threads asking first get the same instance
            found = self._capabilities.get(cls)  # type: ignore[call-overload]
            if found is None:
                found = self._capabilities[cls] = cls(self)  # type: ignore[index]
            return cast(T, found)

    # -- capabilities: each a typed property, created on first use ---------------------------
    @property
    def audit(self) -> Audit:
        """The audit envelope: activities, events, run summaries (`fmd_runtime.audit.Audit`)."""
        audit = self._capability(Audit)
        if audit.source_gate is None:  # activities naming a source ask rt.runs' circuit breaker
            audit.source_gate = self.runs.breaker
        return audit

    @property
    def alerts(self) -> Alerts:
        """Operator alerts with dedup and batching (`fmd_runtime.alerts.Alerts`)."""
        return self._capability(Alerts)

    @property
    def runs(self) -> RunLedger:
        """The run ledger: run guard, exactly-once writes (`fmd_runtime.runs.RunLedger`)."""
        return self._capability(RunLedger)

    @property
    def watermarks(self) -> Watermarks:
        """Watermark governance (`fmd_runtime.watermarks.Watermarks`)."""
        return self._capability(Watermarks)

    @property
    def drift(self) -> Drift:
        """The schema-drift policy per layer (`fmd_runtime.drift.Drift`)."""
        return self._capability(Drift)

    @property
    def checkpoints(self) -> Checkpoints:
        """Named, validated restore points (`fmd_runtime.checkpoints.Checkpoints`)."""
        return self._capability(Checkpoints)

    @property
    def rollback(self) -> Rollback:
        """RESTORE-based rollback to a checkpoint (`fmd_runtime.rollback.Rollback`)."""
        return self._capability(Rollback)

    @property
    def maintenance(self) -> Maintenance:
        """VACUUM / OPTIMIZE that keep checkpoints restorable (`fmd_runtime.maintenance.Maintenance`)."""
        return self._capability(Maintenance)

    @property
    def health(self) -> Health:
        """The daily health report, foreign operations, anomalies (`fmd_runtime.health.Health`)."""
        return self._capability(Health)

    def preflight(
        self, *, tables: str | Sequence[str] | None = None, require_alerts: bool = False
    ) -> PreflightReport:
        """Check, read-only, that the lakehouse is fit for the job about to run (one audit event):
        metadata tables, every enabled ``PipelineConfig`` table (exists, readable, writable),
        placeholder GUIDs, retention, engine versions, alerts (docs/preflight.md).

        Args:
            tables: only these tables (``"bronze.a,bronze.b"`` or a list; None: every enabled).
            require_alerts: a missing alert webhook is HIGH (blocking) instead of INFO.

        Returns:
            The `PreflightReport` (``ok`` False: a CRITICAL/HIGH finding blocks the run).

        Raises:
            ConfigError, InvalidIdentifierError: a bad argument (before any check runs).

        Example:
            >>> # report = rt.preflight(); print(report.to_text()); report.exit_value()
        """
        return run_preflight(self, tables=tables, require_alerts=require_alerts)

    def __repr__(self) -> str:
        return f"Runtime(engine={self.engine.name!r}, metadata_schema={self.config.metadata_schema!r}, run_id={self.context.run_id!r})"

    def commit_options(self, **metadata: str) -> CommitOptions:
        """The metadata of a commit this run makes: ``fmd.runId`` plus ``metadata``.

        Example:
            >>> # rt.engine.set_properties(ref, values, commit=rt.commit_options())
        """
        return CommitOptions(metadata={"fmd.runId": self.context.run_id, **metadata})

    # -- tables ----------------------------------------------------------------------------
    def table(self, name: str | TableRef, *, parameter: str = "table") -> TableRef:
        """Parse a table name of the connected lakehouse with this runtime's default schema.

        ``table`` and ``schema.table`` are accepted; ``lakehouse.schema.table`` only when the
        lakehouse is the connected one (`lakehouse_names`), and the result drops it. A name of
        another lakehouse is refused: acting on it would change the local table of that name.

        Args:
            name: the table name (or a `TableRef`).
            parameter: the caller's parameter name, for the error.

        Raises:
            InvalidIdentifierError: not a name, not plain identifiers, or another lakehouse's.

        Example:
            >>> # rt.table("account").name -> 'dbo.account'
        """
        return local_table(
            name,
            default_schema=self.config.default_schema,
            lakehouses=self.lakehouse_names,
            parameter=parameter,
        )

    @property
    def lakehouse_names(self) -> tuple[str, ...]:
        """Names the connected lakehouse goes by in ``lakehouse.schema.table`` names.

        The embedded engine's root folder name (``sales`` for ``./sales``, ``lh`` for
        ``…/lh.Lakehouse``) and, inside Fabric, the notebook's default lakehouse name when the
        engine works on the default lakehouse (``/lakehouse/default`` or Spark).
        """
        if self._lakehouse_names is not None:
            return self._lakehouse_names
        names: list[str] = []
        root = getattr(self.engine, "root", None)
        if isinstance(root, str) and root.strip("/"):
            base = root.rstrip("/").rsplit("/", 1)[-1]
            names.append(base[: -len(".Lakehouse")] if base.endswith(".Lakehouse") else base)
        if root is None or str(root).rstrip("/") == "/lakehouse/default":
            default = _fabric_context().get("lakehouse_name")
            if isinstance(default, str) and default:
                names.append(default)
        self._lakehouse_names = tuple(n for n in names if n and n != "default")
        return self._lakehouse_names

    def configure_table(self, table: str | TableRef, **settings: Any) -> TableConfig:
        """Create or update the table's ``PipelineConfig`` row (validated; unknown keys rejected).

        Settings not given keep their stored value (or the default for a new row). Table names
        match case-insensitively, as Spark resolves them: ``bronze.ACCOUNT`` updates the row of
        ``bronze.account`` and keeps the spelling first stored (the returned ``table``).

        Args:
            table: ``schema.table``.
            **settings: any of `fmd_runtime.config.CONFIGURABLE_KEYS`, e.g. ``primary_key=["Id"]``,
                ``deleted_flag="IsDeleted"``, ``vacuum_retention_hours=168`` (bounds in
                `TableConfig` and docs/configuration.md).

        Returns:
            The stored configuration with defaults filled in.

        Raises:
            ConfigError: unknown keys or invalid values (named, values not echoed), checked
                before anything is written.
            InvalidIdentifierError: ``table`` is not a table name of the connected lakehouse.

        Example:
            >>> # rt.configure_table("bronze.account", primary_key=["AccountId"], deleted_flag="IsDeleted")
        """
        ref = self.table(table)
        unknown = sorted(set(settings) - set(CONFIGURABLE_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown configuration key(s) {unknown}",
                table=ref.name,
                hint=f"valid keys are {list(CONFIGURABLE_KEYS)}",
            )
        build_table_config({**settings, "table": ref.name})  # refuse bad values before any read
        current = self._config_row(ref)
        name = f"{current['SchemaName']}.{current['TableName']}" if current else ref.name
        # the stored values unvalidated: a row stored before bounds were checked can be fixed
        # by passing the bad field (anything else still stored wrong is named by the error)
        base = TableConfig.values_from_row(current) if current else {}
        base.update(settings)
        base.update(
            table=name,
            updated_date=utcnow(),
            updated_by=self.context.triggered_by or self.context.run_id,
        )
        cfg = build_table_config(base)
        row = cfg.to_row()
        if current:
            where = {"SchemaName": current["SchemaName"], "TableName": current["TableName"]}
            self.store.update(
                "PipelineConfig", where, {k: v for k, v in row.items() if k not in where}
            )
        else:
            self.store.append("PipelineConfig", [row])
        return cfg

    def table_config(self, table: str | TableRef) -> TableConfig:
        """The table's configuration, defaults filled in (a table without a row gets all defaults).

        The name matches case-insensitively; the configuration keeps the stored spelling.

        Raises:
            InvalidIdentifierError: ``table`` is not a table name of the connected lakehouse.
        Example:
            >>> # rt.table_config("bronze.account").primary_key
        """
        ref = self.table(table)
        row = self._config_row(ref)
        return TableConfig.from_row(row) if row else build_table_config({"table": ref.name})

    def table_configs(self, *, enabled_only: bool = True) -> list[TableConfig]:
        """Every configured table (enabled ones by default), sorted by name; rows whose names
        differ only in case (older rows) count once, the last one read."""
        enabled_only = strict_bool(enabled_only, "enabled_only")
        configs: dict[str, TableConfig] = {}
        for r in self.store.read("PipelineConfig"):
            cfg = TableConfig.from_row(r)
            configs[cfg.table.lower()] = cfg
        return sorted(
            (c for c in configs.values() if c.enabled or not enabled_only), key=lambda c: c.table
        )

    def _config_row(self, ref: TableRef) -> dict[str, Any] | None:
        """The table's PipelineConfig row, matched case-insensitively (Spark's table identity).

        The row with the exact spelling wins; rows that differ only in case are one table, and
        more than one such spelling without an exact match is refused (which one is meant?).
        """
        key = (ref.schema_name.lower(), ref.table.lower())
        rows = [
            r
            for r in self.store.read("PipelineConfig")  # a small table: one read, matched here
            if (str(r["SchemaName"]).lower(), str(r["TableName"]).lower()) == key
        ]
        spelled = (ref.schema_name, ref.table)
        exact = [r for r in rows if (r["SchemaName"], r["TableName"]) == spelled]
        if exact or not rows:
            return exact[-1] if exact else None
        spellings = sorted({f"{r['SchemaName']}.{r['TableName']}" for r in rows})
        if len(spellings) > 1:
            raise ConfigError(
                f"PipelineConfig has {len(spellings)} rows for what Spark sees as one table: "
                f"{spellings}",
                table=ref.name,
                hint="name the table with one of these exact spellings, and disable or remove "
                "the others (rt.configure_table(<name>, enabled=False))",
            )
        return rows[-1]

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

        Raises:
            ConfigError: an argument of the wrong type (checked before any work starts), or
                ``max_workers`` outside 1 to 64.

        Example:
            >>> # outcomes = rt.map_tables(restore_one, plans, label="Restoring table")
        """
        for parameter, value in (("fn", fn), ("key", key), ("progress", progress)):
            if not callable(value) and not (parameter == "progress" and value is None):
                raise ConfigError(
                    f"parameter {parameter!r} must be callable, got {type(value).__name__}",
                    hint=f"pass a function as {parameter}=",
                )
        if isinstance(items, str | bytes) or not isinstance(items, Sequence):
            raise ConfigError(
                f"parameter 'items' must be a list or tuple, got {type(items).__name__}",
                hint="pass a list of the items (tables, plans ...)",
            )
        if not isinstance(label, str):
            raise ConfigError(
                f"parameter 'label' must be text, got {type(label).__name__}",
                hint='pass label="Processing table"',
            )
        if max_workers is not None:
            max_workers = check_number(
                max_workers, "max_workers", minimum=1, maximum=64, integer=True
            )
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
        audit = self._capabilities.get(Audit)
        if audit is not None:  # never built: nothing buffered
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
    create: bool = False,
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
        config: full `RuntimeConfig`, or a dict of its settings (``metadata_schema``
            overrides its field). Settings are validated before anything is created: a bad one
            raises `ConfigError` naming the field, the value and its bounds (never pydantic's
            ValidationError); see docs/configuration.md.
        run_id: this run's id (generated when omitted).
        pipeline_run_id: ``@pipeline().RunId`` passed by the pipeline.
        parent_run_id: parent run (defaults to ``pipeline_run_id``).
        pipeline_name, notebook_name, workspace_id, triggered_by: run context; taken from the
            Fabric runtime context when not given.
        storage_options: delta-rs object-store options (never logged).
        ensure: create/upgrade the metadata tables now.
        create: create the local ``lakehouse`` folder (and its parents) when it does not exist.
            Off by default, so a mistyped path is refused instead of silently becoming a new,
            empty lakehouse. Object-store URLs (``abfss://…``) are never checked or created.

    Raises:
        ConfigError: no engine can be chosen, the ``lakehouse`` path is empty, names a file, or
            names a local folder that does not exist (without ``create=True``), or the settings
            are invalid.

    Example:
        >>> # rt = fmd.connect(lakehouse="./lakehouse", pipeline_run_id="…", triggered_by="scheduler")
        >>> # rt = fmd.connect(lakehouse="./new-lakehouse", create=True)  # explicit set-up
    """
    # Settings first: a bad value is refused before anything (a folder, a table) is created.
    cfg = _connect_config(config, metadata_schema)
    _check_texts(
        run_id=run_id,
        pipeline_run_id=pipeline_run_id,
        parent_run_id=parent_run_id,
        pipeline_name=pipeline_name,
        notebook_name=notebook_name,
        workspace_id=workspace_id,
        triggered_by=triggered_by,
    )
    ensure = strict_bool(ensure, "ensure")
    if lakehouse is not None:
        # the folder only matters when the embedded engine is built on it (not with spark=/engine=)
        lakehouse = _checked_lakehouse(
            lakehouse,
            create=create,
            local=engine is None and spark is None and not storage_options,
        )
    else:
        strict_bool(create, "create")
    if engine is None:
        if spark is not None:
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


def _checked_lakehouse(lakehouse: Any, *, create: Any, local: bool) -> str | Path:
    """Refuse a lakehouse path that cannot be meant, before anything is written.

    An empty path would put tables at ``/Tables/...`` (the filesystem root); a local folder that
    does not exist is almost always a typo, so it is created only when the caller asks to.
    """
    make = strict_bool(create, "create")
    if not isinstance(lakehouse, str | Path):
        raise ConfigError(
            f"parameter 'lakehouse' must be a folder path or URL, got {type(lakehouse).__name__}",
            hint="pass a string or pathlib.Path, e.g. connect(lakehouse='./lakehouse')",
        )
    text = str(lakehouse)
    if isinstance(lakehouse, str) and not text.strip():
        raise ConfigError(
            f"parameter 'lakehouse' is empty ({text!r}): it would put the tables at /Tables",
            hint="pass the lakehouse folder, e.g. connect(lakehouse='./lakehouse'), "
            "or leave it out inside Fabric (/lakehouse/default)",
        )
    if "://" in text or not local:
        return lakehouse  # object store (or another engine): no local folder to check
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"parameter 'lakehouse' names a file, not a folder: {text!r}",
            hint="pass the lakehouse folder (the one that holds Tables/)",
        )
    if not path.exists():
        if not make:
            raise ConfigError(
                f"parameter 'lakehouse': the folder {text!r} does not exist",
                hint="check the path; to set up a new lakehouse there, call "
                f"connect(lakehouse={text!r}, create=True) or run `fmd store ensure --lakehouse {text}`",
            )
        path.mkdir(parents=True, exist_ok=True)
    return lakehouse


def _connect_config(config: Any, metadata_schema: Any) -> RuntimeConfig:
    """connect()'s settings: ``config`` (a RuntimeConfig, a dict or None) with
    ``metadata_schema`` applied, validated as one (`ConfigError`, never a ValidationError)."""
    if config is not None and not isinstance(config, RuntimeConfig | dict):
        raise ConfigError(
            f"parameter 'config' must be a RuntimeConfig or a dict, got {type(config).__name__}",
            hint="pass config=fmd.RuntimeConfig(max_workers=4) or config={'max_workers': 4}",
        )
    if metadata_schema is None or metadata_schema == "":
        return build_runtime_config(config)
    values = config.model_dump() if isinstance(config, RuntimeConfig) else dict(config or {})
    return build_runtime_config(values | {"metadata_schema": metadata_schema})


def _check_texts(**values: Any) -> None:
    """Run-context parameters are text (or None): refuse anything else, naming the parameter."""
    for parameter, value in values.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"parameter {parameter!r} must be text, got {type(value).__name__}",
                hint=f"pass {parameter}='...' (e.g. str(value)), or leave it out",
            )


def _fabric_context() -> dict[str, Any]:
    try:
        return run_context().model_dump()
    except Exception:  # the run context is best effort; never block connecting
        return {}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers): the run says so
        return None


__all__ = ["Outcome", "RunContext", "Runtime", "connect"]
