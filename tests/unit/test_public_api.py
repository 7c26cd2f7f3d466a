"""The public surface is listed once in ``__init__.__all__`` and every name in it exists."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import fmd_runtime


def test_all_names_exist_and_are_documented() -> None:
    for name in fmd_runtime.__all__:
        obj = getattr(fmd_runtime, name)
        if callable(obj) and not _is_alias(obj):  # a Literal alias is documented where defined
            assert obj.__doc__, f"{name} has no docstring"


def test_errors_share_one_root_and_carry_context() -> None:
    import inspect

    from fmd_runtime import errors

    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert all(issubclass(c, errors.FmdError) for c in classes)
    exc = errors.RollbackError(
        "restore failed", table="bronze.a", run_id="r1", hint="re-run with the same run id"
    )
    assert (
        str(exc) == "In table `bronze.a`: restore failed. What to do: re-run with the same run id"
    )
    assert exc.run_id == "r1" and not exc.transient and errors.ConcurrentWriteError("x").transient


# -- every public module: its __all__ is what it really exports -----------------------------------
def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(fmd_runtime.__path__, "fmd_runtime."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") for p in parts) or info.name == "fmd_runtime.testing.plugin":
            continue  # private modules; the pytest plugin is loaded by pytest, not imported
        names.append(info.name)
    return sorted(names)


def _is_alias(obj: object) -> bool:
    """A typing alias (``Literal[...]``, ``X | Y``): documented where it is defined, not callable."""
    return type(obj).__module__ in {
        "typing",
        "types",
        "collections.abc",
        "_collections_abc",
    } and not isinstance(obj, type)


def _own_members(module: types.ModuleType) -> set[str]:
    """Public classes and functions defined by the module or by its private submodules."""
    own = set()
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = getattr(obj, "__module__", "")
        if home == module.__name__ or home.startswith(module.__name__ + "._"):
            own.add(name)
    return own


@pytest.mark.parametrize("name", _public_modules())
def test_each_public_module_exports_what_it_defines(name: str) -> None:
    """Like httpx's test: a public class or function defined in a module (or its private parts)
    is in its ``__all__``, and every name in ``__all__`` exists and is documented."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = sorted(_own_members(module) - set(exported))
    assert not missing, f"{name} defines public {missing} but leaves them out of __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which is not there"
        obj = getattr(module, member)
        if callable(obj) and not _is_alias(obj):
            assert obj.__doc__, f"{name}.{member} has no docstring"


def test_the_package_exports_exactly_its_all() -> None:
    """``fmd_runtime.__all__`` lists every public name the package binds (submodules aside)."""
    bound = {
        name
        for name, obj in vars(fmd_runtime).items()
        if not name.startswith("_")
        and not isinstance(obj, types.ModuleType)
        and type(obj).__module__ != "__future__"
    }
    assert sorted(bound | {"__version__"}) == sorted(fmd_runtime.__all__)
