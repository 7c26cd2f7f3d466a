"""A fault-injecting wrapper around a real `DeltaEngine` (delta-rs or Spark).

Every call goes to the real engine; the faults you arm change what one operation does for the
tables you name: raise before it runs, raise after it committed (a driver lost right after the
data commit), or (RESTORE only) commit a version that changes no data file, the shape of the
delta-rs deletion-vector bug. Hooks (`FaultyEngine.on`) run your code right before or after an
operation without failing it: a rival writer committing first, a load stalled until released, a
read followed by someone else's commit. Nothing about the engine is mocked: the tables are real.

Example:
    >>> from fmd_runtime.testing import FaultyEngine  # doctest: +SKIP
    >>> engine = FaultyEngine(DeltaRsEngine(root))  # doctest: +SKIP
    >>> engine.fail("restore", tables={"bronze.account"})  # doctest: +SKIP
    >>> rt = fmd.connect(engine=engine)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from fmd_runtime.engine import DeltaEngine, RestoreResult
from fmd_runtime.errors import ConfigError, EngineError
from fmd_runtime.tables import TableRef

When = Literal["before", "after", "silent"]
_PORT_METHODS = frozenset(
    {
        "exists", "location", "create", "add_columns", "version", "snapshot", "history", "count_rows",
        "files", "missing_files", "read", "sql", "write", "merge", "update", "restore", "vacuum",
        "optimize", "properties", "set_properties", "create_log_checkpoint",
        "transaction_version", "frame_columns", "frame_max", "align_frame",
    }
)  # fmt: skip


class InjectedFault(EngineError):
    """The error a `FaultyEngine` raises by default (an engine failure, not transient)."""


class ProcessKilled(BaseException):
    """A crash: raise it from a `FaultyEngine` fault (``error=ProcessKilled()``) to stop a
    notebook dead at that step (no ``except Exception`` handler runs), then call `kill` on its
    runtime so that what it buffered is lost, as when Fabric kills the process."""


def kill(runtime: Any) -> dict[str, int]:
    """Lose everything ``runtime`` buffered and never wrote (audit events, held ledger rows),
    as a killed process does; return the rows dropped per metadata table. Use the runtime no
    more afterwards.

    Example:
        >>> # engine.fail("write", tables={"bronze.account"}, when="after", error=ProcessKilled())
        >>> # with pytest.raises(ProcessKilled): load(rt); kill(rt)   # then re-run the batch
    """
    dropped: dict[str, int] = runtime.store.discard()
    return dropped


Hook = Callable[[TableRef | None, tuple[Any, ...], dict[str, Any]], Any]
"""A hook: called with the operation's table (None when it has none), args and keyword args."""


@dataclass
class _Fault:
    method: str
    tables: frozenset[str] | None
    when: When
    error: Callable[[TableRef | None], BaseException]
    times: int | None
    match: Callable[[TableRef | None, tuple[Any, ...], dict[str, Any]], bool] | None = None
    fired: int = field(default=0)
    hook: Hook | None = None  # a hook runs and lets the operation go on; a fault raises

    def applies(self, table: TableRef | None, args: tuple[Any, ...], kw: dict[str, Any]) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.tables is not None:
            names = {table.name.lower(), table.table.lower()} if table else set()
            if not names & self.tables:
                return False
        return self.match is None or self.match(table, args, kw)


class FaultyEngine:
    """Wrap a real engine; arm faults per operation and table.

    Args:
        inner: the real engine (`DeltaRsEngine`, `SparkEngine`).

    Attributes:
        inner: the wrapped engine.
        calls: how often each port method was called (for assertions).

    Example:
        >>> engine = FaultyEngine(inner)  # doctest: +SKIP
        >>> engine.fail("write", tables={"CheckpointHistory"}, times=2)  # doctest: +SKIP
    """

    def __init__(self, inner: DeltaEngine) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def fail(
        self,
        method: str,
        *,
        tables: Iterable[str] | None = None,
        when: When = "before",
        error: BaseException | Callable[[TableRef | None], BaseException] | None = None,
        times: int | None = None,
        match: Callable[[TableRef | None, tuple[Any, ...], dict[str, Any]], bool] | None = None,
    ) -> FaultyEngine:
        """Arm a fault.

        Args:
            method: the port method (``write``, ``restore``, ``vacuum`` ...).
            tables: table names (``schema.table`` or the bare table) it applies to; all if None.
            when: ``before`` (raise instead of running), ``after`` (run, then raise: the commit
                landed), ``silent`` (RESTORE only: commit a version that changes no data file).
            error: the exception (or a factory taking the table) to raise; default
                `InjectedFault`.
            times: fire at most this many times (default: every time).
            match: a further predicate on ``(table, args, kwargs)``, e.g. only real VACUUMs.

        Returns:
            self, to chain.

        Raises:
            ConfigError: an unknown method, or ``silent`` on anything but ``restore``.
        """
        if method not in _PORT_METHODS:
            raise ConfigError(
                f"FaultyEngine.fail: {method!r} is not a DeltaEngine method",
                hint=f"use one of {sorted(_PORT_METHODS)}",
            )
        if when == "silent" and method != "restore":
            raise ConfigError("FaultyEngine.fail: when='silent' is for restore only")
        factory: Callable[[TableRef | None], BaseException]
        if error is None:

            def factory(t: TableRef | None) -> BaseException:
                return InjectedFault(
                    f"{method} failed: injected fault", table=t.name if t else None
                )

        elif isinstance(error, BaseException):
            given = error

            def factory(t: TableRef | None) -> BaseException:
                return given

        else:
            factory = error
        names = frozenset(n.lower() for n in tables) if tables is not None else None
        with self._lock:
            self._faults.append(_Fault(method, names, when, factory, times, match))
        return self

    def on(
        self,
        method: str,
        hook: Hook,
        *,
        tables: Iterable[str] | None = None,
        when: Literal["before", "after"] = "before",
        times: int | None = None,
        match: Callable[[TableRef | None, tuple[Any, ...], dict[str, Any]], bool] | None = None,
    ) -> FaultyEngine:
        """Run ``hook(table, args, kwargs)`` right before (or after) an operation, which then
        goes on (or returns) as usual; an exception the hook raises propagates like a fault.

        Args:
            method: the port method (``write``, ``snapshot`` ...).
            hook: what to run; it may call ``engine.inner`` (the real engine) itself.
            tables: table names it applies to (all if None), as in `fail`.
            when: ``before`` the operation runs, or ``after`` it returned.
            times: run at most this many times (default: every time).
            match: a further predicate on ``(table, args, kwargs)``.

        Returns:
            self, to chain.

        Raises:
            ConfigError: an unknown method, or ``when`` other than before/after.

        Example:
            >>> held = threading.Event()  # doctest: +SKIP
            >>> engine.on("write", lambda t, a, kw: held.wait(60), tables={"bronze.contact"})  # doctest: +SKIP
        """
        if method not in _PORT_METHODS:
            raise ConfigError(
                f"FaultyEngine.on: {method!r} is not a DeltaEngine method",
                hint=f"use one of {sorted(_PORT_METHODS)}",
            )
        if when not in ("before", "after"):
            raise ConfigError(f"FaultyEngine.on: when must be 'before' or 'after', got {when!r}")

        def never(t: TableRef | None) -> BaseException:  # a hook has no error of its own
            raise AssertionError("unreachable")

        names = frozenset(n.lower() for n in tables) if tables is not None else None
        with self._lock:
            self._faults.append(_Fault(method, names, when, never, times, match, hook=hook))
        return self

    def clear(self) -> None:
        """Disarm every fault and hook."""
        with self._lock:
            self._faults.clear()

    def _armed(self, method: str, table: TableRef | None, args: Any, kw: Any) -> list[_Fault]:
        """The hooks that apply to this call, then the first fault that does (each counted)."""
        found: list[_Fault] = []
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            for fault in self._faults:
                if fault.method != method or not fault.applies(table, args, kw):
                    continue
                if fault.hook is None and any(f.hook is None for f in found):
                    continue  # one fault per call: the first armed
                fault.fired += 1
                found.append(fault)
        return found

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in _PORT_METHODS:
            return target

        def call(*args: Any, **kw: Any) -> Any:
            found = args[0] if args else kw.get("table")
            table = found if isinstance(found, TableRef) else None
            armed = self._armed(name, table, args, kw)
            for hook in (f.hook for f in armed if f.hook is not None and f.when == "before"):
                hook(table, args, kw)
            fault = next((f for f in armed if f.hook is None), None)
            if fault is not None and fault.when == "before":
                raise fault.error(table)
            if fault is not None and fault.when == "silent" and table is not None:
                version = args[1] if len(args) > 1 else kw["version"]
                return self._silent_restore(table, version)
            result = target(*args, **kw)
            for hook in (f.hook for f in armed if f.hook is not None and f.when == "after"):
                hook(table, args, kw)
            if fault is not None:
                raise fault.error(table)
            return result

        return call

    def _silent_restore(self, table: TableRef, version: int) -> RestoreResult:
        before = self.inner.version(table)
        self.inner.set_properties(table, {"fmd.test.noopRestore": str(before + 1)})
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=self.inner.version(table),
            metrics={},
        )

    def __repr__(self) -> str:
        return f"FaultyEngine({self.inner!r}, faults={len(self._faults)})"


__all__ = ["FaultyEngine", "Hook", "InjectedFault"]
