"""``python -m fmd_runtime.cli``: the ``fmd`` command."""

import sys

from fmd_runtime.cli import main

sys.exit(main())
