"""fmd_runtime: the reliability layer of a metadata-driven medallion platform on Microsoft Fabric.

    import fmd_runtime as fmd
    rt = fmd.connect(lakehouse="./lakehouse")     # embedded delta-rs engine
    rt = fmd.connect(spark=spark)                  # Fabric Spark notebooks

The public surface is listed once, in ``__all__``; everything else is reached through the
`Runtime` (``rt.audit``, ``rt.checkpoints``, ``rt.rollback``, ``rt.maintenance`` ...).
"""

from __future__ import annotations

from fmd_runtime.config import RuntimeConfig, TableConfig
from fmd_runtime.engine import Column, CommitOptions, DeltaEngine
from fmd_runtime.errors import (
    ApprovalError,
    CheckpointError,
    ConcurrentWriteError,
    ConfigError,
    ContractViolation,
    CorruptLogError,
    EngineError,
    FmdError,
    InvalidIdentifierError,
    MaintenanceError,
    RetentionError,
    RollbackError,
    SchemaDriftError,
    StoreError,
    TableNotFoundError,
    UnsupportedFeatureError,
    WatermarkError,
)
from fmd_runtime.guards import guard
from fmd_runtime.runtime import RunContext, Runtime, connect
from fmd_runtime.tables import TableRef
from fmd_runtime.watermarks import parse_watermark

__version__ = "0.1.0"

__all__ = [
    "ApprovalError",
    "CheckpointError",
    "Column",
    "CommitOptions",
    "ConcurrentWriteError",
    "ConfigError",
    "ContractViolation",
    "CorruptLogError",
    "DeltaEngine",
    "EngineError",
    "FmdError",
    "InvalidIdentifierError",
    "MaintenanceError",
    "RetentionError",
    "RollbackError",
    "RunContext",
    "Runtime",
    "RuntimeConfig",
    "SchemaDriftError",
    "StoreError",
    "TableConfig",
    "TableNotFoundError",
    "TableRef",
    "UnsupportedFeatureError",
    "WatermarkError",
    "__version__",
    "connect",
    "guard",
    "parse_watermark",
]
