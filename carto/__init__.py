"""Territories and social space: a library behind the Streamlit dashboard.

Nothing in this package imports streamlit; every function can be called from tests and the CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"
