"""fmd_runtime: the reliability layer of a metadata-driven medallion platform on Microsoft Fabric.

    import fmd_runtime as fmd
    rt = fmd.connect(lakehouse="./lakehouse")     # embedded delta-rs engine
    rt = fmd.connect(spark=spark)                  # Fabric Spark notebooks

The public surface is listed once, in ``__all__`` (a test keeps it equal to what the package
binds): `connect` and the `Runtime`, whose typed properties are the capabilities (``rt.audit``,
``rt.alerts``, ``rt.runs``, ``rt.watermarks``, ``rt.drift``, ``rt.checkpoints``, ``rt.rollback``,
``rt.maintenance``, ``rt.health``; ``rt.preflight()`` checks a lakehouse before a job); the capability classes
and the result models they return (for annotations in notebooks and tests); the kinds and modes as ``Literal`` types; the configuration models; and
the `FmdError` hierarchy. Each capability's module (``fmd_runtime.rollback`` ...) exports the
rest of its surface.
"""

from __future__ import annotations

from fmd_runtime.alerts import Alert, Alerts, AlertSeverity
from fmd_runtime.audit import Audit, EntityResult, RunSummary, Severity
from fmd_runtime.checkpoints import (
    Checkpoint,
    Checkpoints,
    CheckpointTable,
    RetentionResult,
    VerifyResult,
)
from fmd_runtime.config import CheckpointKind, DriftPolicy, RuntimeConfig, TableConfig
from fmd_runtime.context import Outcome, RunContext
from fmd_runtime.drift import Drift, DriftDecision, DriftReport
from fmd_runtime.engine import (
    Column,
    CommitOptions,
    DeltaEngine,
    MergeCounts,
    MergeMode,
    SchemaMode,
    WriteMode,
)
from fmd_runtime.errors import (
    ApprovalError,
    CheckpointError,
    CircuitOpenError,
    ConcurrentWriteError,
    ConfigError,
    ContractViolation,
    CorruptLogError,
    DeletionLimitError,
    EngineError,
    FmdError,
    InvalidIdentifierError,
    MaintenanceError,
    PreflightError,
    RetentionError,
    RollbackError,
    SchemaDriftError,
    StoreError,
    TableNotFoundError,
    UnsupportedFeatureError,
    WatermarkError,
)
from fmd_runtime.guards import guard
from fmd_runtime.health import (
    AnomalyRules,
    FindingSeverity,
    ForeignScan,
    Health,
    HealthFinding,
    HealthReport,
    HealthStatus,
    PreflightReport,
)
from fmd_runtime.maintenance import Maintenance, MaintenancePlan, MaintenanceResult
from fmd_runtime.rollback import Rollback, RollbackPlan, RollbackResult, RollbackRun
from fmd_runtime.runs import (
    BreakerCheck,
    CircuitSettings,
    CircuitState,
    MergeResult,
    RunLedger,
    WriteResult,
)
from fmd_runtime.runtime import Runtime, connect
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import ValidationCheck
from fmd_runtime.watermarks import (
    MigrationReport,
    WatermarkKind,
    Watermarks,
    WatermarkState,
    Window,
    parse_watermark,
)

__version__ = "0.1.0"

__all__ = [
    "AnomalyRules",
    "Alert",
    "AlertSeverity",
    "Alerts",
    "ApprovalError",
    "Audit",
    "BreakerCheck",
    "Checkpoint",
    "CheckpointError",
    "CheckpointKind",
    "CheckpointTable",
    "Checkpoints",
    "CircuitOpenError",
    "CircuitSettings",
    "CircuitState",
    "Column",
    "CommitOptions",
    "ConcurrentWriteError",
    "ConfigError",
    "ContractViolation",
    "CorruptLogError",
    "DeletionLimitError",
    "DeltaEngine",
    "Drift",
    "DriftDecision",
    "DriftPolicy",
    "DriftReport",
    "EngineError",
    "EntityResult",
    "FindingSeverity",
    "ForeignScan",
    "FmdError",
    "Health",
    "HealthFinding",
    "HealthReport",
    "HealthStatus",
    "InvalidIdentifierError",
    "Maintenance",
    "MaintenanceError",
    "MaintenancePlan",
    "MaintenanceResult",
    "MergeCounts",
    "MergeMode",
    "MergeResult",
    "MigrationReport",
    "Outcome",
    "PreflightError",
    "PreflightReport",
    "RetentionError",
    "RetentionResult",
    "Rollback",
    "RollbackError",
    "RollbackPlan",
    "RollbackResult",
    "RollbackRun",
    "RunContext",
    "RunLedger",
    "RunSummary",
    "Runtime",
    "RuntimeConfig",
    "SchemaDriftError",
    "SchemaMode",
    "Severity",
    "StoreError",
    "TableConfig",
    "TableNotFoundError",
    "TableRef",
    "UnsupportedFeatureError",
    "ValidationCheck",
    "VerifyResult",
    "WatermarkError",
    "WatermarkKind",
    "WatermarkState",
    "Watermarks",
    "Window",
    "WriteMode",
    "WriteResult",
    "__version__",
    "connect",
    "guard",
    "parse_watermark",
]
