"""The embedded engine: delta-rs (``deltalake``) on a lakehouse folder laid out like OneLake.

Tables live at ``<root>/Tables/<schema>/<table>`` (``/lakehouse/default`` in a Fabric Python
notebook). Reads go through delta-rs' DataFusion `QueryBuilder`, never pyarrow's dataset scanner:
that path refuses deletion-vector tables and can abort the interpreter at exit (DESIGN.md, known
hazards).

Example:
    >>> import tempfile
    >>> from fmd_runtime.engine import Column
    >>> from fmd_runtime.tables import TableRef
    >>> eng = DeltaRsEngine(tempfile.mkdtemp())
    >>> eng.create(TableRef.parse("bronze.t"), [Column(name="id", type="bigint")])
    True
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine import (
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    OptimizeResult,
    Protocol_,
    RestoreResult,
    RowCount,
    SchemaMode,
    SqlSource,
    TableAt,
    TableSnapshot,
    VacuumResult,
    WriteMode,
    arrow_schema,
    arrow_type,
    bind_alias,
    normalize_type,
    unsupported_feature_error,
)
from fmd_runtime.errors import (
    ConcurrentWriteError,
    ConfigError,
    CorruptLogError,
    EngineError,
    FmdError,
    RetentionError,
    TableNotFoundError,
)
from fmd_runtime.tables import TableRef, validate_identifier

# Spark SQL type name -> Delta protocol primitive name.
_DELTA_TYPES = {
    "string": "string",
    "bigint": "long",
    "int": "integer",
    "smallint": "short",
    "tinyint": "byte",
    "boolean": "boolean",
    "double": "double",
    "float": "float",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "binary": "binary",
}
_SPARK_TYPES = {v: k for k, v in _DELTA_TYPES.items()}

# Keys delta-rs puts at the top level of a history record; anything else is user commit metadata.
_COMMIT_INFO_KEYS = {
    "timestamp",
    "operation",
    "operationParameters",
    "operationMetrics",
    "engineInfo",
    "clientVersion",
    "version",
    "readVersion",
    "isBlindAppend",
    "isolationLevel",
    "txnId",
    "userMetadata",
    "inCommitTimestamp",
}

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def sql_literal(value: Any) -> str:
    """Render a parameter value as a DataFusion SQL literal (the adapter's parameter binding).

    Only typed Python values are accepted; strings are single-quoted with quotes doubled.

    Raises:
        ConfigError: a value of an unsupported type, a non-finite float, or a NUL character.

    Example:
        >>> sql_literal("O'Brien"), sql_literal(3), sql_literal([1, 2])
        ("'O''Brien'", '3', '(1, 2)')
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError("a non-finite float cannot be a SQL parameter")
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return f"TIMESTAMP '{aware.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ConfigError("a SQL parameter contains a NUL character")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        if not items:
            raise ConfigError("an empty list cannot be a SQL IN parameter")
        return "(" + ", ".join(sql_literal(v) for v in items) + ")"
    raise ConfigError(f"a SQL parameter of type {type(value).__name__} is not supported")


def _z85_decode(text: str) -> bytes:
    out = bytearray()
    for i in range(0, len(text), 5):
        acc = 0
        for ch in text[i : i + 5]:
            acc = acc * 85 + _Z85.index(ch)
        out += acc.to_bytes(4, "big")
    return bytes(out)


def deletion_vector_file(storage_type: str | None, path_or_inline: str | None) -> str | None:
    """Relative path (or absolute URI) of a deletion-vector file, per the Delta protocol.

    ``u``: a z85-encoded UUID (with an optional folder prefix) -> ``<prefix>/deletion_vector_<uuid>.bin``;
    ``p``: an absolute path; ``i``: inline, no file.

    Example:
        >>> deletion_vector_file("i", "abc") is None
        True
    """
    if storage_type == "u" and path_or_inline:
        prefix, encoded = path_or_inline[:-20], path_or_inline[-20:]
        name = f"deletion_vector_{uuid.UUID(bytes=_z85_decode(encoded))}.bin"
        return f"{prefix}/{name}" if prefix else name
    if storage_type == "p" and path_or_inline:
        return path_or_inline
    return None


MIN_DELTALAKE = (1, 5, 0)
"""The oldest ``deltalake`` release the embedded engine runs on (``pyproject.toml``'s ``local``)."""
YANKED_DELTALAKE = frozenset({(1, 6, 4), (1, 6, 5)})
DV_RESTORE_DELTALAKE = (1, 6, 6)
"""RESTORE of a deletion-vector table is a silent no-op before this release (delta-rs #4613)."""
_FIX = "pip install 'deltalake>=1.6.6,<2' (in a Fabric Python notebook: %pip install, with "
_FIX += "_inlineInstallationEnabled on the pipeline's Notebook activity)"


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.6.6"`` -> ``(1, 6, 6)`` (missing parts are 0; suffixes ignored).

    Example:
        >>> parse_version("1.2.1"), parse_version("0.18")
        ((1, 2, 1), (0, 18, 0))
    """
    parts = [int(x) for x in re.findall(r"\d+", str(text))[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def deltalake_version_problem(version: str) -> str | None:
    """Why the embedded engine refuses this ``deltalake`` release, or None when it runs on it.

    Example:
        >>> deltalake_version_problem("1.6.6") is None
        True
        >>> deltalake_version_problem("1.2.1")
        'deltalake 1.2.1 is older than 1.5.0, the oldest release fmd_runtime runs on'
    """
    found = parse_version(version)
    if found < MIN_DELTALAKE:
        oldest = ".".join(map(str, MIN_DELTALAKE))
        return f"deltalake {version} is older than {oldest}, the oldest release fmd_runtime runs on"
    if found in YANKED_DELTALAKE:
        return f"deltalake {version} was yanked by its maintainers"
    return None


def installed_deltalake() -> str:
    """The installed ``deltalake`` version (``"0"`` when it cannot be read)."""
    try:
        import deltalake

        return str(getattr(deltalake, "__version__", "0"))
    except ImportError:
        return "0"


WRITABLE_FEATURES = frozenset(
    {
        "appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns",
        "columnMapping", "deletionVectors", "timestampNtz", "v2Checkpoint", "variantType",
        "variantType-preview",
    }
)  # fmt: skip
"""The writer features delta-rs (1.6.x) commits to; tables with any other writer feature
(``identityColumns``, ``rowTracking``, ``domainMetadata``, ``clustering``, ``inCommitTimestamp``,
``typeWidening``, ``checkpointProtection``...) are read but never written here
(tests/unit/test_deltars_features.py checks the list against the installed delta-rs)."""

# delta-rs names the features it lacks with its Rust enum names; protocol names differ for these.
_RUST_FEATURE_NAMES = {"ClusteredTable": "clustering", "TimestampWithoutTimezone": "timestampNtz"}
_UNSUPPORTED_WRITE = re.compile(r"Unsupported table features required: \[([^\]]*)\]")
_UNSUPPORTED_READ = re.compile(r"Feature '([^']+)' is not supported")
_CORRUPT_JSON = re.compile(r"(?i)json error|truncated record|eof while parsing")
_NO_METADATA = "No table metadata or protocol found"
_COMMIT_FILE = re.compile(r"^\d{20}\.json$")


def protocol_feature_name(native: str) -> str:
    """A table feature as the Delta protocol names it, from delta-rs' error text.

    Example:
        >>> protocol_feature_name("IdentityColumns"), protocol_feature_name('Unknown("x-preview")')
        ('identityColumns', 'x-preview')
        >>> protocol_feature_name("ClusteredTable"), protocol_feature_name("TypeWideningPreview")
        ('clustering', 'typeWidening-preview')
    """
    name = native.strip()
    unknown = re.fullmatch(r'Unknown\("(.*)"\)', name)
    if unknown:
        return unknown.group(1)
    if name in _RUST_FEATURE_NAMES:
        return _RUST_FEATURE_NAMES[name]
    preview = name.endswith("Preview")
    base = name[: -len("Preview")] if preview else name
    return base[:1].lower() + base[1:] + ("-preview" if preview else "")


def unsupported_features(text: str) -> tuple[str, ...] | None:
    """The features a delta-rs error says it does not support (None: not such an error).

    Example:
        >>> unsupported_features("Unsupported table features required: [RowTracking, DomainMetadata]")
        ('domainMetadata', 'rowTracking')
        >>> unsupported_features("Kernel error: Unsupported: Feature 'futureThing' is not supported")
        ('futureThing',)
        >>> unsupported_features("commit conflict") is None
        True
    """
    found = _UNSUPPORTED_WRITE.search(text)
    if found:
        names = [n for n in found.group(1).split(",") if n.strip()]
        return tuple(sorted({protocol_feature_name(n) for n in names}))
    found = _UNSUPPORTED_READ.search(text)
    return (found.group(1),) if found else None


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


def _utc(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class DeltaRsEngine:
    """`DeltaEngine` adapter over delta-rs.

    Args:
        root: the lakehouse root folder (or object-store URL) holding ``Tables/``.
        storage_options: delta-rs storage options for object stores (never logged).
    """

    name = "deltars"
    supports_keep_versions = True
    vacuum_reads_table_retention = False
    """delta-rs VACUUM honours the retention it is given."""
    writable_features = WRITABLE_FEATURES
    """Writer features this engine commits to (`fmd_runtime.engine.unwritable_features`)."""

    def __init__(
        self, root: str | Path, *, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.deltalake_version = installed_deltalake()
        problem = deltalake_version_problem(self.deltalake_version)
        if problem:
            raise ConfigError(
                f"the embedded engine cannot run here: {problem}",
                hint=_FIX + "; or use a Spark notebook (connect(spark=spark))",
            )
        self.root = str(root)
        self._storage = dict(storage_options) if storage_options else None
        self._local = "://" not in self.root
        # delta-rs has no per-table write lock inside one process; keep our own writers orderly
        # so concurrent appends from threads retry less (delta-rs still resolves real conflicts).
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------
    def location(self, table: TableRef) -> str:
        """The table folder under the lakehouse root (``<root>/Tables/<schema>/<table>``)."""
        return self.path(table)

    def path(self, table: TableRef) -> str:
        """The table's folder (``<root>/Tables/<schema>/<table>``)."""
        return table.path(self.root)

    @property
    def engine_label(self) -> str:
        """The engine as errors name it: ``delta-rs (deltalake 1.6.6)``."""
        return f"delta-rs (deltalake {self.deltalake_version})"

    def _corrupt_log(
        self,
        table: TableRef | None,
        operation: str,
        native: str,
        found: tuple[str, str] | None = None,
    ) -> CorruptLogError:
        """The error of a log that exists but does not parse, naming the file when it is found."""
        found = found or (self._find_corrupt_commit(table) if table is not None else None)
        where = f"the commit file {found[0]} ({found[1]})" if found else f"a commit file ({native})"
        return CorruptLogError(
            f"{operation}: {where} is truncated or corrupt, so no engine can read the versions "
            "that need it; this is not log cleanup, the file is there",
            table=table.name if table else None,
            hint="restore the file from the copy or backup it came from (an interrupted copy, "
            "upload or manual edit cuts files short) and do not write to the table until then; "
            "never delete it (the table would silently lose that commit)",
            details={"file": found[0] if found else None, "operation": operation},
        )

    def _find_corrupt_commit(self, table: TableRef) -> tuple[str, str] | None:
        """The first commit file that is empty or does not parse as JSON lines, and why."""
        import pyarrow.fs as pafs

        try:
            fs, root = self._log_fs(table)
            infos = fs.get_file_info(pafs.FileSelector(root))
            for name in sorted(i.base_name for i in infos if _COMMIT_FILE.match(i.base_name)):
                with fs.open_input_stream(f"{root}/{name}") as stream:
                    problem = commit_file_problem(stream.read())
                if problem:
                    return f"{root}/{name}", problem
        except Exception:  # locating the file is a courtesy: the error is raised without it
            return None
        return None

    def _lock(self, table: TableRef) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(table.name.lower(), threading.Lock())

    @contextlib.contextmanager
    def _translate(self, table: TableRef | None, operation: str) -> Iterator[None]:
        """Translate delta-rs / pyarrow / OS errors into the FmdError tree."""
        from deltalake import exceptions as dlx

        name = table.name if table else None
        try:
            yield
        except FmdError:
            raise
        except dlx.TableNotFoundError as exc:
            raise TableNotFoundError(
                f"{operation}: table not found at {self.path(table) if table else self.root}",
                table=name,
                hint="check the name and the lakehouse root, or create the table first",
            ) from exc
        except dlx.CommitFailedError as exc:
            features = unsupported_features(str(exc))
            if features is not None:  # never a conflict: no retry adds a feature to delta-rs
                raise unsupported_feature_error(
                    name, features, engine=self.engine_label, operation=operation
                ) from exc
            raise ConcurrentWriteError(
                f"{operation}: commit conflicted with another writer ({_first_line(exc)})",
                table=name,
                hint="retry the operation; it is safe to re-run",
            ) from exc
        except (dlx.DeltaError, dlx.DeltaProtocolError, dlx.SchemaMismatchError, OSError) as exc:
            features = unsupported_features(str(exc))
            if features is not None:
                raise unsupported_feature_error(
                    name, features, engine=self.engine_label, operation=operation
                ) from exc
            if _CORRUPT_JSON.search(str(exc)):  # the log is there but does not parse: not cleanup
                raise self._corrupt_log(table, operation, _first_line(exc)) from exc
            found = self._find_corrupt_commit(table) if table and _NO_METADATA in str(exc) else None
            if found:  # an empty first commit reads as a log without a table
                raise self._corrupt_log(table, operation, _first_line(exc), found) from exc
            if "Invalid retention period" in str(exc):  # VACUUM's check, as Spark's: RetentionError
                raise RetentionError(
                    f"{operation}: retention below Delta's safety check: {_first_line(exc)}",
                    table=name,
                    hint="keep retention >= the table's delta.deletedFileRetentionDuration, or "
                    "vacuum with enforce_retention=False",
                ) from exc
            raise EngineError(
                f"{operation} failed: {type(exc).__name__}: {_first_line(exc)}",
                table=name,
                hint="see the chained Delta error; check the table's history and storage access",
            ) from exc
        except Exception as exc:  # pyarrow / arro3 errors have no common base worth naming
            if type(exc).__module__.split(".")[0] in {"pyarrow", "arro3", "deltalake", "_internal"}:
                raise EngineError(
                    f"{operation} failed: {type(exc).__name__}: {_first_line(exc)}",
                    table=name,
                    hint="see the chained error",
                ) from exc
            raise

    def _dt(self, table: TableRef, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        path = self.path(table)
        if self._local and not DeltaTable.is_deltatable(path):
            raise TableNotFoundError(
                f"no Delta table at {path}",
                table=table.name,
                hint="check the name and the lakehouse root, or create the table first",
            )
        with self._translate(table, "open"):
            if version is None:
                dt = DeltaTable(path, storage_options=self._storage)
            else:
                dt = DeltaTable(path, version=version, storage_options=self._storage)
        if self._local:
            empty = _empty_commit(path, int(dt.version()))
            if empty:
                raise self._corrupt_log(table, "open", "", (empty, "the file is empty"))
        return dt

    @staticmethod
    def _commit(commit: CommitOptions | None) -> Any:
        from deltalake import CommitProperties, Transaction

        if commit is None:
            return None
        txns = None
        if commit.app_id is not None and commit.app_version is not None:
            txns = [Transaction(commit.app_id, commit.app_version)]
        return CommitProperties(
            custom_metadata=dict(commit.metadata) or None, app_transactions=txns
        )

    def _add_actions(self, dt: Any) -> list[dict[str, Any]]:
        import pyarrow as pa

        actions: list[dict[str, Any]] = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        return actions

    def _deletion_vectors(self, table: TableRef, dt: Any) -> dict[str, dict[str, Any]]:
        """The deletion-vector descriptor of each current file (``path -> descriptor``).

        delta-rs' add actions leave the descriptor out, so a table Spark wrote with deletion
        vectors would look DV-free (wrong manifests, DV files missing from VACUUM keep-sets).
        The descriptors come from the log itself (`_replay`). Only called for tables whose
        protocol has the ``deletionVectors`` feature.
        """
        return self._replay(table, int(dt.version()))[1]

    def _replay(
        self, table: TableRef, version: int
    ) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """Replay the log up to ``version``: the last ``metaData`` action and the DV descriptors.

        Starts from the last classic checkpoint at or below the version, then reads the JSON
        commits after it (the last ``add`` of a path wins; a ``remove`` drops the (path, DV)
        pair it names, in whatever order a DELETE wrote them).
        """
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        fs, root = self._log_fs(table)
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
                raise self._corrupt_log(table, "read the log", problem, found)
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

    def _log_fs(self, table: TableRef) -> tuple[Any, str]:
        import pyarrow.fs as pafs

        log = self.path(table).rstrip("/") + "/_delta_log"
        if self._local:
            return pafs.LocalFileSystem(), log
        fs, root = pafs.FileSystem.from_uri(log)
        return fs, root

    def _commit_properties_by_hand(
        self,
        table: TableRef,
        dt: Any,
        properties: Mapping[str, str],
        commit: CommitOptions | None = None,
    ) -> None:
        """Commit ``properties`` as one ``metaData`` action, the protocol left exactly as it is.

        delta-rs' ``alter.set_table_properties`` on a table-features table (writer version 7)
        rewrites its protocol with features the table never had (``variantType``, ``appendOnly``),
        and Delta 3.2 (Fabric Runtime 1.3) can no longer read it. The commit is written the way
        every Delta writer commits: ``<version+1>.json``, created only if absent (a concurrent
        writer's commit wins and this one is refused as a conflict).
        """
        blocked = sorted(set(dt.protocol().writer_features or ()) - WRITABLE_FEATURES)
        if blocked:  # delta-rs itself refuses to commit to these tables; so does this path
            from fmd_runtime.engine.spark import set_properties_statement

            statement = set_properties_statement(table, properties)
            raise unsupported_feature_error(
                table.name,
                blocked,
                engine=self.engine_label,
                operation="set properties",
                hint=f"run it from a Fabric Spark notebook (fmd.connect(spark=spark)), or set the "
                f"properties there: {statement}",
            )
        version = int(dt.version())
        meta, _ = self._replay(table, version)
        if meta is None or not self._local:
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
            "clientVersion": f"fmd_runtime (delta-rs {self.deltalake_version})",
        }
        if commit is not None:  # user metadata at the top level, as delta-rs writes it
            info |= {k: v for k, v in commit.metadata.items() if k not in info}
        body = json.dumps({"commitInfo": info}) + "\n" + json.dumps({"metaData": meta}) + "\n"
        _, root = self._log_fs(table)
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

    # -- port ------------------------------------------------------------------------------
    def exists(self, table: TableRef) -> bool:
        """True when a Delta table exists at the table's folder."""
        from deltalake import DeltaTable

        with self._translate(table, "exists"):
            return bool(DeltaTable.is_deltatable(self.path(table), storage_options=self._storage))

    def create(
        self,
        table: TableRef,
        columns: Sequence[Column],
        *,
        properties: Mapping[str, str] | None = None,
        partition_by: Sequence[str] = (),
        comment: str | None = None,
        commit: CommitOptions | None = None,
    ) -> bool:
        """Create the table if missing; True when this call created it."""
        from deltalake import DeltaTable

        if self.exists(table):
            return False
        for col in partition_by:
            validate_identifier(col, what="partition column", table=table.name)
        with self._translate(table, "create"), self._lock(table):
            if self.exists(table):
                return False
            if self._local:
                Path(self.path(table)).mkdir(parents=True, exist_ok=True)
            DeltaTable.create(
                self.path(table),
                arrow_schema(columns),
                mode="ignore",
                partition_by=list(partition_by) or None,
                name=table.table,
                description=comment,
                configuration=dict(properties) if properties else None,
                storage_options=self._storage,
                commit_properties=self._commit(commit),
            )
        return True

    def add_columns(
        self, table: TableRef, columns: Sequence[Column], *, commit: CommitOptions | None = None
    ) -> None:
        """Add nullable columns (delta-rs ``alter.add_columns``)."""
        from deltalake import Field
        from deltalake.schema import PrimitiveType

        fields = [
            Field(c.name, PrimitiveType(_DELTA_TYPES.get(c.type, c.type)), nullable=True)
            for c in columns
        ]
        dt = self._dt(table)
        with self._translate(table, "add columns"), self._lock(table):
            dt.alter.add_columns(fields, commit_properties=self._commit(commit))

    def version(self, table: TableRef) -> int:
        """The current version."""
        dt = self._dt(table)
        return int(dt.version())

    def snapshot(self, table: TableRef, version: int | None = None) -> TableSnapshot:
        """Schema, protocol, partitioning and properties of a version."""
        dt = self._dt(table, version)
        with self._translate(table, "snapshot"):
            columns = []
            for f in dt.schema().fields:
                raw = getattr(f.type, "type", None) or str(f.type)
                type_name = _SPARK_TYPES.get(raw, raw)
                try:
                    type_name = normalize_type(type_name)
                except ConfigError:
                    pass  # complex types are kept as delta-rs spells them
                comment = (f.metadata or {}).get("comment")
                columns.append(
                    Column.model_construct(
                        name=f.name, type=type_name, nullable=f.nullable, comment=comment
                    )
                )
            meta = dt.metadata()
            proto = dt.protocol()
            hist = dt.history(1) if version is None else []
            ts = (
                _utc(hist[0]["timestamp"]) if hist else self._version_timestamp(table, dt.version())
            )
            return TableSnapshot(
                table=table.name,
                version=int(dt.version()),
                timestamp=ts,
                columns=tuple(columns),
                partition_columns=tuple(meta.partition_columns),
                properties={k: v for k, v in (meta.configuration or {}).items() if v is not None},
                protocol=Protocol_(
                    min_reader_version=proto.min_reader_version,
                    min_writer_version=proto.min_writer_version,
                    reader_features=tuple(sorted(proto.reader_features or ())),
                    writer_features=tuple(sorted(proto.writer_features or ())),
                ),
            )

    def _version_timestamp(self, table: TableRef, version: int) -> datetime | None:
        # History is newest first: read only the commits from the latest down to `version`.
        latest = self.version(table)
        for entry in self.history(table, limit=max(1, latest - version + 1)):
            if entry.version == version:
                return entry.timestamp
        return None

    def history(self, table: TableRef, limit: int | None = None) -> list[HistoryEntry]:
        """Commits newest first, with user commit metadata separated out."""
        dt = self._dt(table)
        with self._translate(table, "history"):
            records = dt.history(limit)
        out = []
        for rec in records:
            user = {k: v for k, v in rec.items() if k not in _COMMIT_INFO_KEYS}
            if isinstance(rec.get("userMetadata"), str):
                decoded = _decode(rec["userMetadata"])
                user.update(decoded if isinstance(decoded, dict) else {"userMetadata": decoded})
            out.append(
                HistoryEntry(
                    version=int(rec["version"]),
                    timestamp=_utc(rec.get("timestamp")) or datetime.fromtimestamp(0, timezone.utc),
                    operation=str(rec.get("operation", "")),
                    parameters={
                        k: _decode(v) for k, v in (rec.get("operationParameters") or {}).items()
                    },
                    metrics=dict(rec.get("operationMetrics") or {}),
                    user_metadata=user,
                )
            )
        return out

    def count_rows(self, table: TableRef, version: int | None = None) -> RowCount:
        """Rows from the add actions' ``numRecords`` (less deletion-vector cardinality); scan if absent."""
        dt = self._dt(table, version)
        with self._translate(table, "count rows"):
            actions = self._add_actions(dt)
        total = 0
        for a in actions:
            n = a.get("num_records")
            if n is None:
                return RowCount(total=self._scan_count(table, version), source="scan")
            card = a.get("deletionVector.cardinality")
            total += int(n) - int(card or 0)
        return RowCount(total=total, source="stats")

    def _scan_count(self, table: TableRef, version: int | None) -> int:
        res = self.sql(
            "SELECT count(*) AS n FROM {t}", {"t": TableAt(table=table, version=version)}
        )
        return int(res.column("n")[0].as_py())

    def files(self, table: TableRef, version: int | None = None) -> list[DataFile]:
        """The add actions of the version, with deletion-vector ids and file paths."""
        dt = self._dt(table, version)
        with self._translate(table, "list files"):
            actions = self._add_actions(dt)
            has_dv = "deletionVectors" in (dt.protocol().reader_features or [])
            dvs = self._deletion_vectors(table, dt) if has_dv else {}
        out = []
        for a in actions:
            dv = dvs.get(unquote(str(a["path"]))) or {}
            storage = dv.get("storageType") or a.get("deletionVector.storageType")
            inline = dv.get("pathOrInlineDv") or a.get("deletionVector.pathOrInlineDv")
            offset = dv.get("offset") if dv else a.get("deletionVector.offset")
            dv_id = None
            if storage:
                dv_id = f"{storage}{inline}@{offset}"
            out.append(
                DataFile(
                    path=unquote(str(a["path"])),
                    size_bytes=int(a.get("size_bytes") or 0),
                    num_records=a.get("num_records"),
                    deletion_vector=dv_id,
                    deletion_vector_path=deletion_vector_file(storage, inline),
                )
            )
        return sorted(out, key=lambda f: (f.path, f.deletion_vector or ""))

    def missing_files(self, table: TableRef, version: int | None = None) -> list[str]:
        """Data / deletion-vector files of the version that no longer exist in storage."""
        needed: list[str] = []
        for f in self.files(table, version):
            needed.append(f.path)
            if f.deletion_vector_path:
                needed.append(f.deletion_vector_path)
        base = self.path(table)
        if self._local:
            return [
                p
                for p in needed
                if not os.path.exists(p if os.path.isabs(p) else os.path.join(base, p))
            ]
        import pyarrow.fs as pafs

        fs, root = pafs.FileSystem.from_uri(base)
        infos = fs.get_file_info([p if "://" in p else f"{root}/{p}" for p in needed])
        return [
            p for p, info in zip(needed, infos, strict=True) if info.type == pafs.FileType.NotFound
        ]

    def read(
        self, table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
    ) -> Any:
        """The version's rows as a pyarrow Table (through DataFusion, deletion vectors applied)."""
        cols = ", ".join(self.quote(c) for c in columns) if columns else "*"
        return self.sql(f"SELECT {cols} FROM {{t}}", {"t": TableAt(table=table, version=version)})

    def quote(self, identifier: str) -> str:
        """Double-quoted (DataFusion) after validation."""
        return '"' + validate_identifier(identifier) + '"'

    def sql(
        self,
        query: str,
        sources: Mapping[str, SqlSource],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a read-only DataFusion query; see `DeltaEngine.sql`."""
        import pyarrow as pa
        from deltalake import QueryBuilder

        qb = QueryBuilder()
        names: dict[str, str] = {}
        for alias, src in sources.items():
            bind_alias(alias)
            at = src if isinstance(src, TableAt) else TableAt(table=TableRef.parse(src))
            registered = f"fmd_{alias}_{uuid.uuid4().hex[:8]}"
            qb.register(registered, self._dt(at.table, at.version))
            names[alias] = f'"{registered}"'
        text = query.format(**names)
        if params:

            def bind(m: re.Match[str]) -> str:
                key = m.group(1)
                if key not in params:
                    raise ConfigError(f"SQL parameter :{key} has no value")
                return sql_literal(params[key])

            text = _PARAM.sub(bind, text)
        first = next(iter(sources.values()), None)
        table = (
            first.table
            if isinstance(first, TableAt)
            else (first if isinstance(first, TableRef) else None)
        )
        with self._translate(table, "query"):
            return pa.table(qb.execute(text))

    def write(
        self,
        table: TableRef,
        data: Any,
        *,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        commit: CommitOptions | None = None,
    ) -> int:
        """Append/overwrite Arrow data; a write whose (app_id, app_version) was already applied is skipped."""
        from deltalake import write_deltalake

        with self._translate(table, f"write ({mode})"), self._lock(table):
            if (
                commit
                and commit.app_id is not None
                and commit.app_version is not None
                and self.exists(table)
            ):
                seen = self._dt(table).transaction_version(commit.app_id)
                if seen is not None and seen >= commit.app_version:
                    return self.version(table)  # idempotent: this write already landed
            if self._local:
                Path(self.path(table)).mkdir(parents=True, exist_ok=True)
            write_deltalake(
                self.path(table),
                data,
                mode=mode,
                schema_mode=schema_mode,
                storage_options=self._storage,
                commit_properties=self._commit(commit),
            )
            return self.version(table)

    def update(
        self,
        table: TableRef,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        commit: CommitOptions | None = None,
    ) -> int:
        """Update matching rows through a MERGE whose source carries the values (no SQL literals)."""
        import pyarrow as pa

        if not where or not values:
            raise ConfigError(
                "update needs at least one `where` column and one `set` column", table=table.name
            )
        snap = self.snapshot(table)
        types = {c.name: c.type for c in snap.columns}
        for col in [*where, *values]:
            if col not in types:
                raise ConfigError(f"column {col!r} does not exist", table=table.name)
        value_lists = []
        for col, val in where.items():
            vals = list(val) if isinstance(val, (list, tuple, set, frozenset)) else [val]
            if not vals or any(v is None for v in vals):
                raise ConfigError(
                    f"update filter on {col!r} needs non-null values", table=table.name
                )
            value_lists.append(vals)
        rows = list(itertools.product(*value_lists))
        data = {
            f"w_{c}": pa.array([r[i] for r in rows], arrow_type(types[c]))
            for i, c in enumerate(where)
        }
        for c, v in values.items():
            data[f"s_{c}"] = pa.array([v] * len(rows), arrow_type(types[c]))
        source = pa.table(data)
        predicate = " AND ".join(f't."{c}" = s."w_{c}"' for c in where)
        updates = {f'"{c}"': f's."s_{c}"' for c in values}
        dt = self._dt(table)
        with self._translate(table, "update"), self._lock(table):
            metrics = (
                dt.merge(
                    source,
                    predicate,
                    source_alias="s",
                    target_alias="t",
                    commit_properties=self._commit(commit),
                )
                .when_matched_update(updates)
                .execute()
            )
        return int(metrics.get("num_target_rows_updated", 0))

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        """RESTORE to ``version``, then prove the new version's files equal the target's.

        Raises:
            EngineError: restoring to the current version, or a restore that did not take effect
                (delta-rs has committed no-op restores on deletion-vector tables).
        """
        dt = self._dt(table)
        before = int(dt.version())
        if version == before:
            raise EngineError(
                f"restore: table is already at version {version}",
                table=table.name,
                hint="nothing to restore; treat this table as a no-op",
            )
        if parse_version(self.deltalake_version) < DV_RESTORE_DELTALAKE:
            uses_dv = any(
                "deletionVectors" in self.snapshot(table, v).protocol.reader_features
                for v in (before, version)
            )
            if uses_dv:
                raise EngineError(
                    f"restore refused: deltalake {self.deltalake_version} commits a RESTORE of a "
                    "deletion-vector table that changes nothing (delta-rs #4613)",
                    table=table.name,
                    hint=_FIX + "; or run the rollback from a Spark notebook",
                )
        with self._translate(table, f"restore to version {version}"), self._lock(table):
            metrics = dt.restore(version, commit_properties=self._commit(commit))
        after = self.version(table)
        expected = {(f.path, f.deletion_vector) for f in self.files(table, version)}
        actual = {(f.path, f.deletion_vector) for f in self.files(table, after)}
        if expected != actual:
            raise EngineError(
                f"restore to version {version} committed version {after} but its files differ from the "
                f"target's ({len(expected - actual)} missing, {len(actual - expected)} extra)",
                table=table.name,
                hint="do not trust this table's state; restore it with Spark (RESTORE TABLE) and re-validate",
            )
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=after,
            metrics=dict(metrics),
        )

    def vacuum(
        self,
        table: TableRef,
        *,
        retention_hours: int,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
        enforce_retention: bool = True,
    ) -> VacuumResult:
        """VACUUM (dry run by default); ``keep_versions`` protects the files of those versions."""
        dt = self._dt(table)
        kwargs: dict[str, Any] = {
            "retention_hours": int(retention_hours),
            "enforce_retention_duration": enforce_retention,
            "keep_versions": sorted(set(keep_versions)) or None,
        }
        with self._translate(table, "vacuum"):
            candidates = dt.vacuum(dry_run=True, **kwargs)
            size = self._sizes(table, candidates)
            files = candidates if dry_run else dt.vacuum(dry_run=False, **kwargs)
        return VacuumResult(
            table=table.name,
            dry_run=dry_run,
            retention_hours=int(retention_hours),
            files=tuple(sorted(unquote(f) for f in files)),
            bytes=size,
            keep_versions=tuple(sorted(set(keep_versions))),
        )

    def _sizes(self, table: TableRef, files: Sequence[str]) -> int | None:
        if not self._local:
            return None
        base = self.path(table)
        total = 0
        for f in files:
            p = unquote(f) if os.path.isabs(f) else os.path.join(base, unquote(f))
            with contextlib.suppress(OSError):
                total += os.path.getsize(p)
        return total

    def optimize(
        self,
        table: TableRef,
        *,
        zorder_by: Sequence[str] = (),
        vorder: bool = False,
        commit: CommitOptions | None = None,
    ) -> OptimizeResult:
        """Compaction, or Z-ORDER by the given columns; V-Order does not exist on delta-rs."""
        cols = [validate_identifier(c, what="Z-ORDER column", table=table.name) for c in zorder_by]
        dt = self._dt(table)
        with self._translate(table, "optimize"), self._lock(table):
            if cols:
                metrics = dt.optimize.z_order(cols, commit_properties=self._commit(commit))
            else:
                metrics = dt.optimize.compact(commit_properties=self._commit(commit))
        return OptimizeResult(
            table=table.name,
            files_added=int(metrics.get("numFilesAdded", 0)),
            files_removed=int(metrics.get("numFilesRemoved", 0)),
            zorder_by=tuple(cols),
            vorder=False,
            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
        )

    def properties(self, table: TableRef) -> dict[str, str]:
        """The table configuration (``delta.*`` and user properties)."""
        dt = self._dt(table)
        return {k: v for k, v in (dt.metadata().configuration or {}).items() if v is not None}

    def set_properties(
        self,
        table: TableRef,
        properties: Mapping[str, str],
        *,
        commit: CommitOptions | None = None,
    ) -> None:
        """Set table properties (one metadata commit)."""
        for key in properties:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
                raise ConfigError(f"table property key {key!r} is not valid", table=table.name)
        dt = self._dt(table)
        values = {k: str(v) for k, v in properties.items()}
        with self._translate(table, "set properties"), self._lock(table):
            if int(dt.protocol().min_writer_version) >= 7:
                self._commit_properties_by_hand(table, dt, values, commit)
            else:
                dt.alter.set_table_properties(
                    values, raise_if_not_exists=False, commit_properties=self._commit(commit)
                )

    def create_log_checkpoint(self, table: TableRef, version: int | None = None) -> bool:
        """Write a Delta log checkpoint (parquet) at ``version`` (default: the current one).

        False (nothing written) for a table with writer features delta-rs does not support: a
        log checkpoint is a write to the table's log, and delta-rs does not know what such
        features require of one.
        """
        dt = self._dt(table, version)  # delta-rs checkpoints the version it has loaded
        if set(dt.protocol().writer_features or ()) - WRITABLE_FEATURES:
            return False
        with self._translate(table, "create log checkpoint"):
            dt.create_checkpoint()
        return True

    def transaction_version(self, table: TableRef, app_id: str) -> int | None:
        """The last ``txn`` version recorded for ``app_id``."""
        dt = self._dt(table)
        with self._translate(table, "transaction version"):
            v = dt.transaction_version(app_id)
        return None if v is None else int(v)


def _empty_commit(path: str, version: int) -> str | None:
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


__all__ = ["DeltaRsEngine", "deletion_vector_file", "sql_literal"]
