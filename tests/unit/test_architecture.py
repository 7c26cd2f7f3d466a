"""The package's shape, enforced from the code itself (DESIGN.md "Package layout").

Read by parsing every source file of ``fmd_runtime`` (nothing is imported to find the imports):

- each file stays readable in one sitting: at most `MAX_LINES` lines (exceptions named, with why);
- imports go one way: no cycle among ``fmd_runtime`` modules, counting every import a module
  executes (at module level or inside a function) and the type-only ones (``if TYPE_CHECKING:``)
  except the one back-reference every capability has to the `Runtime` facade it is handed;
- no ``fmd_runtime`` import is hidden inside a function (exceptions named, with why) and no module
  is looked up by name (``importlib``) except the Fabric utilities, which exist only inside Fabric;
- nothing imports the command line (``fmd_runtime.cli``) or the demo, except they themselves;
- only the engine adapters import pyspark / py4j / delta / deltalake (and the testing kit, which
  builds the local Spark session); the adapters do not import each other; the metadata store
  does not import an adapter;
- `Runtime` has no ``__getattr__``: each capability is a typed property.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fmd_runtime
from fmd_runtime.runtime import Runtime

SRC = Path(fmd_runtime.__file__).parent
MAX_LINES = 600

# Files allowed over MAX_LINES, each with the reason it is one file.
LONG_FILES: dict[str, str] = {}  # none: every file fits

# Function-level imports of fmd_runtime modules, each with the reason it cannot be at the top.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("fmd_runtime.testing.plugin", "fmd_runtime.testing._session"): (
        "pytest loads the plugin in every run of an environment that has the wheel: the Spark "
        "session helpers are imported only when a test asks for the session"
    ),
    ("fmd_runtime.testing.plugin", "fmd_runtime"): (
        "the same: a pytest run that uses no fixture of the plugin never imports the library"
    ),
}

# Modules that may import the engines' own libraries.
ENGINE_LIBRARIES = ("pyspark", "py4j", "delta", "deltalake")
ADAPTERS = ("fmd_runtime.engine.spark", "fmd_runtime.engine.deltars")
TESTING_KIT = "fmd_runtime.testing"  # builds the local Spark + Delta session users test with
# Modules allowed to look modules up by name, and why.
IMPORTLIB_USERS = {
    "fmd_runtime.fabric._notebookutils": "notebookutils / mssparkutils exist only inside Fabric",
    "fmd_runtime.testing._jars": "reads the installed pyspark / delta-spark versions",
}
RUNTIME = "fmd_runtime.runtime"


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    executed: set[str] = field(default_factory=set)  # fmd_runtime modules imported when run
    type_only: set[str] = field(default_factory=set)  # under ``if TYPE_CHECKING:``
    lazy: set[str] = field(default_factory=set)  # imported inside a function
    external: set[str] = field(default_factory=set)  # top-level names of other packages
    uses_importlib: bool = False


def _module_name(path: Path) -> str:
    parts = ["fmd_runtime", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (SRC.joinpath(*name.split(".")[1:]) / "__init__.py").is_file()


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(current: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    module = _resolve(current, is_package, node)
    for alias in node.names:
        sub = f"{module}.{alias.name}"
        # ``from pkg import submodule`` imports the submodule; ``from pkg import name`` the package
        yield sub if _is_package(module) and _source_of(sub) is not None else module


def _source_of(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for candidate in (SRC / rel.with_suffix(".py"), SRC / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _scan(path: Path) -> Module:
    text = path.read_text(encoding="utf-8")
    module = Module(_module_name(path), path, len(text.splitlines()))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, *, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(module.name, is_package, child):
                    top = target.split(".")[0]
                    if top == "importlib":
                        module.uses_importlib = True
                    if top != "fmd_runtime":
                        module.external.add(top)
                        continue
                    if target == module.name:
                        continue
                    if type_only:
                        module.type_only.add(target)
                    else:
                        module.executed.add(target)
                        if in_function:
                            module.lazy.add(target)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(
                        ast.Module(body=[stmt], type_ignores=[]),
                        in_function=in_function,
                        type_only=True,
                    )
                for stmt in child.orelse:
                    visit(
                        ast.Module(body=[stmt], type_ignores=[]),
                        in_function=in_function,
                        type_only=type_only,
                    )
            else:
                inner = in_function or isinstance(
                    child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                )
                visit(child, in_function=inner, type_only=type_only)

    visit(ast.parse(text, filename=str(path)), in_function=False, type_only=False)
    return module


MODULES = {m.name: m for m in map(_scan, sorted(SRC.rglob("*.py")))}


def _rel(module: Module) -> str:
    return module.path.relative_to(SRC).as_posix()


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_the_scan_sees_the_package() -> None:
    """The checks below read real modules (a broken scan would pass them all vacuously)."""
    assert {"fmd_runtime", RUNTIME, "fmd_runtime.cli", "fmd_runtime.engine"} <= set(MODULES)
    assert "fmd_runtime.checkpoints" in MODULES[RUNTIME].executed
    assert "fmd_runtime.cli._args" in MODULES["fmd_runtime.cli"].executed
    assert RUNTIME in MODULES["fmd_runtime.checkpoints"].type_only
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(MODULES.values(), key=_rel), ids=_rel)
def test_every_file_is_readable_in_one_sitting(module: Module) -> None:
    if _rel(module) in LONG_FILES:  # a named exception, as long as it is still needed
        assert module.lines > MAX_LINES, f"{_rel(module)} fits now: drop it from LONG_FILES"
        return
    assert module.lines <= MAX_LINES, (
        f"{_rel(module)} has {module.lines} lines (at most {MAX_LINES}): split it by "
        "responsibility, or name it in LONG_FILES with the reason it is one file"
    )


def test_the_long_file_exceptions_name_real_files() -> None:
    assert set(LONG_FILES) <= {_rel(m) for m in MODULES.values()}


def test_imports_go_one_way() -> None:
    edges = {name: m.executed | (m.type_only - {RUNTIME}) for name, m in MODULES.items()}
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_is_hidden_in_a_function() -> None:
    found = {(name, target) for name, m in MODULES.items() for target in m.lazy}
    unexplained = sorted(found - set(LAZY_IMPORTS))
    assert not unexplained, (
        f"function-level imports of fmd_runtime modules: {unexplained}; import at the top "
        "(a cycle it would create is a layering error to fix), or name it in LAZY_IMPORTS with why"
    )
    assert set(LAZY_IMPORTS) <= found, "LAZY_IMPORTS names imports that are gone"


def test_no_module_is_looked_up_by_name() -> None:
    users = {name for name, m in MODULES.items() if m.uses_importlib}
    assert users <= set(IMPORTLIB_USERS), (
        f"importlib used by {sorted(users - set(IMPORTLIB_USERS))}"
    )


def test_nothing_imports_the_command_line_or_the_demo() -> None:
    for name, module in MODULES.items():
        if name.startswith("fmd_runtime.cli") or name == "fmd_runtime.demo":
            continue
        if name == "fmd_runtime.__main__":  # ``python -m fmd_runtime`` is the command line
            assert module.executed <= {"fmd_runtime.cli"}
            continue
        bad = {
            t
            for t in module.executed | module.type_only
            if t.startswith("fmd_runtime.cli") or t == "fmd_runtime.demo"
        }
        assert not bad, f"{name} imports {sorted(bad)}: only cli/ and demo sit above capabilities"


def test_only_the_adapters_import_the_engines() -> None:
    for name, module in MODULES.items():
        if name.startswith(ADAPTERS) or name.startswith(TESTING_KIT):
            continue
        engines = module.external & set(ENGINE_LIBRARIES)
        assert not engines, (
            f"{name} imports {sorted(engines)}: engine knowledge belongs below the port"
        )


def test_only_the_runtime_chooses_an_adapter() -> None:
    """The adapters do not import each other; the store and the capabilities use the port only:
    `connect` (the runtime) picks the adapter, and the testing kit builds one for a session."""
    for name, module in MODULES.items():
        own = next((a for a in ADAPTERS if name == a or name.startswith(a + ".")), None)
        allowed = own is not None or name == RUNTIME or name.startswith(TESTING_KIT)
        hits = {
            t
            for t in module.executed | module.type_only
            for a in ADAPTERS
            if (t == a or t.startswith(a + ".")) and a != own
        }
        assert allowed or not hits, f"{name} imports the adapter(s) {sorted(hits)}: use the port"
        if own is not None:
            assert not hits, f"the adapter {own} imports the other adapter: {sorted(hits)}"


def test_runtime_exposes_each_capability_as_a_typed_property() -> None:
    assert "__getattr__" not in vars(Runtime)
    tree = ast.parse((SRC / "runtime.py").read_text(encoding="utf-8"))
    runtime = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Runtime")
    assert not any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in runtime.body)
    capabilities = {
        "audit": "Audit",
        "alerts": "Alerts",
        "runs": "RunLedger",
        "watermarks": "Watermarks",
        "drift": "Drift",
        "checkpoints": "Checkpoints",
        "rollback": "Rollback",
        "maintenance": "Maintenance",
    }
    for name, cls in capabilities.items():
        prop = vars(Runtime)[name]
        assert isinstance(prop, property), name
        hint = typing.get_type_hints(prop.fget)["return"]
        assert hint.__name__ == cls, (name, hint)
