"""``python -m fmd_runtime ...``: the ``fmd`` command (same as the console script).

Example:
    >>> # python -m fmd_runtime demo --lakehouse ./.fmd-demo
"""

from __future__ import annotations

import sys

from fmd_runtime.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
