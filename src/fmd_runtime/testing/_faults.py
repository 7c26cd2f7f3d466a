"""A fault-injecting wrapper around a real `DeltaEngine` (delta-rs or Spark).

Every call goes to the real engine; the faults you arm change what one operation does for the
tables you name: raise before it runs, raise after it committed (a driver lost right after the
data commit), or (RESTORE only) commit a version that changes no data file, the shape of the
delta-rs deletion-vector bug. Nothing about the engine is mocked: the tables are real.

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
        "files", "missing_files", "read", "sql", "write", "update", "restore", "vacuum",
        "optimize", "properties", "set_properties", "create_log_checkpoint",
        "transaction_version", "frame_columns", "frame_max", "align_frame",
    }
)  # fmt: skip


class InjectedFault(EngineError):
    """The error a `FaultyEngine` raises by default (an engine failure, not transient)."""


@dataclass
class _Fault:
    method: str
    tables: frozenset[str] | None
    when: When
    error: Callable[[TableRef | None], BaseException]
    times: int | None
    match: Callable[[TableRef | None, tuple[Any, ...], dict[str, Any]], bool] | None = None
    fired: int = field(default=0)

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

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def _fault(self, method: str, table: TableRef | None, args: Any, kw: Any) -> _Fault | None:
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            for fault in self._faults:
                if fault.method == method and fault.applies(table, args, kw):
                    fault.fired += 1
                    return fault
        return None

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in _PORT_METHODS:
            return target

        def call(*args: Any, **kw: Any) -> Any:
            found = args[0] if args else kw.get("table")
            table = found if isinstance(found, TableRef) else None
            fault = self._fault(name, table, args, kw)
            if fault is None:
                return target(*args, **kw)
            if fault.when == "before":
                raise fault.error(table)
            if fault.when == "silent" and table is not None:
                version = args[1] if len(args) > 1 else kw["version"]
                return self._silent_restore(table, version)
            result = target(*args, **kw)
            raise fault.error(table)
            return result  # pragma: no cover

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


__all__ = ["FaultyEngine", "InjectedFault"]
