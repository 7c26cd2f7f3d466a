"""Tables as Spark leaves them: writer features delta-rs cannot commit to, and damaged logs.

Real Delta tables, written by delta-rs, then amended the way Spark would: one new commit file
(``<version+1>.json``) carrying a table-features protocol (reader 3 / writer 7) with the given
features and the table's current ``metaData``, as ``ALTER TABLE ... SET TBLPROPERTIES
('delta.feature.identityColumns' = 'supported')`` does. No Spark runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

# Features that are reader-writer features in the Delta protocol (listed on both sides).
READER_WRITER = {
    "columnMapping",
    "deletionVectors",
    "timestampNtz",
    "v2Checkpoint",
    "typeWidening",
    "typeWidening-preview",
    "variantType",
    "variantType-preview",
    "vacuumProtocolCheck",
}


def log_dir(engine: Any, table: Any) -> Path:
    return Path(engine.path(table)) / "_delta_log"


def add_features(
    engine: Any, table: Any, features: list[str], *, readers: tuple[str, ...] = ()
) -> int:
    """Commit a protocol with ``features`` (writer 7) to a local delta-rs table; the new version.

    ``readers``: more features to list as reader features too (e.g. one no reader knows).
    """
    log = log_dir(engine, table)
    version = engine.version(table)
    meta = None
    for v in range(version + 1):  # the latest metaData (no log checkpoint in these tables)
        path = log / f"{v:020d}.json"
        for line in path.read_text().splitlines() if path.exists() else []:
            if line.strip() and "metaData" in json.loads(line):
                meta = json.loads(line)["metaData"]
    assert meta is not None, "the table's metaData was not found in its JSON commits"
    protocol = {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": sorted(f for f in features if f in READER_WRITER or f in readers),
        "writerFeatures": sorted(features),
    }
    info = {
        "timestamp": int(time.time() * 1000),
        "operation": "SET TBLPROPERTIES",
        "operationParameters": {},
        "engineInfo": "Apache-Spark/3.5.5 Delta-Lake/3.2.1 (simulated by the test)",
    }
    body = [{"commitInfo": info}, {"protocol": protocol}, {"metaData": meta}]
    target = log / f"{version + 1:020d}.json"
    target.write_text("".join(json.dumps(a) + "\n" for a in body))
    return version + 1


def truncate_commit(engine: Any, table: Any, version: int, *, keep: float = 0.5) -> Path:
    """Cut a commit file short (``keep`` of its bytes), as an interrupted copy leaves it."""
    path = log_dir(engine, table) / f"{version:020d}.json"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
