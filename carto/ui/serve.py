"""The dashboard's launcher: ``python -m carto.ui.serve [streamlit run options]``.

``streamlit run app.py`` with one thing first: the thread that warms the explorer's caches
(:func:`carto.ui.cache.keep_warm`) starts with the server, not with its first visitor, and warms
them again after every commit. Options are those of ``streamlit run`` (``--server.port 8501``...).
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.web import cli

from carto import store
from carto.ui import cache

APP = Path(__file__).resolve().parents[2] / "app.py"


def main(argv: list[str] | None = None) -> None:
    cache.keep_warm(store.default_db())
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
