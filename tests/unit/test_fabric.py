"""fmd_runtime.fabric: local fallbacks, and Fabric behaviour against a stand-in notebookutils.

The stand-in is a real module object placed in ``sys.modules`` with the Fabric API surface the
library uses (``runtime.context``, ``credentials.getSecret``, ``notebook.exit``); the stub-package
test builds a real installed distribution named ``dummy-notebookutils`` on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sys
import types
import uuid
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from fmd_runtime import fabric
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.fabric import _context, _exit, _notebookutils

SECRET = "pa55-W0rd-never-shown"

FULL_CONTEXT = {
    "currentWorkspaceId": "ws-guid",
    "currentWorkspaceName": "Data Platform",
    "currentNotebookName": "nb_load_bronze",
    "currentNotebookId": "nb-guid",
    "defaultLakehouseName": "lh_bronze",
    "isForPipeline": True,
    "activityId": "act-guid",
    "isForInteractive": False,
}


class FakeNotebookUtils(types.ModuleType):
    """The slice of Fabric's notebookutils the library touches, recording every call."""

    def __init__(self, context: dict[str, Any] | None = None, secrets: dict | None = None):
        super().__init__("notebookutils")
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.secrets = dict(secrets or {})
        outer = self

        class Runtime:
            pass

        class Credentials:
            @staticmethod
            def getSecret(vault_url: str, name: str) -> str:  # noqa: N802 (Fabric's name)
                outer.calls.append(("getSecret", (vault_url, name)))
                if name not in outer.secrets:
                    raise RuntimeError(f"SecretNotFound: {name} in {vault_url}")
                return outer.secrets[name]

        class Notebook:
            @staticmethod
            def exit(value: str) -> None:
                outer.calls.append(("exit", (value,)))

        self.runtime = Runtime()
        self.runtime.context = dict(FULL_CONTEXT if context is None else context)
        self.credentials = Credentials()
        self.notebook = Notebook()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch):
    """No notebookutils unless a test installs one; clean env and module state."""
    for name in [k for k in sys.modules if k.split(".")[0] in _notebookutils._MODULE_NAMES]:
        monkeypatch.delitem(sys.modules, name)
    for name in _notebookutils._MODULE_NAMES:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import` fail here
    for var in ("FMD_IGNORE_NOTEBOOKUTILS", "FMD_NOTEBOOK_NAME", "FMD_WORKSPACE_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_notebookutils, "_stub_warned", False)
    monkeypatch.setattr(_notebookutils, "_verdict", None)
    yield
    # Submodules a test imported (the stub package's); monkeypatch then restores the rest.
    for name in [
        k for k in sys.modules if k.split(".")[0] in _notebookutils._MODULE_NAMES and "." in k
    ]:
        del sys.modules[name]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNotebookUtils:
    module = FakeNotebookUtils(secrets={"sql-password": SECRET})
    monkeypatch.setitem(sys.modules, "notebookutils", module)
    return module


# --------------------------------------------------------------------------- detection


def test_local_has_no_notebookutils():
    assert fabric.notebookutils() is None
    assert fabric.is_fabric() is False


def test_fake_notebookutils_is_used(fake: FakeNotebookUtils):
    assert fabric.notebookutils() is fake
    assert fabric.is_fabric() is True


def test_deprecated_mssparkutils_is_the_fallback(monkeypatch: pytest.MonkeyPatch):
    module = FakeNotebookUtils()
    module.__name__ = "mssparkutils"
    monkeypatch.setitem(sys.modules, "mssparkutils", module)
    assert fabric.notebookutils() is module


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_ignore_env_forces_local_mode(fake, monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("FMD_IGNORE_NOTEBOOKUTILS", value)
    assert fabric.notebookutils() is None
    assert fabric.run_context().runtime == "local"
    fabric.notebook_exit("{}")
    assert fake.calls == []


def test_ignore_env_zero_keeps_fabric(fake, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_IGNORE_NOTEBOOKUTILS", "0")
    assert fabric.is_fabric()


def _install_stub_distribution(root: Path, dist_name: str, context: str) -> None:
    """Lay out what ``pip install dummy-notebookutils`` leaves in site-packages."""
    pkg = root / "notebookutils"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from . import runtime, notebook, credentials\n\ndef __getattr__(name):\n    pass\n"
    )
    (pkg / "runtime.py").write_text(f"context = {context}\n")
    (pkg / "notebook.py").write_text("def exit(value):\n    pass\n")
    (pkg / "credentials.py").write_text(
        "def getSecret(akvName, secret, linkedService=''):\n    pass\n"
    )
    info = root / f"{dist_name.replace('-', '_')}-1.6.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.6.3\n")
    (info / "top_level.txt").write_text("notebookutils\n")
    files = ["__init__.py", "runtime.py", "notebook.py", "credentials.py"]
    record = [f"notebookutils/{f},," for f in files] + [f"{info.name}/METADATA,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.mark.parametrize("dist_name", ["dummy-notebookutils", "dummy-notebookutils-reborn"])
def test_dummy_notebookutils_distribution_is_refused_with_one_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    dist_name: str,
):
    # A non-empty context, so only the installed-distribution check can catch it.
    _install_stub_distribution(tmp_path, dist_name, context='{"currentNotebookName": "x"}')
    monkeypatch.syspath_prepend(str(tmp_path))
    del sys.modules["notebookutils"]
    import notebookutils  # noqa: F401  (the stub really imports)

    with caplog.at_level(logging.WARNING, logger="fmd_runtime.fabric"):
        assert fabric.notebookutils() is None
        assert fabric.is_fabric() is False
        assert fabric.run_context().runtime == "local"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "the stub warning is logged once per process"
    assert dist_name in warnings[0].getMessage()
    assert "FMD_IGNORE_NOTEBOOKUTILS" in warnings[0].getMessage()


def test_stub_with_empty_context_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    # e.g. a copy of the stubs vendored without its distribution metadata
    monkeypatch.setitem(sys.modules, "notebookutils", FakeNotebookUtils(context={}))
    with caplog.at_level(logging.WARNING, logger="fmd_runtime.fabric"):
        assert fabric.notebookutils() is None
    assert "runtime.context is empty" in caplog.text


def test_real_distribution_elsewhere_does_not_condemn_other_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The stub distribution is installed, but the module imported is not its file.
    _install_stub_distribution(tmp_path / "site", "dummy-notebookutils", context="{}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    real = FakeNotebookUtils()
    real.__file__ = str(tmp_path / "fabric-runtime" / "notebookutils" / "__init__.py")
    monkeypatch.setitem(sys.modules, "notebookutils", real)
    assert fabric.notebookutils() is real


def test_import_does_not_touch_notebookutils():
    import subprocess

    code = (
        "import sys, fmd_runtime, fmd_runtime.fabric; "
        "assert 'notebookutils' not in sys.modules and 'mssparkutils' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- run context


def test_run_context_local_defaults():
    ctx = fabric.run_context()
    assert ctx == fabric.RunContext()
    assert ctx.runtime == "local" and ctx.is_pipeline_run is False


def test_run_context_local_from_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_NOTEBOOK_NAME", "nb_local")
    monkeypatch.setenv("FMD_WORKSPACE_ID", "ws-local")
    ctx = fabric.run_context()
    assert (ctx.notebook_name, ctx.workspace_id, ctx.runtime) == ("nb_local", "ws-local", "local")


def test_run_context_maps_fabric_keys(fake, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pyspark", types.ModuleType("pyspark"))
    ctx = fabric.run_context()
    assert ctx.model_dump() == {
        "workspace_id": "ws-guid",
        "workspace_name": "Data Platform",
        "notebook_name": "nb_load_bronze",
        "notebook_id": "nb-guid",
        "lakehouse_name": "lh_bronze",
        "is_pipeline_run": True,
        "runtime": "fabric-spark",
        "activity_id": "act-guid",
    }


def test_run_context_tolerates_missing_keys(monkeypatch: pytest.MonkeyPatch):
    context = {"currentNotebookName": "nb", "defaultLakehouseName": "", "isForPipeline": "False"}
    monkeypatch.setitem(sys.modules, "notebookutils", FakeNotebookUtils(context=context))
    monkeypatch.delitem(sys.modules, "pyspark", raising=False)
    ctx = fabric.run_context()
    assert ctx.notebook_name == "nb"
    assert ctx.workspace_id is None and ctx.activity_id is None
    assert ctx.lakehouse_name is None  # empty string means "no default lakehouse"
    assert ctx.is_pipeline_run is False
    assert ctx.runtime == "fabric-python"


def test_run_context_string_flag(monkeypatch: pytest.MonkeyPatch):
    module = FakeNotebookUtils(context={**FULL_CONTEXT, "isForPipeline": "true"})
    monkeypatch.setitem(sys.modules, "notebookutils", module)
    assert fabric.run_context().is_pipeline_run is True


def test_run_context_is_frozen_and_strict():
    ctx = fabric.RunContext(notebook_name="nb")
    with pytest.raises(ValidationError):
        ctx.notebook_name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        fabric.RunContext(unknown="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        fabric.RunContext(runtime="databricks")  # type: ignore[arg-type]


def test_connect_picks_up_fabric_context(fake, tmp_path: Path):
    import fmd_runtime as fmd

    rt = fmd.connect(lakehouse=tmp_path, run_id="r1", ensure=False)
    try:
        assert rt.context.notebook_name == "nb_load_bronze"
        assert rt.context.workspace_id == "ws-guid"
        assert rt.context.is_pipeline_run is True
    finally:
        rt.close()


# --------------------------------------------------------------------------- secrets


def test_secret_env_var_name():
    assert fabric.secret_env_var("sql-password") == "FMD_SECRET_SQL_PASSWORD"
    assert fabric.secret_env_var("a.b c/d") == "FMD_SECRET_A_B_C_D"


def test_secret_from_default_env_var(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", SECRET)
    assert fabric.get_secret("sql-password") == SECRET


def test_secret_from_named_env_var(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MY_DB_PASS", SECRET)
    assert fabric.get_secret("sql-password", env_var="MY_DB_PASS") == SECRET


def test_secret_locally_ignores_vault_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", SECRET)
    got = fabric.get_secret("sql-password", vault_url="https://kv.vault.azure.net/")
    assert got == SECRET


def test_secret_from_notebookutils(fake: FakeNotebookUtils, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", "env-value-must-not-win")
    vault = "https://kv.vault.azure.net/"
    assert fabric.get_secret("sql-password", vault_url=vault) == SECRET
    assert fake.calls == [("getSecret", (vault, "sql-password"))]


def test_secret_in_fabric_without_vault_reads_env(fake, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", SECRET)
    assert fabric.get_secret("sql-password") == SECRET
    assert fake.calls == []


def test_missing_secret_names_it_and_where_but_no_value(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_OTHER", SECRET)  # a value elsewhere must not leak
    with pytest.raises(ConfigError) as info:
        fabric.get_secret("sql-password")
    message = str(info.value)
    assert "sql-password" in message and "FMD_SECRET_SQL_PASSWORD" in message
    assert SECRET not in message and SECRET not in repr(info.value.details)
    assert isinstance(info.value, FmdError)


def test_empty_secret_is_missing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", "")
    with pytest.raises(ConfigError, match="is empty"):
        fabric.get_secret("sql-password")


def test_vault_failure_is_config_error_without_value(fake: FakeNotebookUtils):
    vault = "https://kv.vault.azure.net/"
    with pytest.raises(ConfigError) as info:
        fabric.get_secret("no-such-secret", vault_url=vault)
    assert "no-such-secret" in str(info.value) and vault in str(info.value)
    assert SECRET not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_vault_returning_nothing_is_config_error(fake: FakeNotebookUtils):
    fake.secrets["blank"] = ""
    with pytest.raises(ConfigError, match="returned no value"):
        fabric.get_secret("blank", vault_url="https://kv.vault.azure.net/")


def test_secret_is_never_logged(
    fake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("FMD_SECRET_SQL_PASSWORD", SECRET)
    with caplog.at_level(logging.DEBUG):
        fabric.get_secret("sql-password", vault_url="https://kv.vault.azure.net/")
        fabric.get_secret("sql-password")
        with pytest.raises(ConfigError):
            fabric.get_secret("absent")
    assert caplog.records, "the reads are logged (without values)"
    assert SECRET not in caplog.text


@pytest.mark.parametrize("name", ["", "  ", None])
def test_secret_name_required(name: Any):
    with pytest.raises(ConfigError):
        fabric.get_secret(name)


# --------------------------------------------------------------------------- exit value


class Status(Enum):
    OK = "succeeded"


class Summary(BaseModel):
    status: str
    started_at: dt.datetime
    tables: list[str]


def test_exit_value_of_model_round_trips():
    at = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    text = fabric.exit_value(Summary(status="succeeded", started_at=at, tables=["a", "b"]))
    assert text == '{"started_at":"2025-03-04T05:06:07Z","status":"succeeded","tables":["a","b"]}'
    data = json.loads(text)
    assert dt.datetime.fromisoformat(data["started_at"].replace("Z", "+00:00")) == at


def test_exit_value_of_dict_with_awkward_values():
    at = dt.datetime(2025, 3, 4, 5, 6, 7)
    run = uuid.UUID(int=1)
    text = fabric.exit_value(
        {
            "z": 1,
            "a": {"at": at, "day": at.date(), "took": dt.timedelta(seconds=1.5)},
            "status": Status.OK,
            "ratio": math.nan,
            "inf": math.inf,
            "run": run,
            "set": {3, 1, 2},
            "tuple": (1, "x"),
            "path": Path("/lakehouse/default"),
            "name": "é",
        }
    )
    assert " " not in text and text.isascii()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["a"] == {"at": "2025-03-04T05:06:07", "day": "2025-03-04", "took": 1.5}
    assert data["status"] == "succeeded"
    assert data["ratio"] is None and data["inf"] is None
    assert data["run"] == str(run) and data["set"] == [1, 2, 3] and data["tuple"] == [1, "x"]
    assert data["path"] == "/lakehouse/default" and data["name"] == "é"


def test_exit_value_prefers_to_exit_dict():
    class Result(BaseModel):
        status: str
        rows: list[int]

        def to_exit_dict(self) -> dict[str, Any]:
            return {"status": self.status, "row_count": len(self.rows)}

    text = fabric.exit_value(Result(status="ok", rows=[1, 2, 3]))
    assert json.loads(text) == {"status": "ok", "row_count": 3}


def test_exit_value_rejects_other_types():
    with pytest.raises(TypeError, match="pydantic model"):
        fabric.exit_value(["not", "a", "dict"])
    with pytest.raises(ValueError):
        fabric.exit_value({}, max_chars=10)


def test_exit_value_small_is_not_truncated():
    assert "truncated" not in json.loads(fabric.exit_value({"tables": list(range(10))}))


def test_exit_value_truncates_long_lists():
    payload = {"status": "failed", "tables": [f"bronze.table_{i}" for i in range(5_000)]}
    text = fabric.exit_value(payload)
    assert len(text) <= fabric.EXIT_VALUE_MAX_CHARS
    data = json.loads(text)
    assert data["truncated"] is True
    assert data["status"] == "failed"
    assert data["truncated_lists"] == {"tables": 5_000}
    assert 0 < len(data["tables"]) < 5_000
    assert data["tables"][:2] == ["bronze.table_0", "bronze.table_1"], "first items are kept"


def test_exit_value_truncates_nested_lists_with_paths():
    payload = {"results": [{"table": "a", "errors": ["x" * 50] * 400}], "ok": False}
    data = json.loads(fabric.exit_value(payload, max_chars=2_000))
    assert data["truncated"] is True
    assert "results[0].errors" in data["truncated_lists"]
    assert data["results"][0]["table"] == "a"


def test_exit_value_cuts_long_strings_then_falls_back_to_scalars():
    data = json.loads(fabric.exit_value({"status": "failed", "error": "e" * 5_000}, max_chars=500))
    assert data["truncated"] is True and data["status"] == "failed"
    assert data["error"].endswith("...") and len(data["error"]) <= 256

    wide = {f"key_{i}": "v" * 200 for i in range(100)} | {"status": "failed"}
    text = fabric.exit_value(wide, max_chars=300)
    assert len(text) <= 300
    assert json.loads(text)["truncated"] is True
    assert json.loads(text)["status"] == "failed", "short scalars survive"


@pytest.mark.parametrize("cap", [64, 100, 1_000, 8_000])
def test_exit_value_never_exceeds_cap(cap: int):
    payload = {
        "tables": [{"name": f"t{i}", "cols": list(range(30))} for i in range(300)],
        "message": "m" * 3_000,
        "nested": {"deep": [[1, 2, 3]] * 500},
    }
    text = fabric.exit_value(payload, max_chars=cap)
    assert len(text) <= cap
    assert json.loads(text)["truncated"] is True


# --------------------------------------------------------------------------- notebook exit


def test_notebook_exit_local_prints(capsys: pytest.CaptureFixture[str]):
    value = fabric.exit_value({"status": "succeeded"})
    assert fabric.notebook_exit(value) is None
    assert capsys.readouterr().out == 'FMD_EXIT_VALUE={"status":"succeeded"}\n'


def test_notebook_exit_in_fabric_calls_exit(fake, capsys: pytest.CaptureFixture[str]):
    fabric.notebook_exit('{"status":"succeeded"}')
    assert fake.calls == [("exit", ('{"status":"succeeded"}',))]
    assert capsys.readouterr().out == ""


def test_notebook_exit_requires_text():
    with pytest.raises(TypeError, match="exit_value"):
        fabric.notebook_exit({"status": "succeeded"})  # type: ignore[arg-type]


def test_notebook_exit_docstring_warns_about_try_except():
    doc = fabric.notebook_exit.__doc__ or ""
    assert "TOP LEVEL" in doc and "NEVER INSIDE try/except" in doc


# --------------------------------------------------------------------------- display


class Report:
    def to_text(self) -> str:
        return "3 tables, 0 failed"

    def _repr_html_(self) -> str:
        return "<b>3 tables</b>"


def test_display_local_uses_to_text_then_print(capsys: pytest.CaptureFixture[str]):
    fabric.display(Report())
    fabric.display({"a": 1})
    assert capsys.readouterr().out == "3 tables, 0 failed\n{'a': 1}\n"


class FakeShell:
    def __init__(self, user_ns: dict[str, Any]):
        self.user_ns = user_ns


def test_display_in_kernel_uses_ipython_for_html(monkeypatch: pytest.MonkeyPatch):
    import IPython.display

    shown: list[Any] = []
    monkeypatch.setattr(_exit, "_ipython_shell", lambda: FakeShell({}))
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    report = Report()
    fabric.display(report)
    assert shown == [report]


def test_display_in_fabric_uses_notebook_display(fake, monkeypatch, capsys):
    shown: list[Any] = []
    monkeypatch.setattr(_exit, "_ipython_shell", lambda: FakeShell({"display": shown.append}))
    frame = object()
    fabric.display(frame)
    fabric.display(types.SimpleNamespace(to_text=lambda: "as text"))
    assert shown == [frame]
    assert capsys.readouterr().out == "as text\n"


# --------------------------------------------------------------------------- lakehouse mount


def test_default_lakehouse_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_context, "DEFAULT_LAKEHOUSE_MOUNT", str(tmp_path / "default"))
    assert fabric.default_lakehouse_root() is None
    (tmp_path / "default").mkdir()
    assert fabric.default_lakehouse_root() == str(tmp_path / "default")
