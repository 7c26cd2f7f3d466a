"""The wheel: builds, and its hard requirements never include Spark (Fabric's own runtime)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("pyspark", "delta-spark", "delta_spark", "py4j", "sempy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("fmd_runtime-*.whl")
    return whl


def requires(whl: Path) -> list[str]:
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]


def test_hard_requirements_are_only_pydantic_and_tenacity(wheel: Path) -> None:
    hard = [r for r in requires(wheel) if "extra ==" not in r]
    names = sorted(
        r.split(">")[0].split("<")[0].split("=")[0].split(";")[0].strip().lower() for r in hard
    )
    assert names == ["pydantic", "tenacity"]


def test_spark_appears_only_in_extras(wheel: Path) -> None:
    for req in requires(wheel):
        if any(req.lower().startswith(f) for f in FORBIDDEN):
            assert "extra ==" in req, req


def test_wheel_ships_package_and_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "fmd_runtime/engine/deltars/__init__.py" in names and "fmd_runtime/py.typed" in names
    assert "fmd = fmd_runtime.cli:main" in entry


def test_import_needs_neither_engine() -> None:
    code = (
        "import sys; import fmd_runtime, fmd_runtime.engine.spark, fmd_runtime.engine.deltars;"
        "bad=[m for m in ('pyspark','deltalake','delta') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
