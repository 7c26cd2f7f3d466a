"""The source circuit breaker's methods of ``rt.runs`` (`SourceMethods`, a base of `RunLedger`).

Kept apart from the facade so that each file reads in one sitting; the work is done by
`SourceBreaker` (``_circuit``).

Example:
    >>> # rt.runs.circuit("crm").status   -> 'closed'
"""

from __future__ import annotations

from typing import Any

from fmd_runtime.runs._circuit import SourceBreaker
from fmd_runtime.runs._circuit_rows import CircuitSettings, CircuitState


class SourceMethods:
    """`RunLedger`'s source circuit breaker methods (``self.breaker`` is its `SourceBreaker`)."""

    breaker: SourceBreaker

    # -- source circuit breaker -----------------------------------------------------------
    def circuit(self, source: str) -> CircuitState:
        """The source's circuit breaker as its events say now (one read).

        Args:
            source: the source system or connection name.

        Returns:
            The `CircuitState`: closed, open, half_open or disabled, with the failures counted,
            when it opened and until when.

        Raises:
            ConfigError: ``source`` is not a source name.

        Example:
            >>> # rt.runs.circuit("crm").state -> 'closed'
        """
        return self.breaker.state(source)

    def check_source(
        self, source: str, *, entity: str | None = None, layer: str | None = None
    ) -> CircuitState:
        """Let an entity of ``source`` run, or refuse it at once because the source is down.

        Closed (or switched off): returns. Open: raises. Half-open (the cooldown is over): the
        first entity to claim the probe (across processes: the first claim committed) runs, the
        others are refused until its outcome (`record_source`, or leaving its activity) closes
        or re-opens the breaker. Costs at most one small read; none while this process knows
        the breaker is open. An unreadable store never refuses: the check is skipped.

        Args:
            source: the source system or connection name.
            entity / layer: what is about to be loaded (named in the refusal's audit row).

        Returns:
            The `CircuitState` that let the entity run.

        Raises:
            CircuitOpenError: the breaker is open (audited ``CircuitOpen``, one event per
                entity; the first refusal of an opening may also send its alert).
            ConfigError: ``source`` is not a source name.

        Example:
            >>> # rt.runs.check_source("crm", entity="account", layer="bronze")
        """
        return self.breaker.check(source, entity=entity, layer=layer)

    def record_source(
        self,
        source: str,
        *,
        error: BaseException | None = None,
        entity: str | None = None,
        layer: str | None = None,
    ) -> CircuitState | None:
        """Record an entity's outcome for its source when no activity names the source.

        ``error`` None is a success: written only when it changes something (failures are
        counted, or it was the probe's). A transient error is a Failure (written at once);
        another error counts for nothing. Activities naming a source and `fail` with
        ``source=`` call this themselves.

        Returns:
            The state after the outcome (None when nothing was recorded).

        Example:
            >>> # rt.runs.record_source("crm", error=exc, entity="account")
        """
        return self.breaker.record(source, error=error, entity=entity, layer=layer)

    def reset_circuit(self, source: str, *, reason: str) -> CircuitState:
        """Close the source's breaker now (the source is fixed); audited ``CircuitReset``.

        Args:
            source: the source.
            reason: why (required; recorded, redacted).

        Returns:
            The state afterwards (closed, no failures counted).

        Raises:
            ConfigError: no reason, or ``source`` is not a source name.

        Example:
            >>> # rt.runs.reset_circuit("crm", reason="CRM back after maintenance (CHG-123)")
        """
        return self.breaker.reset(source, reason)

    def configure_source(self, source: str, **settings: Any) -> CircuitSettings:
        """Set one source's breaker settings (a ``Configured`` event in ``SourceCircuit``; the
        latest counts, read by the processes of a run within a minute).

        Args:
            source: the source.
            **settings: ``enabled`` (False: off for this source), ``failure_threshold`` (1 to
                1,000), ``window_minutes`` (0.001 to 10,080), ``cooldown_minutes`` and
                ``probe_timeout_minutes`` (0 to 10,080). Left out: the stored value stays;
                None: back to RuntimeConfig's ``circuit_*`` default.

        Returns:
            The source's settings now.

        Raises:
            ConfigError: an unknown setting or a value out of bounds (named).

        Example:
            >>> # rt.runs.configure_source("legacy_erp", failure_threshold=3, cooldown_minutes=30)
        """
        return self.breaker.configure(source, **settings)

    def source_settings(self, source: str) -> CircuitSettings:
        """The source's breaker settings (defaults and its latest ``Configured`` event).

        Example:
            >>> # rt.runs.source_settings("crm").failure_threshold
        """
        return self.breaker.settings(source)


__all__ = ["SourceMethods"]
