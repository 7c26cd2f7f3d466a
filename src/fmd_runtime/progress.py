"""The one progress display of long multi-table jobs (rollback, maintenance, checkpoints...).

`Runtime.map_tables` reports ``"<label> <n> of <total>: <item>"`` lines to a ``progress``
callback; `progress_display` gives the callback every job passes: in a notebook kernel, one
progress bar per label updated in place; in a terminal (the ``fmd`` CLI), one line per step on
standard error, so ``--json`` output on standard output stays clean.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> say = progress_display(stream=out, notebook=False)
    >>> say("Maintaining table 1 of 2: bronze.account")
    >>> out.getvalue()
    'Maintaining table 1 of 2: bronze.account\\n'
"""

from __future__ import annotations

import html
import re
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from fmd_runtime.fabric._exit import _ipython_shell

_STEP = re.compile(r"^(?P<label>.+?) (?P<done>\d+) of (?P<total>\d+)(?::\s*(?P<item>.*))?$")


def progress_display(
    *, stream: IO[str] | None = None, notebook: bool | None = None
) -> Callable[[str], None]:
    """A ``progress`` callback: a progress bar in a notebook, lines on stderr elsewhere.

    Args:
        stream: where lines go outside a notebook (default ``sys.stderr``, read at each line).
        notebook: force (True) or refuse (False) the notebook bar; None decides by whether an
            IPython kernel is running.

    Returns:
        A callable taking one progress line (``"Restoring table 7 of 50: bronze.account"``);
        lines without ``n of total`` are shown as they are. Thread-safe.

    Example:
        >>> # rt.maintenance.run(plan, dry_run=False, progress=progress_display())
    """
    if notebook is None:
        notebook = _ipython_shell() is not None
    if notebook:
        return _NotebookBars()

    def lines(text: str) -> None:
        print(text, file=stream or sys.stderr, flush=True)

    return lines


class _NotebookBars:
    """One HTML progress bar per label, updated in place (IPython display handles)."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        from IPython import display as ipython  # a kernel is running: IPython is there

        html_of: Any = ipython.HTML  # untyped in IPython
        show: Any = ipython.display
        step = _STEP.match(text)
        if step is None:
            print(text, flush=True)
            return
        label, done, total = step["label"], int(step["done"]), int(step["total"])
        body = html_of(
            f"<div><progress value='{done}' max='{max(total, 1)}' style='width:20em'></progress> "
            f"{html.escape(label)} {done} of {total}"
            + (f": {html.escape(step['item'])}" if step["item"] else "")
            + "</div>"
        )
        with self._lock:
            handle = self._handles.get(label)
            if handle is None or done == 1:
                self._handles[label] = show(body, display_id=True)
            else:
                handle.update(body)


__all__ = ["progress_display"]
