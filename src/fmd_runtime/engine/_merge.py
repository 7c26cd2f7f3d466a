"""What a keyed MERGE is and what it did: the spec, the counts, the preview a check sees, the result.

`DeltaEngine.merge` classifies every incoming row once against the target (new key, changed,
unchanged, soft-deleted coming back, purged) and, for a snapshot, every active target row whose
key is missing; a check above the port sees the counts (`MergePreview`) before anything is
committed and may refuse; then only the changed rows go into one MERGE commit. The classes and
the row-level rules here are shared by both adapters, so a merge counts the same on each.

Example:
    >>> spec = MergeSpec(keys=("Id",), mode="snapshot", compare=("Name",), deleted_flag="IsDeleted")
    >>> MergeCounts(inserted=2, updated=1, deleted=0, reactivated=0, unchanged=7, purged=0,
    ...             active_before=8).changed
    3
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from fmd_runtime.engine._models import CommitOptions
from fmd_runtime.errors import ConfigError, ContractViolation
from fmd_runtime.tables import validate_identifier

_FROZEN = ConfigDict(frozen=True, extra="forbid")

MergeMode = Literal["upsert", "snapshot"]
"""``upsert``: insert new keys, update changed rows, never delete. ``snapshot``: the data is the
whole source, so active target rows whose key is missing are soft-deleted as well."""

ACTION = "__fmd_action"
"""The column an adapter adds to the classified rows: what the MERGE does with each."""

INSERT, UPDATE, DELETE, REACTIVATE, UNCHANGED, PURGED = (
    "insert",
    "update",
    "delete",
    "reactivate",
    "unchanged",
    "purged",
)
ACTIONS: tuple[str, ...] = (INSERT, UPDATE, DELETE, REACTIVATE, UNCHANGED, PURGED)
"""Every action a row can get (the rows of the target a merge leaves alone get none)."""

COUNT_OF: dict[str, str] = {
    INSERT: "inserted",
    UPDATE: "updated",
    DELETE: "deleted",
    REACTIVATE: "reactivated",
    UNCHANGED: "unchanged",
    PURGED: "purged",
}
"""The `MergeCounts` field that counts each action."""

CHANGING: tuple[str, ...] = (INSERT, UPDATE, DELETE, REACTIVATE)
"""The actions that change the table: only rows with one of them reach the MERGE."""

MERGE_METADATA_KEY = "fmd.merge"
"""The commit metadata key under which a merge commit records its `MergeCounts` (JSON), so the
history alone tells what each merge did (the circuit breaker's baseline reads it)."""

SAMPLE_KEYS = 10
"""How many keys an error or a refusal shows (of duplicated, null or to-be-deleted rows)."""


class MergeSpec(BaseModel):
    """How to merge: the key, the mode, the columns compared and the tracking columns.

    Attributes:
        keys: the key columns (a row's identity).
        mode: ``upsert`` or ``snapshot``.
        compare: the columns whose change makes a row "updated" (the others are copied when a
            row changes, never compared); compared null-safely.
        deleted_flag: the boolean soft-delete column (required for ``snapshot``).
        purged_flag: the boolean column of rows purged for good: they are never re-activated
            nor updated.
    """

    model_config = _FROZEN

    keys: tuple[str, ...]
    mode: MergeMode = "upsert"
    compare: tuple[str, ...] = ()
    deleted_flag: str | None = None
    purged_flag: str | None = None

    @field_validator("keys", "compare")
    @classmethod
    def _columns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_identifier(c, what="column") for c in v)

    @field_validator("deleted_flag", "purged_flag")
    @classmethod
    def _flag(cls, v: str | None) -> str | None:
        return None if v is None else validate_identifier(v, what="column")

    @model_validator(mode="after")
    def _consistent(self) -> MergeSpec:
        if not self.keys:
            raise ValueError("a merge needs at least one key column")
        if self.mode == "snapshot" and not self.deleted_flag:
            raise ValueError("a snapshot merge needs a deleted flag column to soft-delete with")
        owned = {c.lower() for c in self.tracking}
        if owned & {k.lower() for k in self.keys}:
            raise ValueError("a tracking column cannot be a key")
        return self

    @property
    def tracking(self) -> tuple[str, ...]:
        """The tracking columns (deleted, purged) the merge owns."""
        return tuple(c for c in (self.deleted_flag, self.purged_flag) if c)


class MergeCounts(BaseModel):
    """What a merge does to the table, row by row (the same on both engines).

    Attributes:
        inserted: new keys, inserted active.
        updated: active rows whose compared columns changed.
        deleted: active rows newly soft-deleted (snapshot: key missing from the data).
        reactivated: soft-deleted rows whose key came back (not purged), active again.
        unchanged: active rows the data matched without a change (not rewritten).
        purged: incoming rows whose target row is purged: left as they are.
        active_before: the target's active rows (neither deleted nor purged) before the merge.
    """

    model_config = _FROZEN

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    reactivated: int = 0
    unchanged: int = 0
    purged: int = 0
    active_before: int = 0

    @property
    def changed(self) -> int:
        """Rows the merge changes: inserted + updated + deleted + reactivated."""
        return self.inserted + self.updated + self.deleted + self.reactivated

    @property
    def active_after(self) -> int:
        """The target's active rows after the merge."""
        return self.active_before + self.inserted + self.reactivated - self.deleted

    @property
    def delete_share(self) -> float:
        """Newly deleted rows as a share of the active rows before (0 for an empty table)."""
        return self.deleted / self.active_before if self.active_before else 0.0

    def to_metadata(self) -> str:
        """The counts as compact JSON, for a commit's user metadata (``fmd.merge``)."""
        return json.dumps(self.model_dump(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_metadata(cls, text: str | None) -> MergeCounts | None:
        """The counts `to_metadata` wrote (None when absent or unreadable).

        Example:
            >>> MergeCounts.from_metadata('{"inserted": 3}').inserted
            3
        """
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(**{k: int(v) for k, v in raw.items() if k in cls.model_fields})
        except (ValueError, TypeError):
            return None

    @classmethod
    def from_actions(cls, counts: Mapping[str, int], active_before: int) -> MergeCounts:
        """The counts of an adapter's per-action tally (actions missing from it count 0)."""
        return cls(
            **{COUNT_OF[a]: int(counts.get(a) or 0) for a in ACTIONS}, active_before=active_before
        )


class MergePreview(BaseModel):
    """What a merge would do, shown to the check before anything is committed.

    Attributes:
        table: ``schema.table``.
        read_version: the target version the rows were classified against.
        counts: the `MergeCounts` the commit would make.
        deleted_sample: up to `SAMPLE_KEYS` keys of rows that would be newly soft-deleted.
    """

    model_config = _FROZEN

    table: str
    read_version: int | None
    counts: MergeCounts
    deleted_sample: tuple[dict[str, Any], ...] = ()


MergeCheck = Callable[[MergePreview], None]
"""Called with the preview before the commit; raising stops the merge with nothing written."""


class MergeWriteResult(BaseModel):
    """What `DeltaEngine.merge` did.

    Attributes:
        table: ``schema.table``.
        committed: False when nothing was committed (no row changes, or the idempotent identity
            had already landed).
        version: the table version after the merge (the new commit when ``committed``).
        read_version: the version the rows were classified against (None: a new table).
        counts: the `MergeCounts` (what was committed; what would have been when not).
        engine_inserted / engine_updated: the commit's own metrics (rows inserted; rows
            updated, soft-deletes and re-activations included), when it reports them.
    """

    model_config = _FROZEN

    table: str
    committed: bool
    version: int
    read_version: int | None
    counts: MergeCounts
    engine_inserted: int | None = None
    engine_updated: int | None = None


def with_counts(commit: CommitOptions | None, counts: MergeCounts) -> CommitOptions:
    """``commit`` with the merge's counts added to its metadata (`MERGE_METADATA_KEY`).

    Example:
        >>> with_counts(None, MergeCounts(inserted=1)).metadata["fmd.merge"][:14]
        '{"active_befor'
    """
    base = commit or CommitOptions()
    metadata = {**base.metadata, MERGE_METADATA_KEY: counts.to_metadata()}
    return base.model_copy(update={"metadata": metadata})


def check_merge_columns(
    table: str, spec: MergeSpec, source: Sequence[str], target: Sequence[str]
) -> tuple[str, ...]:
    """The data columns a merge copies (source order, tracking columns left out), checked.

    Args:
        table: ``schema.table``, for the error context.
        spec: the merge.
        source: the incoming data's column names.
        target: the table's column names.

    Returns:
        The incoming columns the merge writes: every source column but the tracking ones (the
        merge owns those: their incoming values are ignored).

    Raises:
        ContractViolation: a key or compared column missing from the data.
        ConfigError: a data or tracking column the table does not have.

    Example:
        >>> check_merge_columns("s.t", MergeSpec(keys=("Id",)), ["Id", "Name"], ["Id", "Name"])
        ('Id', 'Name')
    """
    have = set(source)
    missing = [c for c in (*spec.keys, *spec.compare) if c not in have]
    if missing:
        raise ContractViolation(
            f"the incoming data has no column(s) {', '.join(missing)} (merge keys / compared)",
            table=table,
            hint="select the key and compared columns into the data, or fix the keys in "
            "rt.configure_table(table, primary_key=...)",
        )
    known = set(target)
    unknown = [c for c in (*source, *spec.tracking) if c not in known]
    if unknown:
        raise ConfigError(
            f"the table has no column(s) {', '.join(unknown)}",
            table=table,
            hint="apply the drift policy first (rt.drift.apply_policy) for new data columns; "
            "add tracking columns with rt.drift / ALTER TABLE, or fix deleted_flag/purged_flag",
        )
    owned = set(spec.tracking)
    return tuple(c for c in source if c not in owned)


def compared_columns(spec: MergeSpec, columns: Sequence[str]) -> tuple[str, ...]:
    """The columns compared: the spec's, else every copied column that is not a key.

    Example:
        >>> compared_columns(MergeSpec(keys=("Id",)), ("Id", "Name", "City"))
        ('Name', 'City')
    """
    if spec.compare:
        return spec.compare
    keys = set(spec.keys)
    return tuple(c for c in columns if c not in keys)


def key_error(
    table: str, keys: Sequence[str], *, nulls: int, duplicates: int, sample: Sequence[Any]
) -> ContractViolation:
    """The error of incoming data whose key has nulls or duplicates (nothing was written).

    Args:
        table: ``schema.table``.
        keys: the key columns.
        nulls: rows with a null in a key column.
        duplicates: keys that occur more than once.
        sample: up to `SAMPLE_KEYS` of the offending keys.

    Example:
        >>> str(key_error("s.t", ["Id"], nulls=0, duplicates=2, sample=[{"Id": 7}]))[:52]
        'In table `s.t`: the merge key (Id) has 2 duplicated '
    """
    what = []
    if duplicates:
        what.append(f"{duplicates} duplicated key value(s)")
    if nulls:
        what.append(f"{nulls} row(s) with a null key")
    shown = ", ".join(json.dumps(s, default=str, sort_keys=True) for s in sample[:SAMPLE_KEYS])
    return ContractViolation(
        f"the merge key ({', '.join(keys)}) has {' and '.join(what)} in the incoming data "
        f"(e.g. {shown}); nothing was written",
        table=table,
        hint="deduplicate the data on the key (keep the latest row per key) and drop rows "
        "without a key before merging, or fix the key in rt.configure_table(table, primary_key=...)",
        details={"keys": list(keys), "nulls": nulls, "duplicates": duplicates},
    )


__all__ = [
    "ACTION",
    "ACTIONS",
    "CHANGING",
    "COUNT_OF",
    "MERGE_METADATA_KEY",
    "MergeCheck",
    "MergeCounts",
    "MergeMode",
    "MergePreview",
    "MergeSpec",
    "MergeWriteResult",
    "SAMPLE_KEYS",
    "check_merge_columns",
    "compared_columns",
    "key_error",
    "with_counts",
]
