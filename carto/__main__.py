"""``python -m carto``: the command-line interface."""

from __future__ import annotations

import sys

from carto.cli import main

sys.exit(main())
