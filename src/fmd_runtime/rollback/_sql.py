"""The SQL text of a rollback's reads, written once for both engines (``engine.sql``).

Each builder takes the engine's identifier quoting (``engine.quote``) and column names from
``PipelineConfig``, and returns a query over ``{alias}`` placeholders that the caller binds to a
table at a version (`fmd_runtime.engine.TableAt`); no value ever becomes SQL text. `_validate` runs
`comparison_sql` (pre-state against restored version, key by key) and `orphan_sql` (references
between related tables); `_snapshots` runs `sample_sql`.

Example:
    >>> state_sql(lambda c: f"`{c}`", None, "P")
    "CASE WHEN COALESCE(`P`, FALSE) THEN 'Purged' ELSE 'Active' END"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

STATES = ("Active", "Deleted", "Purged")
"""A row's states, as `state_sql` names them."""


def state_sql(quote: Callable[[str], str], deleted: str | None, purged: str | None) -> str:
    """SQL for a row's state: Purged wins over Deleted, else Active (NULL flags are not set).

    Example:
        >>> state_sql(lambda c: f'"{c}"', "D", None)
        'CASE WHEN COALESCE("D", FALSE) THEN \\'Deleted\\' ELSE \\'Active\\' END'
    """
    parts = []
    if purged:
        parts.append(f"WHEN COALESCE({quote(purged)}, FALSE) THEN 'Purged'")
    if deleted:
        parts.append(f"WHEN COALESCE({quote(deleted)}, FALSE) THEN 'Deleted'")
    return f"CASE {' '.join(parts)} ELSE 'Active' END" if parts else "'Active'"


def comparison_sql(
    quote: Callable[[str], str], keys: Sequence[str], deleted: str | None, purged: str | None
) -> str:
    """ONE FULL OUTER JOIN on the key of ``{pre}`` and ``{post}``: restored, removed, unchanged,
    each state transition, the rows each side contributed (duplicate keys show there) and the
    post rows with a NULL key.

    Example:
        >>> "FULL OUTER JOIN" in comparison_sql(lambda c: f'"{c}"', ["Id"], "D", "P")
        True
    """
    state = state_sql(quote, deleted, purged)
    cols = ", ".join(f"{quote(k)} AS k{i}" for i, k in enumerate(keys))
    on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(keys)))
    nulls = " OR ".join(f"b.k{i} IS NULL" for i in range(len(keys)))
    parts = [
        "COUNT(a.s) AS before_rows",
        "COUNT(b.s) AS after_rows",
        "COUNT(*) FILTER (WHERE a.s IS NULL) AS restored",
        "COUNT(*) FILTER (WHERE b.s IS NULL) AS removed",
        "COUNT(*) FILTER (WHERE a.s = b.s) AS unchanged",
        # a post row with a NULL key never matches, so the join holds it exactly once
        f"COUNT(*) FILTER (WHERE b.s IS NOT NULL AND ({nulls})) AS after_null_keys",
    ]
    for x in STATES:
        for y in STATES:
            if x != y:
                parts.append(
                    f"COUNT(*) FILTER (WHERE a.s = '{x}' AND b.s = '{y}') AS {x.lower()}_{y.lower()}"
                )
    return (
        f"SELECT {', '.join(parts)} FROM "
        f"(SELECT {cols}, {state} AS s FROM {{pre}}) a FULL OUTER JOIN "
        f"(SELECT {cols}, {state} AS s FROM {{post}}) b ON {on}"
    )


def orphan_sql(quote: Callable[[str], str], column: str, parent_column: str) -> str:
    """Rows of ``{child}`` whose non-null ``column`` has no ``parent_column`` in ``{parent}``.

    Example:
        >>> "LEFT JOIN" in orphan_sql(lambda c: f'"{c}"', "AccountId", "AccountId")
        True
    """
    return (
        f"SELECT COUNT(*) AS orphans FROM {{child}} c LEFT JOIN "
        f"(SELECT DISTINCT {quote(parent_column)} AS k FROM {{parent}}) p "
        f"ON c.{quote(column)} = p.k WHERE c.{quote(column)} IS NOT NULL AND p.k IS NULL"
    )


def sample_sql(quote: Callable[[str], str], keys: Sequence[str], limit: int) -> str:
    """The first ``limit`` keys of ``{t}`` in key order (the sample a state snapshot records).

    Example:
        >>> sample_sql(lambda c: f'"{c}"', ["Id"], 100)
        'SELECT "Id" FROM {t} ORDER BY "Id" LIMIT 100'
    """
    cols = ", ".join(quote(k) for k in keys)
    return f"SELECT {cols} FROM {{t}} ORDER BY {cols} LIMIT {limit}"
