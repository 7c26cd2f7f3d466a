"""Exactly-once merges (`RunLedger.merge`): the keyed MERGE, under the run ledger and the breaker.

The table's key and tracking columns come from its PipelineConfig row (``rt.configure_table``);
the data is aligned to the table's types; the merge runs as one exactly-once attempt
(`fmd_runtime.runs._write.run_attempt`: the same identity, ledger rows and ``fmd.*`` commit
metadata as `RunLedger.write`, so a retry is a no-op and watermark recovery finds it), and the
engine shows its counts to the circuit breaker (``_breaker``) before committing.

Example:
    >>> check_keys(["AccountId"], TableConfig(table="silver.account"), "silver.account")
    ('AccountId',)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from fmd_runtime.config import TableConfig
from fmd_runtime.engine import Column, CommitOptions, MergeCounts, MergeMode, MergeSpec
from fmd_runtime.errors import ConfigError, ContractViolation
from fmd_runtime.runs._breaker import make_check
from fmd_runtime.runs._ledger import check_optional_text, check_target
from fmd_runtime.runs._models import BreakerCheck, MergeResult
from fmd_runtime.runs._write import Applied, check_watermark, run_attempt
from fmd_runtime.tables import TableRef, validate_identifier

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

MAX_REASON = 1_000
"""Longest override reason accepted, in characters."""


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(validate_identifier(str(v).strip(), what=what) for v in items if str(v).strip())


def check_keys(keys: Any, cfg: TableConfig, table: str) -> tuple[str, ...]:
    """The merge key: the one given, else PipelineConfig's ``PrimaryKey``; they must agree.

    Raises:
        ConfigError: no key anywhere, or a key given that differs from the configured one.
    """
    given = _names(keys, "merge key column")
    configured = tuple(cfg.primary_key)
    if given and configured and [k.lower() for k in given] != [k.lower() for k in configured]:
        raise ConfigError(
            f"keys={list(given)} differ from the configured primary key {list(configured)}",
            table=table,
            hint="drop keys= to use the configured key, or fix it with "
            "rt.configure_table(table, primary_key=[...])",
        )
    found = given or configured
    if not found:
        raise ConfigError(
            "a merge needs a key and none is given or configured",
            table=table,
            hint="pass keys=['Id'] or set it once: rt.configure_table(table, primary_key=['Id'])",
        )
    return found


def check_reason(reason: Any) -> str | None:
    """None, or the override reason: non-empty text of at most `MAX_REASON` characters."""
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ContractViolation(
            f"override_reason {reason!r:.60} is not valid",
            hint=f"give the reason for the override as text (1 to {MAX_REASON} characters), "
            "e.g. override_reason='source system archived 2019 accounts (CHG-1234)'",
        )
    return reason.strip()


def build_spec(
    keys: tuple[str, ...], mode: Any, compare: Any, cfg: TableConfig, table: str
) -> MergeSpec:
    """The `MergeSpec` of a merge: mode checked, tracking columns from the configuration.

    Raises:
        ConfigError: an unknown mode, or a snapshot of a table without a deleted flag.
    """
    if mode not in get_args(MergeMode):
        raise ConfigError(
            f"merge mode {mode!r} is not valid",
            table=table,
            hint="use mode='upsert' (insert and update) or mode='snapshot' (the data is the "
            "whole source: missing keys are soft-deleted)",
        )
    compared = _names(compare, "compared column") or tuple(cfg.compare_columns)
    try:
        return MergeSpec(
            keys=keys,
            mode=mode,
            compare=compared,
            deleted_flag=cfg.deleted_flag,
            purged_flag=cfg.purged_flag,
        )
    except ValidationError as exc:
        problem = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(
            f"the merge cannot run: {problem}",
            table=table,
            hint="set the tracking columns with rt.configure_table(table, "
            "deleted_flag='IsDeleted', purged_flag='IsPurged')",
        ) from None


def prepare_target(rt: Runtime, ref: TableRef, data: Any, spec: MergeSpec) -> Any:
    """The data aligned to the table's types; a missing table is created from the data's
    columns plus the tracking columns (boolean)."""
    incoming = rt.engine.frame_columns(data)
    if not rt.engine.exists(ref):
        names = {c.name.lower() for c in incoming}
        columns = [*incoming]
        columns += [Column(name=f, type="boolean") for f in spec.tracking if f.lower() not in names]
        metadata = {"fmd.runId": rt.context.run_id, "fmd.operation": "merge: create table"}
        rt.engine.create(ref, columns, commit=CommitOptions(metadata=metadata))
        return data
    target = {c.name.lower(): c for c in rt.engine.snapshot(ref).columns}
    shaped = [target[c.name.lower()] for c in incoming if c.name.lower() in target]
    if len(shaped) < len(incoming):
        return data  # a column the table lacks: the engine refuses it, naming it
    cast = [t.name for t, c in zip(shaped, incoming, strict=True) if t.type != c.type]
    if not cast and all(t.name == c.name for t, c in zip(shaped, incoming, strict=True)):
        return data
    return rt.engine.align_frame(data, shaped, cast=cast, table=ref.name)


def merge(
    rt: Runtime,
    entity: str,
    table: str,
    data: Any,
    *,
    keys: Sequence[str] | str | None,
    layer: str,
    mode: MergeMode,
    watermark: str | None,
    batch_id: str | None,
    part: str | None,
    compare: Sequence[str] | str | None,
    override_reason: str | None,
) -> MergeResult:
    """The work of `RunLedger.merge` (documented there)."""
    entity, layer = check_target(entity, layer)
    part = check_optional_text(part, "part")
    reason = check_reason(override_reason)
    ref = rt.table(table)
    check_watermark(entity, watermark)
    cfg = rt.table_config(ref)
    spec = build_spec(check_keys(keys, cfg, ref.name), mode, compare, cfg, ref.name)
    data = prepare_target(rt, ref, data, spec)
    seen: list[BreakerCheck] = []
    check = make_check(
        rt, ref, cfg, entity=entity, layer=layer, mode=mode, override_reason=reason, seen=seen
    )
    committed = False

    def apply(target: TableRef, commit: CommitOptions) -> Applied:
        nonlocal committed
        res = rt.engine.merge(target, data, spec, check=check, commit=commit)
        committed = res.committed
        details: dict[str, Any] = {"mode": mode, "merge": res.counts.model_dump()}
        if seen:
            details["breaker"] = seen[-1].model_dump()
        return Applied(res.version, res.counts.changed, details)

    done = run_attempt(
        rt,
        entity,
        ref,
        layer=layer,
        batch_id=batch_id,
        watermark=watermark,
        part=part,
        apply=apply,
    )
    recorded = done.details or {}
    counts = MergeCounts(**recorded["merge"]) if isinstance(recorded.get("merge"), dict) else None
    return MergeResult(
        **done.common,
        mode=mode,
        version=done.version,
        applied=done.applied,
        committed=committed,
        txn_version=done.txn_version,
        counts=counts,
        breaker=seen[-1] if seen and done.applied else None,
        rows_written=counts.changed if counts is not None else None,
        watermark=done.watermark,
    )


__all__ = ["MAX_REASON", "build_spec", "check_keys", "check_reason", "merge", "prepare_target"]
