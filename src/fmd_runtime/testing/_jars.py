"""Resolve the Delta jars of a local Spark+Delta session: FMD_DELTA_JARS, a cache, or Maven.

The pair of versions comes from what is installed: the ``pyspark`` and ``delta-spark`` Python
packages (pinned exactly by the ``spark`` / ``spark4`` extras of ``pyproject.toml``, the one
place the pairs are written). The Maven artifact follows Delta's naming: ``delta-spark_2.12``
for Delta 3.x (Scala 2.12), ``delta-spark_2.13`` for Delta 4.0, and from Delta 4.1 on the Spark
version in the name (``delta-spark_4.1_2.13``).

Resolution, first match wins:

1. ``FMD_DELTA_JARS``: jar files separated by ``,`` or ``os.pathsep`` (offline machines).
2. The jar cache folder (``FMD_JAR_CACHE``, default ``~/.cache/fmd_runtime/jars``) already holds
   the artifact's runtime classpath from an earlier resolution.
3. The machine's Maven client (``mvn``) copies the artifact and its runtime dependencies
   (Spark's and Scala's own jars excluded: the session already has them) into the cache.

Where none works, `DeltaJarsUnavailableError` says why, with the exact error of the last try.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fmd_runtime.errors import ConfigError

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>fmd_runtime.testing</groupId>
  <artifactId>delta-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.delta</groupId>
      <artifactId>{artifact}</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""
# The Spark distribution already ships these (and a second copy on the classpath conflicts).
_PROVIDED_GROUPS = "org.scala-lang,org.apache.spark,org.slf4j,org.apache.logging.log4j"
_MVN_TIMEOUT_S = 900


class DeltaJarsUnavailableError(ConfigError):
    """The Delta jars for the installed pyspark/delta-spark pair could not be resolved."""


@dataclass(frozen=True)
class DeltaRuntime:
    """One Spark + Delta pair and the Fabric runtime it matches.

    Attributes:
        spark_version: the installed pyspark version (``3.5.5``).
        delta_version: the installed delta-spark version (``3.2.1``).
        scala_version: ``2.12`` or ``2.13``.
        artifact: the Maven artifact id of delta-spark for this pair.
        fabric_runtime: the Fabric runtime it matches (``1.3``, ``2.0``) or ``None``.
    """

    spark_version: str
    delta_version: str
    scala_version: str
    artifact: str
    fabric_runtime: str | None

    @property
    def label(self) -> str:
        """``Spark 3.5.5 / Delta 3.2.1 (Fabric Runtime 1.3)``."""
        fabric = f" (Fabric Runtime {self.fabric_runtime})" if self.fabric_runtime else ""
        return f"Spark {self.spark_version} / Delta {self.delta_version}{fabric}"

    @property
    def coordinate(self) -> str:
        """``io.delta:delta-spark_2.12:3.2.1``."""
        return f"io.delta:{self.artifact}:{self.delta_version}"


def _major_minor(version: str) -> tuple[int, int]:
    found = re.findall(r"\d+", version)
    return (int(found[0]), int(found[1])) if len(found) >= 2 else (0, 0)


def delta_runtime(
    spark_version: str | None = None, delta_version: str | None = None
) -> DeltaRuntime:
    """The Spark + Delta pair installed here (or the one given) and its Maven artifact.

    Args:
        spark_version: override the installed ``pyspark`` version.
        delta_version: override the installed ``delta-spark`` version.

    Returns:
        The `DeltaRuntime`.

    Raises:
        DeltaJarsUnavailableError: pyspark or delta-spark is not installed.

    Example:
        >>> delta_runtime("3.5.5", "3.2.1").artifact
        'delta-spark_2.12'
        >>> delta_runtime("4.1.1", "4.2.0").coordinate
        'io.delta:delta-spark_4.1_2.13:4.2.0'
    """
    try:
        spark = spark_version or importlib.metadata.version("pyspark")
        delta = delta_version or importlib.metadata.version("delta-spark")
    except importlib.metadata.PackageNotFoundError as exc:
        raise DeltaJarsUnavailableError(
            f"{exc.name} is not installed",
            hint="pip install 'fmd_runtime[spark]' (Runtime 1.3) or 'fmd_runtime[spark4]' "
            "(Runtime 2.0) outside Fabric; inside Fabric use the runtime's own session",
        ) from exc
    spark_mm, delta_mm = _major_minor(spark), _major_minor(delta)
    scala = "2.12" if delta_mm[0] < 4 else "2.13"
    if delta_mm >= (4, 1):
        artifact = f"delta-spark_{spark_mm[0]}.{spark_mm[1]}_{scala}"
    else:
        artifact = f"delta-spark_{scala}"
    fabric = {(3, 5): "1.3", (4, 1): "2.0"}.get(spark_mm)
    return DeltaRuntime(spark, delta, scala, artifact, fabric)


def jar_cache_dir() -> Path:
    """The jar cache folder: ``FMD_JAR_CACHE``, else ``~/.cache/fmd_runtime/jars``.

    Example:
        >>> jar_cache_dir().name in {"jars", os.environ.get("FMD_JAR_CACHE", "jars")} or True
        True
    """
    configured = os.environ.get("FMD_JAR_CACHE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache/fmd_runtime/jars"


def jars_from_env() -> list[str]:
    """The jar files named by ``FMD_DELTA_JARS`` (``,`` or ``os.pathsep`` separated).

    Raises:
        DeltaJarsUnavailableError: a named jar does not exist (a typo must not skip a tier).

    Example:
        >>> isinstance(jars_from_env(), list)
        True
    """
    raw = os.environ.get("FMD_DELTA_JARS", "")
    jars = [j.strip() for part in raw.split(",") for j in part.split(os.pathsep) if j.strip()]
    missing = [j for j in jars if not Path(j).is_file()]
    if missing:
        raise DeltaJarsUnavailableError(
            f"FMD_DELTA_JARS names files that do not exist: {', '.join(missing)}",
            hint="fix the paths, or unset FMD_DELTA_JARS to resolve the jars through Maven",
        )
    return jars


_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def _artifact_of(jar: Path) -> str:
    m = _JAR_NAME.match(jar.name)
    return m.group("artifact") if m else jar.stem


def _provided_by_spark(jars: list[Path]) -> list[Path]:
    """The jars whose artifact the installed pyspark distribution already ships."""
    try:
        import pyspark
    except ImportError:
        return []
    spark_jars = Path(pyspark.__file__).parent / "jars"
    provided = {_artifact_of(p) for p in spark_jars.glob("*.jar")}
    return [j for j in jars if _artifact_of(j) in provided and not j.name.startswith("delta-")]


def _cached(folder: Path) -> list[str]:
    marker = folder / ".complete"
    if not marker.is_file():
        return []
    return sorted(str(p) for p in folder.glob("*.jar"))


def resolve_delta_jars(
    runtime: DeltaRuntime | None = None, *, cache: Path | None = None
) -> list[str]:
    """The jar files of delta-spark for ``runtime`` (default: the installed pair).

    Args:
        runtime: the pair to resolve (`delta_runtime` by default).
        cache: the cache folder (default `jar_cache_dir`).

    Returns:
        Absolute paths of the jars to put on ``spark.jars``.

    Raises:
        DeltaJarsUnavailableError: nothing resolves; the message carries Maven's own error.

    Example:
        >>> jars = resolve_delta_jars()  # doctest: +SKIP
        >>> any("delta-spark" in j for j in jars)  # doctest: +SKIP
        True
    """
    from_env = jars_from_env()
    if from_env:
        return from_env
    rt = runtime or delta_runtime()
    folder = (cache or jar_cache_dir()) / f"{rt.artifact}-{rt.delta_version}"
    found = _cached(folder)
    if found:
        return found
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DeltaJarsUnavailableError(
            f"cannot resolve {rt.coordinate}: FMD_DELTA_JARS is not set, the jar cache "
            f"{folder} is empty and no Maven client (mvn) is on PATH",
            hint="install Maven (apt-get install maven) or set FMD_DELTA_JARS to the "
            f"{rt.artifact}-{rt.delta_version}.jar and delta-storage-{rt.delta_version}.jar files",
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".resolve-", dir=folder.parent))
    try:
        (work / "pom.xml").write_text(_POM.format(artifact=rt.artifact, version=rt.delta_version))
        out = work / "jars"
        cmd = [
            mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DexcludeGroupIds={_PROVIDED_GROUPS}",
            f"-DoutputDirectory={out}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DeltaJarsUnavailableError(
                f"Maven did not resolve {rt.coordinate} within {_MVN_TIMEOUT_S} s",
                hint="check that Maven Central is reachable, or set FMD_DELTA_JARS",
            ) from exc
        jars = sorted(out.glob("*.jar")) if out.is_dir() else []
        if done.returncode != 0 or not any(p.name.startswith(rt.artifact) for p in jars):
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:])[:600]
            raise DeltaJarsUnavailableError(
                f"Maven could not resolve {rt.coordinate} (exit {done.returncode}): {tail}",
                hint="check that Maven Central is reachable, or set FMD_DELTA_JARS",
            )
        for duplicate in _provided_by_spark(jars):
            duplicate.unlink()  # Spark's own copy loads first; a second one only confuses
        (out / ".complete").write_text(rt.coordinate + "\n")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(out, folder)  # atomic: a concurrent reader sees all the jars or none
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _cached(folder) or _cached_or_fail(folder, rt)


def _cached_or_fail(folder: Path, rt: DeltaRuntime) -> list[str]:
    raise DeltaJarsUnavailableError(
        f"the jar cache {folder} for {rt.coordinate} is incomplete",
        hint=f"delete {folder} and run again",
    )


__all__ = [
    "DeltaJarsUnavailableError",
    "DeltaRuntime",
    "delta_runtime",
    "jar_cache_dir",
    "jars_from_env",
    "resolve_delta_jars",
]
