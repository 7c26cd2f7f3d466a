"""Test your own notebooks the way fmd_runtime tests itself (facade, imported explicitly).

``import fmd_runtime`` never loads this package; ``import fmd_runtime.testing`` needs neither
pyspark nor deltalake until a function that uses them is called.
"""

from fmd_runtime.testing._faults import FaultyEngine, Hook, InjectedFault, ProcessKilled, kill
from fmd_runtime.testing._jars import (
    DeltaJarsUnavailableError,
    DeltaRuntime,
    delta_runtime,
    jar_cache_dir,
    resolve_delta_jars,
)
from fmd_runtime.testing._session import local_spark_session, reset_catalog, session_runtime

__all__ = [
    "DeltaJarsUnavailableError",
    "DeltaRuntime",
    "FaultyEngine",
    "Hook",
    "InjectedFault",
    "ProcessKilled",
    "delta_runtime",
    "jar_cache_dir",
    "kill",
    "local_spark_session",
    "reset_catalog",
    "resolve_delta_jars",
    "session_runtime",
]
