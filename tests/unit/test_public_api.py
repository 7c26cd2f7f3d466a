"""The public surface is listed once in ``__init__.__all__`` and every name in it exists."""

from __future__ import annotations

import fmd_runtime


def test_all_names_exist_and_are_documented() -> None:
    for name in fmd_runtime.__all__:
        obj = getattr(fmd_runtime, name)
        if callable(obj):
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
