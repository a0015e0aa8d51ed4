"""The territory hierarchy: each territory's chain of parents, walked one way for every use.

A territory's *chain* is the territory itself, then its parent, its parent's parent… through
``parent_code``. The walk stops at a code that is not a territory, and at a code already seen, so a
cycle in the data never loops. Ancestors at a level (flows, the map), every territory containing a
code (indicators) and every territory under a code (filters) all read these chains.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd


def _parents(territories: pd.DataFrame) -> dict[str, str | None]:
    """Each territory code's parent code (None without one)."""
    return {
        str(code): (None if pd.isna(parent) else str(parent))
        for code, parent in zip(territories["code"], territories["parent_code"], strict=True)
    }


def _chain(code: str, parents: dict[str, str | None]) -> Iterator[str]:
    """``code`` then its ancestors, nearest first; stops at an unknown code or at a cycle."""
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current in parents and current not in seen:
        seen.add(current)
        yield current
        current = parents[current]


def ancestry(territories: pd.DataFrame) -> pd.DataFrame:
    """Pairs (``code``, ``territory``): every territory code with itself and each of its ancestors."""
    parents = _parents(territories)
    pairs = [(code, up) for code in parents for up in _chain(code, parents)]
    return pd.DataFrame(pairs or None, columns=["code", "territory"], dtype="object")


def ancestors_at(territories: pd.DataFrame, level: str) -> pd.Series:
    """For each territory code, the code of its ancestor (or itself) at ``level``.

    Territories with no ancestor at that level map to themselves, so nothing is lost when a
    hierarchy is incomplete.
    """
    parents = _parents(territories)
    levels = dict(zip(territories["code"].astype(str), territories["level"], strict=True))
    found = {code: next((up for up in _chain(code, parents) if levels[up] == level), code) for code in parents}
    return pd.Series(found, name=f"{level}_code", dtype="object")


def descendants(territories: pd.DataFrame, code: str) -> set[str]:
    """``code`` and every territory whose chain of parents goes through it."""
    parents = _parents(territories)
    return {code} | {other for other in parents if code in _chain(other, parents)}
