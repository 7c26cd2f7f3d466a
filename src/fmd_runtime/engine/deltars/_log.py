"""The ``_delta_log`` as delta-rs' adapter reads and amends it itself, where delta-rs falls short.

- Deletion-vector descriptors: delta-rs' add actions leave them out, so `replay` reads them
  (and the last ``metaData``) from the log: the last classic checkpoint, then the JSON commits.
- Corrupt commits: an empty or cut-short commit file is found and named (`find_corrupt_commit`,
  `empty_commit`) instead of being read as a commit without actions.
- Property changes on table-features tables: `commit_properties_by_hand` writes the one
  ``metaData`` commit delta-rs' own route would get wrong (it rewrites the protocol).

Functions take the log's filesystem and folder explicitly (`log_fs`).

Example:
    >>> commit_file_problem(b'{"commitInfo": {}}\\n') is None
    True
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine import CommitOptions, unsupported_feature_error
from fmd_runtime.engine.deltars._errors import corrupt_log_error
from fmd_runtime.engine.deltars._features import WRITABLE_FEATURES
from fmd_runtime.engine.sqltext import set_properties_statement
from fmd_runtime.errors import ConcurrentWriteError, EngineError
from fmd_runtime.tables import TableRef

_COMMIT_FILE = re.compile(r"^\d{20}\.json$")
_CLASSIC_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.\d{10}\.\d{10})?\.parquet$")


_MAP_FIELDS = frozenset({"configuration", "options"})


def _plain_action(value: Any) -> Any:
    """A checkpoint (parquet) action as JSON: map columns (lists of pairs) become objects."""
    if isinstance(value, dict):
        return {
            k: (
                {str(a): b for a, b in v}
                if k in _MAP_FIELDS and isinstance(v, list)
                else _plain_action(v)
            )
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [_plain_action(v) for v in value]
    return value


def _dv_key(dv: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    if not dv:
        return None
    return (dv.get("storageType"), dv.get("pathOrInlineDv"), dv.get("offset"))


def commit_file_problem(data: bytes) -> str | None:
    """Why a commit file's bytes are not a Delta commit (None when every line is a JSON object).

    Example:
        >>> commit_file_problem(b'{"commitInfo": {}}\\n'), commit_file_problem(b"")
        (None, 'the file is empty')
        >>> commit_file_problem(b'{"add": {"pa')
        'line 1 is cut short or not JSON: Unterminated string starting at'
    """
    if not data.strip():
        return "the file is empty"
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return "the file is not UTF-8 text"
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError as exc:
            return f"line {number} is cut short or not JSON: {str(exc).split(':')[0]}"
        if not isinstance(action, dict):
            return f"line {number} is not a JSON object"
    return None


def log_fs(table_path: str, local: bool) -> tuple[Any, str]:
    """The pyarrow filesystem and folder of a table's ``_delta_log``."""
    import pyarrow.fs as pafs

    log = table_path.rstrip("/") + "/_delta_log"
    if local:
        return pafs.LocalFileSystem(), log
    fs, root = pafs.FileSystem.from_uri(log)
    return fs, root


def find_corrupt_commit(fs: Any, root: str) -> tuple[str, str] | None:
    """The first commit file that is empty or does not parse as JSON lines, and why."""
    import pyarrow.fs as pafs

    try:
        infos = fs.get_file_info(pafs.FileSelector(root))
        for name in sorted(i.base_name for i in infos if _COMMIT_FILE.match(i.base_name)):
            with fs.open_input_stream(f"{root}/{name}") as stream:
                problem = commit_file_problem(stream.read())
            if problem:
                return f"{root}/{name}", problem
    except Exception:  # locating the file is a courtesy: the error is raised without it
        return None
    return None


def replay(
    fs: Any, root: str, table: TableRef, version: int
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """Replay the log up to ``version``: the last ``metaData`` action and the DV descriptors.

    Starts from the last classic checkpoint at or below the version, then reads the JSON
    commits after it (the last ``add`` of a path wins; a ``remove`` drops the (path, DV)
    pair it names, in whatever order a DELETE wrote them).
    """
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    names = [i.base_name for i in fs.get_file_info(pafs.FileSelector(root))]
    parts: dict[int, list[str]] = {}
    for name in names:
        m = _CLASSIC_CHECKPOINT.match(name)
        if m and int(m.group(1)) <= version:
            parts.setdefault(int(m.group(1)), []).append(name)
    start = max(parts, default=-1)
    if start < 0 and f"{0:020d}.json" not in names:
        raise EngineError(
            "cannot replay the Delta log: no classic checkpoint at or below version "
            f"{version} and its first commits were cleaned up",
            table=table.name,
            hint="run this operation from Spark (v2 checkpoints are not read here)",
        )
    meta: dict[str, Any] | None = None
    state: dict[str, dict[str, Any]] = {}
    for name in sorted(parts.get(start, [])):
        found = pq.read_table(f"{root}/{name}", filesystem=fs, use_threads=False)
        cols = set(found.column_names)
        for add in found.column("add").to_pylist() if "add" in cols else []:
            if add and add.get("deletionVector"):
                state[unquote(str(add["path"]))] = add["deletionVector"]
        for md in found.column("metaData").to_pylist() if "metaData" in cols else []:
            if md:
                meta = _plain_action(md)
    for v in range(start + 1, version + 1):
        with fs.open_input_stream(f"{root}/{v:020d}.json") as stream:
            data = stream.read()
        problem = commit_file_problem(data)
        if problem:
            found = (f"{root}/{v:020d}.json", problem)
            raise corrupt_log_error(table, "read the log", problem, found)
        for line in data.decode("utf-8").splitlines():
            action = json.loads(line) if line.strip() else {}
            if "metaData" in action:
                meta = action["metaData"]
            if "add" in action:
                path, dv = (
                    unquote(str(action["add"]["path"])),
                    action["add"].get("deletionVector"),
                )
                if dv:
                    state[path] = dv
                else:
                    state.pop(path, None)
            elif "remove" in action:
                # A DELETE commits remove(path, old DV) and add(path, new DV), in either
                # order: a remove drops only the (path, DV) pair it names.
                path, gone = unquote(str(action["remove"]["path"])), action["remove"]
                if _dv_key(state.get(path)) == _dv_key(gone.get("deletionVector")):
                    state.pop(path, None)
    return meta, state


def commit_properties_by_hand(
    table: TableRef,
    dt: Any,
    properties: Mapping[str, str],
    commit: CommitOptions | None,
    *,
    log: tuple[Any, str],
    local: bool,
    engine_label: str,
    deltalake_version: str,
) -> None:
    """Commit ``properties`` as one ``metaData`` action, the protocol left exactly as it is.

    delta-rs' ``alter.set_table_properties`` on a table-features table (writer version 7)
    rewrites its protocol with features the table never had (``variantType``, ``appendOnly``),
    and Delta 3.2 (Fabric Runtime 1.3) can no longer read it. The commit is written the way
    every Delta writer commits: ``<version+1>.json``, created only if absent (a concurrent
    writer's commit wins and this one is refused as a conflict).

    Args:
        table: the table.
        dt: its delta-rs ``DeltaTable``.
        properties: the properties to set (string values).
        commit: the commit's options (user metadata goes into ``commitInfo``).
        log: the filesystem and folder of the table's ``_delta_log`` (`log_fs`).
        local: whether the table is on a local disk (the only place this commit is written).
        engine_label: the engine as errors name it.
        deltalake_version: the installed deltalake release (recorded as ``clientVersion``).

    Raises:
        UnsupportedFeatureError: the table has writer features delta-rs does not support.
        EngineError: the log cannot be amended here (not local, or no metadata found).
        ConcurrentWriteError: another writer committed the next version first.
    """
    fs, root = log
    blocked = sorted(set(dt.protocol().writer_features or ()) - WRITABLE_FEATURES)
    if blocked:  # delta-rs itself refuses to commit to these tables; so does this path
        statement = set_properties_statement(table, properties)
        raise unsupported_feature_error(
            table.name,
            blocked,
            engine=engine_label,
            operation="set properties",
            hint=f"run it from a Fabric Spark notebook (fmd.connect(spark=spark)), or set the "
            f"properties there: {statement}",
        )
    version = int(dt.version())
    meta, _ = replay(fs, root, table, version)
    if meta is None or not local:
        raise EngineError(
            "set properties refused: this table uses table features, which delta-rs' "
            "property change would rewrite, and its log could not be amended here",
            table=table.name,
            hint="set the properties from Spark (ALTER TABLE ... SET TBLPROPERTIES)",
        )
    meta = {**meta, "configuration": {**(meta.get("configuration") or {}), **properties}}
    info = {
        "timestamp": int(datetime.now(timezone.utc).timestamp() * 1000),
        "operation": "SET TBLPROPERTIES",
        "operationParameters": {"properties": json.dumps(dict(properties), sort_keys=True)},
        "readVersion": version,
        "isBlindAppend": False,
        "clientVersion": f"fmd_runtime (delta-rs {deltalake_version})",
    }
    if commit is not None:  # user metadata at the top level, as delta-rs writes it
        info |= {k: v for k, v in commit.metadata.items() if k not in info}
    body = json.dumps({"commitInfo": info}) + "\n" + json.dumps({"metaData": meta}) + "\n"
    target = f"{root}/{version + 1:020d}.json"
    staged = f"{root}/.{version + 1:020d}.json.{uuid.uuid4().hex}.tmp"
    with open(staged, "w", encoding="utf-8") as fh:
        fh.write(body)
    try:
        os.link(staged, target)  # put-if-absent: fails when another writer took the version
    except FileExistsError as exc:
        raise ConcurrentWriteError(
            f"set properties: version {version + 1} was committed by another writer",
            table=table.name,
            hint="retry the operation; it is safe to re-run",
        ) from exc
    finally:
        os.unlink(staged)


def empty_commit(path: str, version: int) -> str | None:
    """An empty commit file among those a read of ``version`` replays (after its log checkpoint).

    delta-rs reads an empty commit file as a commit without actions: that version's changes
    would silently vanish from every read. Delta writers never write one (commits are put whole).
    """
    log = os.path.join(path, "_delta_log")
    try:
        with os.scandir(log) as entries:
            found = [(e.name, e) for e in entries]
        checkpoints = [int(n[:20]) for n, _ in found if _CLASSIC_CHECKPOINT.match(n)]
        start = max((v for v in checkpoints if v <= version), default=-1)
        for name, entry in sorted(found):
            if _COMMIT_FILE.match(name) and start < int(name[:20]) <= version:
                if entry.stat().st_size == 0:
                    return os.path.join(log, name)
    except OSError:  # the read itself reports what is wrong with the folder
        return None
    return None


def missing_paths(base: str, needed: Sequence[str], *, local: bool) -> list[str]:
    """The files of ``needed`` (relative to the table folder ``base`` unless absolute) that
    are not in storage: a local disk check, or one pyarrow listing call for object stores."""
    if local:
        return [
            p
            for p in needed
            if not os.path.exists(p if os.path.isabs(p) else os.path.join(base, p))
        ]
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(base)
    infos = fs.get_file_info([p if "://" in p else f"{root}/{p}" for p in needed])
    return [p for p, info in zip(needed, infos, strict=True) if info.type == pafs.FileType.NotFound]


__all__ = [
    "commit_file_problem",
    "commit_properties_by_hand",
    "empty_commit",
    "find_corrupt_commit",
    "log_fs",
    "missing_paths",
    "replay",
]
