"""The dashboard's launcher: ``python -m carto.ui.serve [streamlit run options]``.

``streamlit run app.py`` with two things first: the C allocator keeps few memory arenas (see
:func:`limit_malloc_arenas`), and the thread that warms the explorer's caches
(:func:`carto.ui.cache.keep_warm`) starts with the server, not with its first visitor, and warms
them again after every commit. Options are those of ``streamlit run`` (``--server.port 8501``...).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

from streamlit.web import cli

from carto import store
from carto.ui import cache

APP = Path(__file__).resolve().parents[2] / "app.py"
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (as ``MALLOC_ARENA_MAX`` would); True when the C library took it.

    Streamlit runs each page run in a thread of its own, and glibc gives threads up to eight arenas
    per core: freed frames stay scattered over them, and the server's memory kept creeping up round
    after round under load (``python -m bench.load --rounds 10``); with two it levels off. An
    explicit ``MALLOC_ARENA_MAX`` in the environment wins; elsewhere than glibc, nothing is done.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError, TypeError):  # no C library found, or one without mallopt (musl)
        return False


def main(argv: list[str] | None = None) -> None:
    limit_malloc_arenas()  # before Streamlit starts its threads
    cache.keep_warm(store.default_db())
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
